"""The ABC character grammar's rules compiled: a row's parser state as a row of integers.

`musiclib.ways.abc_grammar.AbcGrammar` is the grammar, written as a Python parser over a
state of Python objects (`_Row`); the sampler built its masks state by state in Python
(`ml.automaton`'s tables), and with the folk form's shapes nearly every symbol reaches a
state the tables have not met, so grammar-aware sampling ran at a third of plain sampling
(docs/benchmarks.md). This module is the same parser with machine types, so that the
compiled loop (`fastloop.sample_machine`) works out each row's mask itself, by feeding
every symbol to a copy of the row's state, and never calls Python:

- the state is an int64 row (`WIDTH` fields, named below), a shaped row's shape another
  (`SHAPE_WIDTH`, `shape_row`);
- every duration in whole notes is an integer count of 1/`GRID` of a whole note
  (`GRID` = 2^14 * 3^2 * 5 * 7: the lengths (to 1/8 of a unit of 1/32), broken rhythm (1/4),
  tuplets (q/p, p up to 9) and a shape's last note (twelfths of a bar) all land on it);
  a length in units of L is an integer count of 1/`GRID` of a unit;
- the grammar's tries are arrays (`ways.abc_grammar.AbcGrammar.machine`: edges by node,
  the value at a node and the values below it), as are the lengths each unit allows, their
  step and the sums `n` of them can make.

Each function here is the `AbcGrammar` method of the same name, rule for rule; the Python
parser stays the reference: `tests/library/ways/test_abc_machine.py` compares the masks on
thousands of prefixes (corpus tunes in their shapes, sampled pieces, random walks) and the
pieces sampled both ways. Supported: the character grammar with or without the folk form,
the site's options (`usual_lengths`, `abc2midi`); not the token grammar nor the `bars`
vocabulary's markers (those keep the tables).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit

GRID = 2**14 * 9 * 5 * 7  # steps of a whole note (and of a unit of L)

# --- the state's fields ---------------------------------------------------------------------
(PHASE, MODE, TOKLEN, NODE, FIELD, HF, UNIT_D, BAR, COMPOUND, POS, FREE, PICKUP, LOST, BARS,
 BOUNDARY, BAR_LINES, ENDING_BAR, BAR_LINE_START, N_KIND, N_ACC, N_LETTER, N_OCT_LEN,
 N_OCT_BITS, CHORD_BASE, CHORD_NOTES, AFTER_NOTE, LAST_KIND, LAST_WRITTEN, LP_ON, LP_ACC,
 LP_LETTER, LP_OCT_LEN, LP_OCT_BITS, LAST_TUPLET, LAST_B, LAST_DECO, LAST_UPPER,
 BAR_AFTER_UPPER, NEED_NOTE, PRE_LEN, PRE_LAST, PRE_Q, PRE_G, PRE_H, PRE_D, TIE, TIE_ACC,
 TIE_LETTER, TIE_OCT_LEN, TIE_OCT_BITS, BROKEN, BROKEN_WANT, BROKEN_MN, BROKEN_MD,
 TUPLET_LEFT, TUPLET_MN, TUPLET_MD, SLURS, SPACE, LINE_START, LINE_CONTENT, CONT, LINE_LEN,
 NOTES, OPEN_REPEAT, ENDING, EXPECT_SECOND, CLOSED, PART_BARS, ENDING_FROM, TONIC,
 LAST_LETTER, PARTS, TONIC_ALTERED, NEED_ENDING, BODY_FIELDS, FIELD_FIRST, METER_NODE,
 INEXACT, TOK) = range(80)  # fmt: skip
TOK_MAX = 40  # characters of the token being read kept (a chord symbol's text: 25)
WIDTH = TOK + TOK_MAX
# A trial's state (`mask_of`'s scratch) carries, after the state, the last answer of
# `_room_for_note` and the fields it read: the mask's trials ask it again and again of
# states that differ only in fields it does not read.
ROOM_FIELDS = np.array([BAR, LOST, BROKEN, BROKEN_WANT, BROKEN_MN, BROKEN_MD, UNIT_D,
                        TUPLET_LEFT, TUPLET_MN, TUPLET_MD, POS, PART_BARS, PARTS, PICKUP,
                        ENDING, EXPECT_SECOND, N_KIND, N_ACC, N_LETTER, TIE, TIE_ACC,
                        TONIC_ALTERED, TONIC, LAST_LETTER], dtype=np.int64)  # fmt: skip
MEMO_ON, MEMO_RES, MEMO_KEY = WIDTH, WIDTH + 1, WIDTH + 2
TRIAL_WIDTH = MEMO_KEY + len(ROOM_FIELDS)

# phases, modes, kinds (codes of the Python parser's letters)
PH_H, PH_B, PH_E = 0, 1, 2
M_T, M_N, M_B, M_P, M_R, M_A, M_Q, M_C, M_G, M_D, M_K, M_F, M_S, M_X = range(14)
K_NONE, K_N, K_R, K_C = 0, 1, 2, 3
# accidentals: "", ^, ^^, _, __, =
A_NONE, A_SHARP, A_SHARP2, A_FLAT, A_FLAT2, A_NAT = range(6)
TIE_NONE, TIE_ANY, TIE_PITCH = 0, 1, 2
# bar kinds: None, plain, section, open, close, both
B_NONE, B_PLAIN, B_SECTION, B_OPEN, B_CLOSE, B_BOTH = range(6)
NO_NODE, DEAD = -1, -2

# the grammar's parameters (`P`)
# and where each of the tries' and the units' arrays starts in it (`Machine.params` holds
# them all, after the parameters, so that a rule takes one array, not fourteen)
(P_ABC2MIDI, P_FORM, P_MIN_NOTES, P_USUAL, P_PICKUP_FINAL, P_MAX_PARTS, P_PART_MAX, P_PL8,
 P_PL16, P_END_ID, R_LENGTHS, R_BARS, R_M, R_METERS, R_L, R_K, R_CHORDS,
 O_EOFF, O_ECHAR, O_ECHILD, O_TVALUE, O_TVOFF, O_TVALS, O_VA, O_VB, O_USTEP, O_UW, O_UWN,
 O_USUMS, O_FVOFF, O_FVVALS, O_END, D_UW, D_SUMS_N, D_SUMS_W, D_FVOFF, D_FVVALS,
 P_SIZE) = range(38)  # fmt: skip

# a shape's row (`SH`)
(SH_ON, SH_N, SH_FINAL, SH_LAST, SH_BEATS, SH_UNIT) = range(6)
SH_BARS, SH_REP, SH_ENDS, SH_WHOLE = 6, 10, 14, 18
SHAPE_WIDTH = 22


class Machine(NamedTuple):
    """A grammar as these rules read it (`ways.abc_grammar.AbcGrammar.machine`): its
    parameters with its tries and unit tables (`P`), the vocabulary's characters (-1
    for a symbol of more than one) and their classes (1 alphabetic, 2 alphanumeric), and
    START's id. A sampling constraint: `sampler.sample` runs it in the compiled loop."""

    params: np.ndarray
    codes: np.ndarray
    flags: np.ndarray
    start_id: int

    def shape_rows(self, shapes: list[Any] | None, rows: int) -> np.ndarray:
        """Each row's shape (`ways.abc_grammar.FormShape`, None: none) as these rules read
        it, all zeros for none."""
        out = np.zeros((rows, SHAPE_WIDTH), dtype=np.int64)
        for r, shape in enumerate(shapes or []):
            if shape is None or not self.params[P_FORM]:
                continue
            row = out[r]
            n = len(shape.parts)
            row[SH_ON], row[SH_N] = 1, n
            row[SH_FINAL], row[SH_LAST] = int(shape.final), int(shape.last)
            if shape.meter is not None:
                row[SH_BEATS], row[SH_UNIT] = int(shape.meter[0]), int(shape.meter[1])
            for k, (bars, rep) in enumerate(shape.parts):
                row[SH_BARS + k], row[SH_REP + k] = int(bars), int(bool(rep))
                row[SH_ENDS + k] = int(k < len(shape.endings) and bool(shape.endings[k]))
                row[SH_WHOLE + k] = int(k < len(shape.whole) and bool(shape.whole[k]))
        return out


MAX_QUOTE = 24
MAX_CHORD_NOTES = 6
MAX_OCTAVE_MARKS = 1
MAX_GRACE = 4
MAX_DECORATION = 12
MAX_SLURS = 2
MAX_BAR_LINES = 2
MAX_LINE = 150
FINAL_NOTE = GRID // 4

# characters
C_NL, C_SP, C_QUOTE, C_BANG, C_PLUS = 10, 32, 34, 33, 43
C_BAR, C_COLON, C_LBR, C_RBR, C_LBRACE, C_RBRACE = 124, 58, 91, 93, 123, 125
C_LPAR, C_RPAR, C_MINUS, C_LT, C_GT, C_BSL = 40, 41, 45, 60, 62, 92
C_SLASH, C_COMMA, C_APOS, C_DOT, C_CARET, C_UNDER, C_EQ = 47, 44, 39, 46, 94, 95, 61
C_TILDE = 126
C_Z, C_Z_LOW, C_X_LOW = 90, 122, 120
C_M, C_L, C_K, C_H, C_T, C_U_LOW, C_V_LOW = 77, 76, 75, 72, 84, 117, 118
C_AT = 64
DEGREES = np.array([ord(c) for c in "CDEFGAB"], dtype=np.int64)


@njit(cache=True, error_model="numpy", inline="always")
def _letter(c):
    return (65 <= c <= 71) or (97 <= c <= 103)


@njit(cache=True, error_model="numpy", inline="always")
def _upper(c):
    return c - 32 if 97 <= c <= 122 else c


@njit(cache=True, error_model="numpy", inline="always")
def _is_upper(c):
    return 65 <= c <= 90


@njit(cache=True, error_model="numpy", inline="always")
def _digit(c):
    return 48 <= c <= 57


@njit(cache=True, error_model="numpy", inline="always")
def _accidental(c):
    return c == C_CARET or c == C_UNDER or c == C_EQ


@njit(cache=True, error_model="numpy", inline="always")
def _decoration(c):  # ~.HTSOPRuvML
    return (
        c == C_TILDE or c == C_DOT or c == 72 or c == 84 or c == 83 or c == 79 or c == 80
        or c == 82 or c == 117 or c == 118 or c == 77 or c == 76
    )  # fmt: skip


@njit(cache=True, error_model="numpy", inline="always")
def _safe_decoration(c):  # ~.Tuv
    return c == C_TILDE or c == C_DOT or c == 84 or c == 117 or c == 118


@njit(cache=True, error_model="numpy", inline="always")
def _annotation_mark(c):  # ^_<>@
    return c == C_CARET or c == C_UNDER or c == C_LT or c == C_GT or c == C_AT


@njit(cache=True, error_model="numpy", inline="always")
def _annotation_char(c):
    return (65 <= c <= 90) or (97 <= c <= 122) or _digit(c) or c == C_SP or c == C_DOT


@njit(cache=True, error_model="numpy", inline="always")
def _length_char_code(c):
    return _digit(c) or c == C_SLASH


@njit(cache=True, error_model="numpy", inline="always")
def _acc_code(c, n):
    """The accidental of `n` times `c` (^, _ or =)."""
    if c == C_CARET:
        return A_SHARP if n == 1 else A_SHARP2
    if c == C_UNDER:
        return A_FLAT if n == 1 else A_FLAT2
    return A_NAT


@njit(cache=True, error_model="numpy", inline="always")
def _acc_starts(acc, c):
    """Does accidental `acc`'s text start with character `c`?"""
    if c == C_CARET:
        return acc == A_SHARP or acc == A_SHARP2
    if c == C_UNDER:
        return acc == A_FLAT or acc == A_FLAT2
    if c == C_EQ:
        return acc == A_NAT
    return False


@njit(cache=True, error_model="numpy", inline="always")
def _oct_starts(a_len, a_bits, b_len, b_bits):
    """Does octave-mark string a start with b (bit i: the i-th mark is ')?"""
    if b_len > a_len:
        return False
    n = min(b_len, 60)
    mask = (1 << n) - 1
    return (a_bits & mask) == (b_bits & mask)


# Each table read straight from P by its offset: a view per table (a slice, a reshape)
# cost about 50 ns each time a rule took them (the units' three reshapes 144 ns a rule, and
# `_fits` asks them per value it tries), more than the rule itself.
@njit(cache=True, error_model="numpy", inline="always")
def _e_off(P, node):  # a trie node's first edge (its last: the next node's first)
    return P[P[O_EOFF] + node]


@njit(cache=True, error_model="numpy", inline="always")
def _e_char(P, e):  # an edge's character
    return P[P[O_ECHAR] + e]


@njit(cache=True, error_model="numpy", inline="always")
def _e_child(P, e):  # the node an edge leads to
    return P[P[O_ECHILD] + e]


@njit(cache=True, error_model="numpy", inline="always")
def _t_value(P, node):  # the value at a node (-1: none)
    return P[P[O_TVALUE] + node]


@njit(cache=True, error_model="numpy", inline="always")
def _t_voff(P, node):  # where the values below a node start (in `_t_vals`)
    return P[P[O_TVOFF] + node]


@njit(cache=True, error_model="numpy", inline="always")
def _t_vals(P, i):
    return P[P[O_TVALS] + i]


@njit(cache=True, error_model="numpy", inline="always")
def _v_a(P, v):  # a value's first field
    return P[P[O_VA] + v]


@njit(cache=True, error_model="numpy", inline="always")
def _v_b(P, v):  # and its second
    return P[P[O_VB] + v]


@njit(cache=True, error_model="numpy", inline="always")
def _u_step(P, k):  # the grid step of unit 1/2^k's lengths
    return P[P[O_USTEP] + k]


@njit(cache=True, error_model="numpy", inline="always")
def _u_w(P, k, i):  # its i-th length (whole notes)
    return P[P[O_UW] + k * P[D_UW] + i]


@njit(cache=True, error_model="numpy", inline="always")
def _u_wn(P, k):  # how many
    return P[P[O_UWN] + k]


@njit(cache=True, error_model="numpy", inline="always")
def _u_sums(P, k, n, total):  # can n of its lengths sum to `total` steps?
    return P[P[O_USUMS] + (k * P[D_SUMS_N] + n) * P[D_SUMS_W] + total]


@njit(cache=True, error_model="numpy", inline="always")
def _fv_off(P, k, at):  # `_fits`'s short lists: where trie node `at`'s starts
    return P[P[O_FVOFF] + k * P[D_FVOFF] + at]


@njit(cache=True, error_model="numpy", inline="always")
def _fv_vals(P, k, i):
    return P[P[O_FVVALS] + k * P[D_FVVALS] + i]


# --- the tries ------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def _child(P, node, c):
    if node < 0:
        return DEAD
    for e in range(_e_off(P, node), _e_off(P, node + 1)):
        if _e_char(P, e) == c:
            return _e_child(P, e)
    return DEAD


# --- the row's form -------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def _n_parts(S, SH, P):
    return SH[SH_N] if SH[SH_ON] else P[P_MAX_PARTS]


@njit(cache=True, error_model="numpy", inline="always")
def _part_max(S, SH, P):
    if not SH[SH_ON]:
        return P[P_PART_MAX]
    return SH[SH_BARS + min(S[PARTS], SH[SH_N] - 1)]


@njit(cache=True, error_model="numpy", inline="always")
def _part_length_ok(S, SH, P, bars):
    if not SH[SH_ON]:
        return (bars == 8 and P[P_PL8]) or (bars == 16 and P[P_PL16])
    return bars == _part_max(S, SH, P)


@njit(cache=True, error_model="numpy", inline="always")
def _repeated(S, SH, part):
    """1 repeats, 0 does not, -1 anything (no shape, or no such part)."""
    if not SH[SH_ON] or part >= SH[SH_N]:
        return -1
    return SH[SH_REP + part]


@njit(cache=True, error_model="numpy", inline="always")
def _endings(S, SH, part):
    return SH[SH_ON] and part < SH[SH_N] and SH[SH_ENDS + part] != 0


@njit(cache=True, error_model="numpy", inline="always")
def _whole(S, SH):
    return SH[SH_ON] and S[PARTS] < SH[SH_N] and SH[SH_WHOLE + S[PARTS]] != 0


# --- durations ------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def _scale(S, x, num, den):
    """x * num / den, exact on the grid (INEXACT marks the state where it is not)."""
    y = x * num
    if y % den:
        S[INEXACT] = 1
    return y // den


@njit(cache=True, error_model="numpy", inline="always")
def _unit_k(S):
    d = S[UNIT_D]
    k = 0
    while d > 1:
        d >>= 1
        k += 1
    return k


@njit(cache=True, error_model="numpy", inline="always")
def _dur(S, written, mn, md):
    """A length in units of L (grid of a unit), times the unit and mn/md: whole notes."""
    return _scale(S, written, mn, S[UNIT_D] * md)


@njit(cache=True, error_model="numpy", inline="always")
def _checking(S):
    return S[BAR] >= 0 and not S[LOST]


@njit(cache=True, error_model="numpy", inline="always")
def _step(S, P):
    return _u_step(P, _unit_k(S))


@njit(cache=True, error_model="numpy", inline="always")
def _fillable(S, P, rest):
    return rest >= 0 and rest % _step(S, P) == 0


@njit(cache=True, error_model="numpy", inline="always")
def _usual_ok(S, P, whole):
    k = _unit_k(S)
    for i in range(_u_wn(P, k)):
        if _u_w(P, k, i) == whole:
            return True
    return False


@njit(cache=True, error_model="numpy", inline="always")
def _closing_limit(S, SH):
    if S[PICKUP] and not _whole(S, SH):
        return S[BAR] - S[PICKUP]
    return S[BAR]


@njit(cache=True, error_model="numpy", inline="always")
def _limit(S, SH, P):
    if P[P_FORM] and S[PART_BARS] == _part_max(S, SH, P) - 1:
        return _closing_limit(S, SH)
    return S[BAR]


@njit(cache=True, error_model="numpy", inline="always")
def _final_bar(S, SH, P, ahead):
    return (
        S[PARTS] == _n_parts(S, SH, P) - 1
        and S[PART_BARS] == _part_max(S, SH, P) - 1 - ahead
        and S[ENDING] != 1
        and not S[EXPECT_SECOND]
        and _checking(S)
    )


@njit(cache=True, error_model="numpy", inline="always")
def _last(S, SH):
    if not SH[SH_ON] or not SH[SH_LAST] or S[BAR] < 0:
        return FINAL_NOTE
    return _scale(S, S[BAR], SH[SH_LAST], 12)


@njit(cache=True, error_model="numpy")
def _least_last(S, SH, P, limit):
    least = min(_last(S, SH), limit)
    if P[P_USUAL]:
        k = _unit_k(S)
        best = -1
        for i in range(_u_wn(P, k)):
            w = _u_w(P, k, i)
            if w <= least and w > best:
                best = w
        if best >= 0:
            least = best
    return least


@njit(cache=True, error_model="numpy")
def _final_fill(S, P, room, least):
    """`AbcGrammar._final_fill`: can written lengths fill `room`, each leaving nothing or at
    least `least`? (By steps of the unit's grid, every length a multiple of it.)"""
    k = _unit_k(S)
    step = _u_step(P, k)
    if room <= 0 or room % step:
        return False
    n = room // step
    ok = np.zeros(n + 1, dtype=np.bool_)  # ok[j]: j steps can be filled so
    for j in range(1, n + 1):
        r = j * step
        for i in range(_u_wn(P, k)):
            w = _u_w(P, k, i)
            if w == r or (w < r and r - w >= least and ok[(r - w) // step]):
                ok[j] = True
                break
    return ok[n]


@njit(cache=True, error_model="numpy")
def _final_room_ok(S, SH, P, room):
    least = _least_last(S, SH, P, _limit(S, SH, P))
    if room == 0 or not SH[SH_ON]:
        return room >= least or room == 0
    return room >= least and _final_fill(S, P, room, least)


@njit(cache=True, error_model="numpy")
def _tied_fits(S, SH, P, limit, pos):
    last = 0 if S[LAST_LETTER] == S[TONIC] else _least_last(S, SH, P, limit)
    return limit - pos >= _step(S, P) + last


@njit(cache=True, error_model="numpy", inline="always")
def _may_close_on(S):
    kind = S[N_KIND]
    if kind == K_N:
        tied_acc = S[TIE_ACC] if S[TIE] == TIE_PITCH else A_NONE
        unaltered = not (S[N_ACC] != A_NONE or tied_acc != A_NONE or S[TONIC_ALTERED])
        return _upper(S[N_LETTER]) == S[TONIC] and unaltered
    if kind == K_R:
        return S[LAST_LETTER] == S[TONIC]
    return kind != K_C


@njit(cache=True, error_model="numpy")
def _completable(S, SH, P, end, notes):
    grid = _step(S, P)
    if not notes:
        return _fillable(S, P, _limit(S, SH, P) - end)
    step = _scale(S, grid, S[TUPLET_MN], S[TUPLET_MD])
    room = _limit(S, SH, P) - end
    k = _unit_k(S)
    for total in range(P[D_SUMS_W]):
        if not _u_sums(P, k, notes, total):
            continue
        if total * step > room:
            return False
        if (room - total * step) % grid == 0:
            return True
    return False


@njit(cache=True, error_model="numpy")
def _fits_value(S, SH, P, written):
    mn, md = 1, 1
    if S[BROKEN]:
        want = S[BROKEN_WANT]
        mn, md = S[BROKEN_MN], S[BROKEN_MD]
        if want >= 0 and written != want:
            return False
    if P[P_USUAL] and not _usual_ok(S, P, _dur(S, written, 1, 1)):
        return False
    if S[TUPLET_LEFT] > 0:
        mn *= S[TUPLET_MN]
        md *= S[TUPLET_MD]
    end = S[POS] + _dur(S, written, mn, md)
    limit = _limit(S, SH, P)
    if end > limit:
        return False
    if P[P_FORM] and _final_bar(S, SH, P, 0):
        if end == limit and not _may_close_on(S):
            return False
        if not _final_room_ok(S, SH, P, limit - end):
            return False
    return _completable(S, SH, P, end, max(S[TUPLET_LEFT] - 1, 0))


@njit(cache=True, error_model="numpy")
def _fits(S, SH, P, node, base):
    """Does some length below trie `node` (times `base`, in grid units of L) fit?"""
    if node < 0:
        return False
    if not _checking(S):
        if not S[BROKEN] or S[BROKEN_WANT] < 0:
            return True
        for i in range(_t_voff(P, node), _t_voff(P, node + 1)):
            if _scale(S, _v_a(P, _t_vals(P, i)), base, GRID) == S[BROKEN_WANT]:
                return True
        return False
    at = node - P[R_LENGTHS]
    if P[P_USUAL] and base == GRID and 0 <= at < P[D_FVOFF] - 1:
        # (a note's own length: only the values the unit writes at a usual length can fit,
        # listed per unit ahead, `_fits_value`'s first refusal made once)
        k = _unit_k(S)
        for i in range(_fv_off(P, k, at), _fv_off(P, k, at + 1)):
            if _fits_value(S, SH, P, _v_a(P, _fv_vals(P, k, i))):
                return True
        return False
    for i in range(_t_voff(P, node), _t_voff(P, node + 1)):
        written = _scale(S, _v_a(P, _t_vals(P, i)), base, GRID)
        if _fits_value(S, SH, P, written):
            return True
    return False


@njit(cache=True, error_model="numpy")
def _room_for_note(S, SH, P):
    """Is there room in the bar for the next note, at some allowed length? (Answered again
    from a trial state's memo where the fields it reads are the last asked's.)"""
    if S.shape[0] < TRIAL_WIDTH:
        return _fits(S, SH, P, P[R_LENGTHS], GRID)
    if S[MEMO_ON]:
        same = True
        for i in range(ROOM_FIELDS.shape[0]):
            if S[MEMO_KEY + i] != S[ROOM_FIELDS[i]]:
                same = False
                break
        if same:
            return S[MEMO_RES] == 1
    ok = _fits(S, SH, P, P[R_LENGTHS], GRID)
    for i in range(ROOM_FIELDS.shape[0]):
        S[MEMO_KEY + i] = S[ROOM_FIELDS[i]]
    S[MEMO_ON], S[MEMO_RES] = 1, 1 if ok else 0
    return ok


@njit(cache=True, error_model="numpy", inline="always")
def _tuplet(p, q, compound):
    """(q, p) of the factor q/p music21 gives a (p tuplet."""
    if q < 0:
        if p == 2 or p == 4 or p == 8:
            q = 3
        elif p == 3 or p == 6:
            q = 2
        else:
            q = 3 if compound else 2
    return q, p


# --- the token being read -------------------------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def _tok_add(S, c):
    n = S[TOKLEN]
    if n < TOK_MAX:
        S[TOK + n] = c
    S[TOKLEN] = n + 1


@njit(cache=True, error_model="numpy", inline="always")
def _tok_first(S):
    return S[TOK] if S[TOKLEN] > 0 else -1


# --- masks ----------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def can_end(S, SH, P):
    return (
        S[PHASE] == PH_B
        and S[MODE] == M_T
        and S[LINE_START]
        and not S[CONT]
        and S[BOUNDARY]
        and S[POS] == 0
        and S[BARS] > 0
        and not S[NEED_NOTE]
        and S[TIE] == TIE_NONE
        and S[TUPLET_LEFT] == 0
        and S[NOTES] >= P[P_MIN_NOTES]
        and not (P[P_ABC2MIDI] and (S[OPEN_REPEAT] or S[ENDING] == 1))
        and (not P[P_FORM] or _form_can_end(S, SH, P))
    )


@njit(cache=True, error_model="numpy", inline="always")
def _form_can_end(S, SH, P):
    return (
        S[PART_BARS] == 0
        and S[FREE]
        and not S[EXPECT_SECOND]
        and S[ENDING] == 0
        and S[TONIC] != 0
        and S[LAST_LETTER] == S[TONIC]
        and (not SH[SH_ON] or S[PARTS] == SH[SH_N])
    )


@njit(cache=True, error_model="numpy")
def mask_of(S, SH, P, VC, VF, scratch, out):
    """The mask of a state (`AbcGrammar._mask`): every one-character symbol fed to a copy
    of it, END where the tune may end, END alone where nothing else may come (False: no
    constraint, the state has ended). `scratch` holds two trial states (2 *
    `TRIAL_WIDTH`). Three shortcuts, each the Python grammar's own
    (`_top_mask`, `_token_mask`): between tokens, a character no rule writes there is
    refused without a trial, and every note letter is judged by the first unless a tie
    names the pitch or the part's last bar is reached; inside a token that a character
    not continuing it would end (a note's length, a bar line, a tuplet spec, a broken
    rhythm sign), the token is ended once and every such character judged after it. And
    two of its rules': between tokens, under abc2midi an invisible rest or a decoration
    abc2midi does not take is refused untried (`_top_token` refuses them in every state),
    and the three accidentals are judged by the first unless a tie names the pitch (their
    rule reads the character only then)."""
    if S[PHASE] == PH_E:
        return False
    any_ok = False
    trial = scratch[:TRIAL_WIDTH]
    after = scratch[TRIAL_WIDTH:]
    trial[MEMO_ON] = 0  # (the memo of another row's shape, or another mask's: forgotten)
    after[MEMO_ON] = 0
    mode = S[MODE]
    in_token = S[PHASE] == PH_B and (mode == M_N or mode == M_B or mode == M_P or mode == M_R)
    ended = False  # the token ended once (`after`), and whether that was allowed
    if in_token:
        after[:WIDTH] = S[:WIDTH]
        after[LINE_LEN] += 1  # (as `feed` counts the character before ending the token)
        ended = _terminate(after, SH, P)
    top = S if not in_token else after
    between = top[PHASE] == PH_B and top[MODE] == M_T
    group = (
        between
        and top[TIE] != TIE_PITCH
        and not (P[P_FORM] and top[PART_BARS] == _part_max(top, SH, P) - 1)
    )
    letters = -1  # the first letter's verdict, once tried
    accs = -1  # the first accidental's (^ _ =), alike unless a tie names the pitch
    # A trial copies the state's fields and its token's characters so far: those after them
    # are left from earlier tokens, and no rule reads them.
    known = TOK + min(S[TOKLEN], TOK_MAX)
    known_after = TOK + min(after[TOKLEN], TOK_MAX) if in_token else known
    for v in range(VC.shape[0]):
        c = VC[v]
        out[v] = False
        if c < 0:
            continue
        cont = in_token and _continuing(S, P, c)
        if cont and mode == M_N and c != C_COMMA and c != C_APOS and _child(P, S[NODE], c) < 0:
            ok = False  # (`_length_char`: no length goes on with it)
        elif cont:
            trial[:known] = S[:known]
            ok = feed(trial, SH, P, c, VF[v])
        elif in_token and not ended:
            ok = False
        elif between and not _top_char(c):
            ok = False  # (`_top_token` refuses it, whatever the state)
        elif between and P[P_ABC2MIDI] and _abc2midi_refuses(c, top):
            ok = False  # (so does its rule, for abc2midi)
        elif group and _letter(c) and letters >= 0:
            ok = letters == 1
        elif between and accs >= 0 and _accidental(c):
            ok = accs == 1
        elif in_token:
            trial[:known_after] = after[:known_after]
            ok = _top(trial, SH, P, c, VF[v])
        elif between:  # (`feed` between tokens: the character counted, then `_top`)
            trial[:known] = S[:known]
            trial[LINE_LEN] += 1
            ok = _top(trial, SH, P, c, VF[v])
        else:
            trial[:known] = S[:known]
            ok = feed(trial, SH, P, c, VF[v])
        if group and _letter(c) and letters < 0 and not cont:
            letters = 1 if ok else 0
        if between and _accidental(c) and top[TIE] != TIE_PITCH and not cont:
            accs = 1 if ok else 0
        if ok:
            out[v] = True
            any_ok = True
    end_id = P[P_END_ID]
    if end_id >= 0 and can_end(S, SH, P):
        out[end_id] = True
        any_ok = True
    if not any_ok and end_id >= 0:
        out[end_id] = True
    if not any_ok and end_id < 0:
        return False
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _abc2midi_refuses(c, S):
    """Does `_top_token` refuse `c` under abc2midi whatever the state? An invisible rest
    (x), and a decoration abc2midi does not take: one of HSOPRML but M or L at a line's
    start (a field)."""
    return c == C_X_LOW or (
        _decoration(c)
        and not _safe_decoration(c)
        and not ((c == C_M or c == C_L) and S[LINE_START])
    )


@njit(cache=True, error_model="numpy", inline="always")
def _top_char(c):
    """Could `_top_token` write `c` between tokens at all (TOP_CHARS, not Z)?"""
    return (
        _letter(c) or _accidental(c) or _decoration(c)
        or c == C_Z_LOW or c == C_X_LOW or c == C_LBR or c == C_BAR or c == C_COLON
        or c == C_QUOTE or c == C_LBRACE or c == C_BANG or c == C_PLUS or c == C_K
        or c == C_LPAR or c == C_RPAR or c == C_MINUS or c == C_LT or c == C_GT
        or c == C_SP or c == C_NL or c == C_BSL
    )  # fmt: skip


@njit(cache=True, error_model="numpy")
def feed_symbol(S, SH, P, VC, VF, v, start_id):
    """Fold symbol `v` into the state (`_Compiled._feed_id`)."""
    if v == start_id:
        reset(S)
        return
    if v == P[P_END_ID]:
        S[PHASE] = PH_E
        return
    if 0 <= v < VC.shape[0] and VC[v] >= 0:
        feed(S, SH, P, VC[v], VF[v])


@njit(cache=True, error_model="numpy")
def reset(S):
    """The state before START (`_Row.__init__`)."""
    S[:] = 0
    S[PHASE], S[MODE], S[NODE] = PH_H, M_T, NO_NODE
    S[UNIT_D], S[BAR] = 8, -1
    S[FREE], S[BOUNDARY] = 1, 1
    S[BAR_LINE_START] = 0
    S[CHORD_BASE] = GRID
    S[TUPLET_MN], S[TUPLET_MD] = 1, 1
    S[LINE_START] = 1
    S[METER_NODE] = NO_NODE


# --- feeding --------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def feed(S, SH, P, c, fl):
    """`AbcGrammar._feed`: fold character `c` (flags `fl`: 1 alphabetic, 2 alphanumeric, as
    Python's str methods say) into the state; True when the grammar allows it there."""
    if S[PHASE] == PH_H:
        return _feed_header(S, SH, P, c, fl)
    return _feed_body(S, SH, P, c, fl)


@njit(cache=True, error_model="numpy")
def _feed_body(S, SH, P, c, fl):
    """`feed` past the header. (Its own function, so that nothing here calls itself back:
    numba's disk cache loads mutually recursive functions wrongly.)"""
    if S[PHASE] == PH_E:
        return False
    S[LINE_LEN] += 1
    mode = S[MODE]
    if mode == M_T:
        return _top(S, SH, P, c, fl)
    if (mode == M_N or mode == M_B or mode == M_P or mode == M_R) and not _continuing(S, P, c):
        ok = _terminate(S, SH, P)
        return _top(S, SH, P, c, fl) and ok
    if mode == M_N:
        return _length_char(S, SH, P, c)
    if mode == M_B:
        return _bar_char(S, SH, P, c)
    if mode == M_P:
        _tok_add(S, c)
        if S[TOKLEN] == 1:
            return _tuplet_room(S, SH, P, c - 48, -1, -1)
        return _spec_can_end(S, SH, P)
    if mode == M_R:
        _tok_add(S, c)
        return True
    if mode == M_A:
        return _accidental_char(S, SH, P, c, fl)
    if mode == M_Q:
        return _quote(S, SH, P, c, fl)
    if mode == M_C:
        return _chord(S, SH, P, c, fl)
    if mode == M_G:
        return _grace(S, SH, P, c, fl)
    if mode == M_D:
        return _decoration_char(S, SH, P, c, fl)
    if mode == M_K:
        return _bracket(S, SH, P, c, fl)
    if mode == M_F:
        return _field_char(S, SH, P, c, fl)
    if mode == M_S:
        S[MODE] = M_T
        if c == C_NL:
            _newline(S)
            S[CONT] = 1
            return True
        _top(S, SH, P, c, fl)
        return False
    return False


@njit(cache=True, error_model="numpy", inline="always")
def _continuing(S, P, c):
    """Does `c` continue the token being read (`AbcGrammar._continuing`)?"""
    mode = S[MODE]
    if mode == M_N:
        if S[N_KIND] == K_N and S[TOKLEN] == 0 and S[N_OCT_LEN] < MAX_OCTAVE_MARKS:
            return _length_char_code(c) or c == C_COMMA or c == C_APOS
        return _length_char_code(c)
    if mode == M_B:
        node = S[NODE]
        if node == NO_NODE:
            return False
        if node >= 0:
            for e in range(_e_off(P, node), _e_off(P, node + 1)):
                if _e_char(P, e) == c:
                    return True
        # (a node without a value, the dead one included, goes on with a bar's characters)
        if (node < 0 or _t_value(P, node) < 0) and (
            c == C_BAR or c == C_COLON or c == C_RBR or _digit(c)
        ):
            return True
        return False
    if mode == M_P:
        if S[TOKLEN] == 0:
            return 50 <= c <= 57  # 2..9
        colons = 0
        last_empty = True
        for i in range(min(S[TOKLEN], TOK_MAX)):
            if S[TOK + i] == C_COLON:
                colons += 1
                last_empty = True
            else:
                last_empty = False
        if c == C_COLON:
            return colons < 2 and (not last_empty or not P[P_ABC2MIDI])
        if colons > 0 and last_empty:
            return 49 <= c <= 57
        return False
    if mode == M_R:
        return S[TOKLEN] < 2 and c == S[TOK]
    return False


@njit(cache=True, error_model="numpy")
def _terminate(S, SH, P):
    mode = S[MODE]
    if mode == M_N:
        return _finish_note(S, SH, P)
    if mode == M_B:
        return _end_bar(S, SH, P)
    if mode == M_P:
        return _end_paren(S, SH, P)
    if mode == M_R:
        return _end_broken(S, SH, P)
    return False


# header --------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def _field_letter(hf):
    return C_M if hf == 0 else (C_L if hf == 1 else C_K)


@njit(cache=True, error_model="numpy", inline="always")
def _begin_field(S, c):
    S[MODE], S[FIELD], S[TOKLEN], S[NODE] = M_F, c, 0, NO_NODE
    S[FIELD_FIRST], S[METER_NODE] = -1, NO_NODE


@njit(cache=True, error_model="numpy")
def _feed_header(S, SH, P, c, fl):
    if S[MODE] == M_F:
        return _field_char(S, SH, P, c, fl)
    if S[MODE] == M_X:
        if c == C_NL:
            S[MODE] = M_T
        return False
    if S[HF] < 3 and c == _field_letter(S[HF]):
        _begin_field(S, c)
        return True
    if c == C_M or c == C_L or c == C_K:
        S[HF] = 0 if c == C_M else (1 if c == C_L else 2)
        _begin_field(S, c)
        return False
    if (fl & 1) and not _letter(c):
        S[MODE] = M_X
        return False
    _begin_body(S)
    _feed_body(S, SH, P, c, fl)
    return False


@njit(cache=True, error_model="numpy", inline="always")
def _begin_body(S):
    S[PHASE], S[MODE], S[TOKLEN], S[NODE] = PH_B, M_T, 0, NO_NODE
    S[LINE_START], S[LINE_CONTENT], S[BOUNDARY], S[FREE] = 1, 0, 1, 1
    S[POS], S[PICKUP], S[BARS] = 0, 0, 0


@njit(cache=True, error_model="numpy", inline="always")
def _field_root(P, field):
    if field == C_M:
        return P[R_M]
    if field == C_L:
        return P[R_L]
    return P[R_K]


@njit(cache=True, error_model="numpy")
def _field_char(S, SH, P, c, fl):
    if S[NODE] == NO_NODE:  # the colon
        if c == C_COLON:
            S[NODE] = _field_root(P, S[FIELD])
            return True
        S[MODE] = M_X if S[PHASE] == PH_H else M_T
        S[FIELD] = 0
        if S[PHASE] == PH_H:
            return False
        _top(S, SH, P, c, fl)
        return False
    if c == C_SP and S[TOKLEN] == 0 and S[NODE] == _field_root(P, S[FIELD]):
        _tok_add(S, c)
        return True
    shaped_meter = S[FIELD] == C_M and SH[SH_ON] and SH[SH_UNIT] > 0
    if c == C_NL:
        node = S[NODE]
        value = _t_value(P, node) if node >= 0 else -1
        ok = value >= 0
        if ok and shaped_meter:
            ok = _writes(S, SH, P, True)
        _apply_field(S, SH, P, value)
        return ok
    _tok_add(S, c)
    if c != C_SP or S[FIELD_FIRST] >= 0:
        if S[FIELD_FIRST] < 0:
            S[FIELD_FIRST] = c
            S[METER_NODE] = P[R_METERS]
        S[METER_NODE] = _child(P, S[METER_NODE], c)
    child = _child(P, S[NODE], c)
    S[NODE] = child
    if child >= 0 and shaped_meter:
        return _writes(S, SH, P, False)
    return child >= 0


@njit(cache=True, error_model="numpy")
def _writes(S, SH, P, whole):
    """Is the M: field's text so far (or, `whole`, all of it) the shape's meter?"""
    node = S[METER_NODE] if S[FIELD_FIRST] >= 0 else P[R_METERS]
    if node < 0:
        return False
    beats, unit = SH[SH_BEATS], SH[SH_UNIT]
    if whole:
        v = _t_value(P, node)
        return v >= 0 and _v_a(P, v) == beats and _v_b(P, v) == unit
    for i in range(_t_voff(P, node), _t_voff(P, node + 1)):
        v = _t_vals(P, i)
        if _v_a(P, v) == beats and _v_b(P, v) == unit:
            return True
    return False


@njit(cache=True, error_model="numpy")
def _apply_field(S, SH, P, value):
    field = S[FIELD]
    if field == C_M:
        if value >= 0:
            S[BAR], S[COMPOUND] = _v_a(P, value), _v_b(P, value)
        else:
            S[BAR], S[COMPOUND] = -1, 0
    elif field == C_L and value >= 0:
        S[UNIT_D] = _v_a(P, value)
    elif field == C_K and value >= 0 and (not SH[SH_ON] or S[TONIC] == 0):
        first = S[FIELD_FIRST]
        S[TONIC] = _upper(first) if first >= 0 else 0
        if SH[SH_ON] and SH[SH_FINAL] and S[TONIC] != 0:
            at = -1
            for i in range(7):
                if DEGREES[i] == S[TONIC]:
                    at = i
            if at >= 0:
                S[TONIC] = DEGREES[(at + SH[SH_FINAL]) % 7]
    S[MODE], S[TOKLEN], S[NODE], S[FIELD] = M_T, 0, NO_NODE, 0
    if S[PHASE] == PH_H:
        S[HF] = (0 if field == C_M else (1 if field == C_L else 2)) + 1
        if field == C_M:
            short = S[BAR] >= 0 and S[BAR] * 4 < GRID * 3
            S[UNIT_D] = 16 if short else 8
        if S[HF] >= 3:
            _begin_body(S)
        return
    S[BODY_FIELDS] |= 1 if field == C_M else (2 if field == C_L else 4)
    _newline(S)
    S[BOUNDARY], S[FREE], S[LOST] = 1, 1, 0
    S[PICKUP], S[POS] = 0, 0


@njit(cache=True, error_model="numpy", inline="always")
def _needs_open(S, SH):
    return (
        SH[SH_ON]
        and S[PART_BARS] == 0
        and S[POS] == 0
        and S[CLOSED]
        and not S[OPEN_REPEAT]
        and not S[EXPECT_SECOND]
        and _repeated(S, SH, S[PARTS]) == 1
    )


# top level -----------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _top(S, SH, P, c, fl):
    blocked = P[P_ABC2MIDI] and S[PRE_LEN] > 0 and S[PRE_LAST] == 100 and (
        c == C_LPAR or c == C_LBRACE or c == C_QUOTE or c == C_BANG or c == C_PLUS
        or c == C_LBR
    )  # fmt: skip
    blocked = blocked or (P[P_FORM] and S[PARTS] >= _n_parts(S, SH, P) and c != C_NL)
    blocked = blocked or (
        P[P_FORM]
        and not (c == C_BAR or c == C_NL or c == C_SP or c == C_BSL or c == C_K)
        and _needs_open(S, SH)
    )
    blocked = blocked or (
        P[P_ABC2MIDI]
        and S[EXPECT_SECOND]
        and not (c == C_BAR or c == C_LBR or c == C_SP or c == C_NL or c == C_BSL)
    )
    blocked = blocked or (S[NEED_ENDING] and c != C_LBR)
    if S[LINE_LEN] > MAX_LINE and c != C_NL:
        pending = S[NEED_NOTE] or S[TUPLET_LEFT] or S[BROKEN] or S[TIE] != TIE_NONE
        blocked = blocked or not pending
    return _top_token(S, SH, P, c, fl) and not blocked


@njit(cache=True, error_model="numpy", inline="always")
def _clear_pre(S):
    S[PRE_LEN], S[PRE_LAST], S[PRE_Q], S[PRE_G], S[PRE_H], S[PRE_D] = 0, 0, 0, 0, 0, 0


@njit(cache=True, error_model="numpy", inline="always")
def _pre_add(S, ch):  # q g d h
    S[PRE_LEN] += 1
    S[PRE_LAST] = ch
    if ch == 113:
        S[PRE_Q] = 1
    elif ch == 103:
        S[PRE_G] = 1
    elif ch == 104:
        S[PRE_H] = 1
    elif ch == 100:
        S[PRE_D] += 1


@njit(cache=True, error_model="numpy")
def _top_token(S, SH, P, c, fl):
    after_note = S[AFTER_NOTE]
    last_kind, last_written = S[LAST_KIND], S[LAST_WRITTEN]
    lp_on, lp_acc, lp_letter = S[LP_ON], S[LP_ACC], S[LP_LETTER]
    lp_oct_len, lp_oct_bits = S[LP_OCT_LEN], S[LP_OCT_BITS]
    last_tuplet, last_b, last_deco = S[LAST_TUPLET], S[LAST_B], S[LAST_DECO]
    last_upper = S[LAST_UPPER]
    if after_note and c != C_RPAR:
        S[AFTER_NOTE], S[LAST_KIND], S[LAST_WRITTEN] = 0, K_NONE, 0
        S[LP_ON], S[LAST_TUPLET], S[LAST_B], S[LAST_DECO] = 0, 0, 0, 0
        S[LP_ACC], S[LP_LETTER], S[LP_OCT_LEN], S[LP_OCT_BITS] = 0, 0, 0, 0
        S[LAST_UPPER] = 0
    space = S[SPACE]
    S[SPACE] = 0
    line_start, had_content = S[LINE_START], S[LINE_CONTENT]
    if c != C_NL:
        S[LINE_START] = 0
        if c != C_SP:
            S[LINE_CONTENT] = 1
    pending = S[NEED_NOTE] or S[TUPLET_LEFT] > 0 or S[BROKEN]
    tie_pitch = S[TIE] == TIE_PITCH

    if _letter(c):
        return _start_note(S, SH, P, c, A_NONE)
    if _accidental(c):
        S[MODE], S[TOKLEN] = M_A, 0
        _tok_add(S, c)
        final = P[P_FORM] and _final_bar(S, SH, P, 0)
        if final:
            S[N_KIND], S[N_ACC], S[N_LETTER] = K_N, _acc_code(c, 1), 0
            if tie_pitch and _upper(S[TIE_LETTER]) == S[TONIC]:
                return False
        ok = _room_for_note(S, SH, P)
        return ok and (not tie_pitch or _acc_starts(S[TIE_ACC], c))
    if c == C_Z_LOW or c == C_X_LOW:
        _begin_length(S, P, K_R)
        ok = S[TIE] == TIE_NONE and not S[PRE_G] and _room_for_note(S, SH, P)
        return ok and (c == C_Z_LOW or not P[P_ABC2MIDI])
    if c == C_LBR:
        S[MODE] = M_K
        S[BAR_LINE_START] = 0
        if P[P_FORM] and _final_bar(S, SH, P, 0):
            probe = S.copy()
            probe[N_KIND] = K_C
        else:
            probe = S
        chord = (
            not S[BROKEN]
            and (S[TIE] == TIE_NONE or S[TIE] == TIE_ANY)
            and _room_for_note(probe, SH, P)
        )
        if probe is not S and probe[INEXACT]:
            S[INEXACT] = 1
        if chord:
            return True
        node = _child(P, P[R_BARS], C_LBR)
        if node >= 0:
            for i in range(_t_voff(P, node), _t_voff(P, node + 1)):
                v = _t_vals(P, i)
                if _bar_ok(S, SH, P, _v_a(P, v), _v_b(P, v)):
                    return True
        return False
    if c == C_BAR or c == C_COLON:
        S[MODE], S[TOKLEN], S[NODE] = M_B, 0, P[R_BARS]
        S[BAR_LINE_START] = line_start
        S[BAR_AFTER_UPPER] = after_note and last_upper
        return _bar_char(S, SH, P, c)
    if c == C_QUOTE:
        ok = not S[PRE_Q] and (_room_for_note(S, SH, P) or not P[P_ABC2MIDI])
        S[MODE], S[TOKLEN], S[NODE] = M_Q, 0, P[R_CHORDS]
        _pre_add(S, 113)
        return ok
    if c == C_LBRACE:
        ok = not S[PRE_G] and not S[BROKEN] and S[TIE] == TIE_NONE
        ok = ok and not (P[P_ABC2MIDI] and S[TUPLET_LEFT])
        ok = ok and _room_for_note(S, SH, P)
        S[MODE], S[TOKLEN], S[NODE], S[CHORD_NOTES] = M_G, 0, NO_NODE, 0
        _pre_add(S, 103)
        return ok
    if c == C_BANG or c == C_PLUS:
        ok = S[PRE_D] == 0 and not S[BROKEN] and _room_for_note(S, SH, P)
        ok = ok and not P[P_ABC2MIDI]
        S[MODE], S[TOKLEN], S[FIELD] = M_D, 0, c
        _pre_add(S, 100)
        return ok
    if ((c == C_M or c == C_L) and line_start) or c == C_K:
        S[MODE], S[FIELD], S[TOKLEN], S[NODE] = M_F, c, 0, NO_NODE
        S[FIELD_FIRST], S[METER_NODE] = -1, NO_NODE
        return line_start and _body_field_ok(S, P)
    if _decoration(c):
        ok = not P[P_ABC2MIDI] or (
            _safe_decoration(c)
            and S[PRE_D] < 2
            and (not S[BROKEN] or not (c == C_DOT or c == C_H))
            and (S[TIE] == TIE_NONE or not (c == C_TILDE or c == C_T))
            and (c != C_TILDE or not S[PRE_G])
        )
        ok = ok and _room_for_note(S, SH, P)
        if c == C_DOT or c == C_H:
            _pre_add(S, 104)
        _pre_add(S, 100)
        S[NEED_NOTE] = 1
        return ok
    if c == C_LPAR:
        S[MODE], S[TOKLEN] = M_P, 0
        slur = S[SLURS] < MAX_SLURS or not P[P_ABC2MIDI]
        return (
            not tie_pitch
            and _room_for_note(S, SH, P)
            and (slur or _tuplet_room(S, SH, P, 3, -1, -1))
        )
    if c == C_RPAR:
        waiting = S[NEED_NOTE] and (not S[BROKEN] or S[PRE_LEN] > 0)
        ok = (S[SLURS] > 0 and not waiting and not S[TUPLET_LEFT]) or not P[P_ABC2MIDI]
        S[SLURS] = max(0, S[SLURS] - 1)
        return ok
    if c == C_MINUS:
        if not P[P_ABC2MIDI]:
            if after_note and last_kind != K_R:
                S[TIE] = TIE_ANY
            S[AFTER_NOTE], S[LAST_KIND], S[LAST_WRITTEN] = after_note, last_kind, last_written
            S[LAST_TUPLET], S[LAST_B], S[LAST_DECO] = last_tuplet, last_b, last_deco
            return (after_note and (last_kind == K_N or last_kind == K_C)) or S[BROKEN] != 0
        ok = after_note and last_kind == K_N and S[TIE] == TIE_NONE and not pending
        ok = ok and not last_deco
        if ok and P[P_FORM] and _final_bar(S, SH, P, 0):
            ok = _tied_fits(S, SH, P, _limit(S, SH, P), S[POS])
        elif ok and _checking(S) and S[POS] == _limit(S, SH, P):
            ok = _bar_ok(S, SH, P, B_PLAIN, 0)
        if ok and P[P_FORM] and _final_bar(S, SH, P, 1) and S[POS] == S[BAR]:
            ok = _tied_fits(S, SH, P, _closing_limit(S, SH), 0)
        if last_kind == K_N and lp_on:
            S[TIE], S[TIE_ACC], S[TIE_LETTER] = TIE_PITCH, lp_acc, lp_letter
            S[TIE_OCT_LEN], S[TIE_OCT_BITS] = lp_oct_len, lp_oct_bits
        else:
            S[TIE] = TIE_ANY
            S[TIE_ACC], S[TIE_LETTER], S[TIE_OCT_LEN], S[TIE_OCT_BITS] = 0, 0, 0, 0
        return ok
    if c == C_LT or c == C_GT:
        S[MODE], S[TOKLEN] = M_R, 0
        _tok_add(S, c)
        kinds = last_kind == K_N or last_kind == K_R or (last_kind == K_C and not P[P_ABC2MIDI])
        ok = (
            after_note
            and kinds
            and not last_tuplet
            and not last_b
            and S[TUPLET_LEFT] == 0
            and (S[TIE] == TIE_NONE or not P[P_ABC2MIDI])
        )
        S[LAST_WRITTEN] = last_written
        if P[P_ABC2MIDI] and last_deco:
            ok = False
        if ok and _checking(S):
            w = _dur(S, last_written, 1, 1)
            if P[P_ABC2MIDI]:
                end = S[POS] + w
            else:
                end = S[POS] + w // 2 + _step(S, P) // 2
            ok = _pair_ends_ok(S, SH, P, end)
        return ok
    if c == C_SP:
        S[SPACE] = space + 1
        if not P[P_ABC2MIDI]:
            return not line_start
        waiting = S[PRE_D] > 0 or S[PRE_G]
        return space < 2 and not line_start and not S[BROKEN] and not waiting
    if c == C_NL:
        ok = S[LINE_CONTENT] and not pending
        _newline(S)
        return ok
    if c == C_BSL:
        S[MODE] = M_S
        return had_content and not pending
    if c == C_Z:
        if S[BAR] >= 0:
            S[POS] = S[BAR]
        return False
    return False


@njit(cache=True, error_model="numpy", inline="always")
def _newline(S):
    S[LINE_START], S[LINE_CONTENT], S[CONT], S[SPACE] = 1, 0, 0, 0
    S[LINE_LEN] = 0


@njit(cache=True, error_model="numpy")
def _body_field_ok(S, P):
    bit = 1 if S[FIELD] == C_M else (2 if S[FIELD] == C_L else 4)
    return (
        not (S[BODY_FIELDS] & bit)
        and not (P[P_FORM] and S[PART_BARS])
        and not S[EXPECT_SECOND]
        and not S[CONT]
        and S[BOUNDARY]
        and S[POS] == 0
        and S[BARS] > 0
        and not S[NEED_NOTE]
        and S[TIE] == TIE_NONE
        and S[TUPLET_LEFT] == 0
        and not S[BROKEN]
    )


@njit(cache=True, error_model="numpy")
def _bracket(S, SH, P, c, fl):
    if S[NEED_ENDING] and c != 49:
        return False
    S[MODE] = M_T
    if c == C_BAR or _digit(c):
        node = _child(P, P[R_BARS], C_LBR)
        S[BAR_LINE_START] = 0
        S[MODE], S[TOKLEN], S[NODE] = M_B, 0, node
        _tok_add(S, C_LBR)
        return _bar_char(S, SH, P, c)
    if _letter(c) or _accidental(c):
        if P[P_FORM]:
            S[N_KIND] = K_C
        ok = (
            not S[BROKEN] and _room_for_note(S, SH, P) and (S[TIE] == TIE_NONE or S[TIE] == TIE_ANY)
        )
        S[MODE], S[TOKLEN], S[NODE] = M_C, 0, NO_NODE
        S[CHORD_NOTES], S[CHORD_BASE] = 0, GRID
        return _chord(S, SH, P, c, fl) and ok
    _top(S, SH, P, c, fl)
    return False


# notes ---------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _start_note(S, SH, P, letter, acc):
    S[N_ACC], S[N_LETTER], S[N_OCT_LEN], S[N_OCT_BITS] = acc, letter, 0, 0
    S[MODE], S[N_KIND], S[TOKLEN], S[NODE] = M_N, K_N, 0, P[R_LENGTHS]
    if acc != A_NONE and P[P_FORM] and _upper(letter) == S[TONIC] and _final_bar(S, SH, P, 0):
        return False
    if S[TIE] == TIE_PITCH:
        if letter != S[TIE_LETTER] or not (acc == A_NONE or acc == S[TIE_ACC]):
            return False
    return _room_for_note(S, SH, P)


@njit(cache=True, error_model="numpy", inline="always")
def _begin_length(S, P, kind):
    S[MODE], S[N_KIND], S[TOKLEN], S[NODE] = M_N, kind, 0, P[R_LENGTHS]
    if kind != K_N:
        S[N_ACC], S[N_LETTER], S[N_OCT_LEN], S[N_OCT_BITS] = 0, 0, 0, 0


@njit(cache=True, error_model="numpy")
def _accidental_char(S, SH, P, c, fl):
    if (c == C_CARET or c == C_UNDER) and S[TOKLEN] == 1 and S[TOK] == c:
        _tok_add(S, c)
        acc = _acc_code(c, 2)
        return S[TIE] == TIE_NONE or S[TIE] == TIE_ANY or S[TIE_ACC] == acc
    if _letter(c):
        if S[TOKLEN] == 0:
            acc = A_NONE
        elif S[TOKLEN] == 1:
            acc = _acc_code(S[TOK], 1)
        else:
            acc = _acc_code(S[TOK], 2)
        S[TOKLEN] = 0
        return _start_note(S, SH, P, c, acc)
    S[MODE], S[TOKLEN] = M_T, 0
    _top(S, SH, P, c, fl)
    return False


@njit(cache=True, error_model="numpy")
def _octave_ok(P, letter, oct_len, oct_bits):
    if oct_len > MAX_OCTAVE_MARKS:
        return False
    if not P[P_ABC2MIDI]:
        return True
    n = min(oct_len, 60)
    marks = oct_bits & ((1 << n) - 1)
    if _is_upper(letter):
        return marks == 0  # commas only
    return marks == (1 << n) - 1  # apostrophes only


@njit(cache=True, error_model="numpy")
def _length_char(S, SH, P, c):
    if c == C_COMMA or c == C_APOS:
        n = S[N_OCT_LEN]
        if c == C_APOS and n < 60:
            S[N_OCT_BITS] |= 1 << n
        S[N_OCT_LEN] = n + 1
        if not _octave_ok(P, S[N_LETTER], S[N_OCT_LEN], S[N_OCT_BITS]):
            return False
        return S[TIE] != TIE_PITCH or _oct_starts(
            S[TIE_OCT_LEN], S[TIE_OCT_BITS], S[N_OCT_LEN], S[N_OCT_BITS]
        )
    node = _child(P, S[NODE], c)
    if (
        S[TOKLEN] == 0
        and S[TIE] == TIE_PITCH
        and not (S[N_OCT_LEN] == S[TIE_OCT_LEN] and S[N_OCT_BITS] == S[TIE_OCT_BITS])
    ):
        _tok_add(S, c)
        return False
    _tok_add(S, c)
    if node < 0:
        S[NODE] = DEAD
        return False
    S[NODE] = node
    return _fits(S, SH, P, node, _base(S))


@njit(cache=True, error_model="numpy", inline="always")
def _base(S):
    return S[CHORD_BASE] if S[N_KIND] == K_C else GRID


@njit(cache=True, error_model="numpy")
def _finish_note(S, SH, P):
    node = S[NODE]
    value = _t_value(P, node) if node >= 0 else -1
    ok = value >= 0
    written = _scale(S, _v_a(P, value) if value >= 0 else GRID, _base(S), GRID)
    fits = not _checking(S) or _fits_value(S, SH, P, written)
    mn, md = 1, 1
    was_b = S[BROKEN] != 0
    if was_b:
        want = S[BROKEN_WANT]
        mn, md = S[BROKEN_MN], S[BROKEN_MD]
        ok = ok and (want < 0 or (written == want and S[N_KIND] != K_C))
        S[BROKEN] = 0
        S[BROKEN_WANT], S[BROKEN_MN], S[BROKEN_MD] = 0, 0, 0
    in_tuplet = S[TUPLET_LEFT] > 0
    if in_tuplet:
        mn *= S[TUPLET_MN]
        md *= S[TUPLET_MD]
        S[TUPLET_LEFT] -= 1
    tied_acc = S[TIE_ACC] if S[TIE] == TIE_PITCH else A_NONE
    if S[TIE] != TIE_NONE:
        if S[N_KIND] == K_R:
            ok = False
        elif S[TIE] == TIE_PITCH and S[N_KIND] == K_N:
            ok = ok and S[N_LETTER] == S[TIE_LETTER]
            ok = ok and S[N_OCT_LEN] == S[TIE_OCT_LEN] and S[N_OCT_BITS] == S[TIE_OCT_BITS]
            ok = ok and (S[N_ACC] == A_NONE or S[N_ACC] == S[TIE_ACC])
        S[TIE], S[TIE_ACC], S[TIE_LETTER], S[TIE_OCT_LEN], S[TIE_OCT_BITS] = 0, 0, 0, 0, 0
    S[POS] += _dur(S, written, mn, md)
    if not fits:
        S[LOST] = 1
        ok = False
    if S[N_KIND] != K_R:
        S[NOTES] = min(S[NOTES] + 1, P[P_MIN_NOTES])
        S[LAST_LETTER] = 0
        if P[P_FORM] and S[N_KIND] == K_N:
            letter = _upper(S[N_LETTER])
            if S[N_ACC] != A_NONE and letter == S[TONIC]:
                S[TONIC_ALTERED] = 1
            altered = (
                S[N_ACC] != A_NONE
                or tied_acc != A_NONE
                or (letter == S[TONIC] and S[TONIC_ALTERED])
            )
            S[LAST_LETTER] = 0 if altered else letter
    S[AFTER_NOTE], S[LAST_KIND], S[LAST_WRITTEN] = 1, S[N_KIND], written
    if S[N_KIND] == K_N:
        S[LP_ON], S[LP_ACC], S[LP_LETTER] = 1, S[N_ACC], S[N_LETTER]
        S[LP_OCT_LEN], S[LP_OCT_BITS] = S[N_OCT_LEN], S[N_OCT_BITS]
    else:
        S[LP_ON], S[LP_ACC], S[LP_LETTER], S[LP_OCT_LEN], S[LP_OCT_BITS] = 0, 0, 0, 0, 0
    S[LAST_TUPLET], S[LAST_B], S[LAST_DECO] = in_tuplet, was_b, S[PRE_H]
    S[LAST_UPPER] = (
        S[N_KIND] == K_N and _is_upper(S[N_LETTER]) and S[N_OCT_LEN] == 0 and S[TOKLEN] == 0
    )
    S[NEED_NOTE], S[BOUNDARY], S[BAR_LINES] = 0, 0, 0
    _clear_pre(S)
    S[BODY_FIELDS] = 0
    S[MODE], S[TOKLEN], S[NODE] = M_T, 0, NO_NODE
    S[N_KIND], S[N_ACC], S[N_LETTER], S[N_OCT_LEN], S[N_OCT_BITS] = 0, 0, 0, 0, 0
    S[CHORD_BASE], S[CHORD_NOTES] = GRID, 0
    return ok


# chords and grace notes: `tok` holds the inner note (its accidental, letter, octave marks);
# `node` its place in the length trie, NO_NODE before its letter
@njit(cache=True, error_model="numpy", inline="always")
def _inner_note(S):
    return S[TOKLEN] > 0 and _letter(S[TOK])


@njit(cache=True, error_model="numpy", inline="always")
def _inner_acc_ok(S):
    """Is `tok` one of ^ ^^ _ __ = ?"""
    n = S[TOKLEN]
    if n == 1:
        return _accidental(S[TOK])
    if n == 2:
        return (S[TOK] == C_CARET or S[TOK] == C_UNDER) and S[TOK + 1] == S[TOK]
    return False


@njit(cache=True, error_model="numpy")
def _inner_octave_ok(S, P):
    """`_octave_ok` of the inner note's letter and its marks (the characters after it)."""
    n = min(S[TOKLEN], TOK_MAX)
    marks, bits = 0, 0
    for i in range(1, n):
        if S[TOK + i] == C_APOS and marks < 60:
            bits |= 1 << marks
        marks += 1
    marks += max(S[TOKLEN] - TOK_MAX, 0)
    return _octave_ok(P, S[TOK], marks, bits)


@njit(cache=True, error_model="numpy", inline="always")
def _node_value_written(S, P):
    """The inner note's length (grid units of L) at its node, or -1."""
    node = S[NODE]
    if node < 0 or _t_value(P, node) < 0:
        return -1
    return _v_a(P, _t_value(P, node))


@njit(cache=True, error_model="numpy")
def _chord(S, SH, P, c, fl):
    note = _inner_note(S)
    if c == C_RBR:
        complete = note and _node_value_written(S, P) >= 0
        ok = S[CHORD_NOTES] > 0 and complete
        ok = _close_chord_note(S, P) and ok
        _begin_length(S, P, K_C)
        return ok and _fits(S, SH, P, P[R_LENGTHS], S[CHORD_BASE])
    if _accidental(c):
        ok = not note or _node_value_written(S, P) >= 0
        ok = _close_chord_note(S, P) and ok
        _tok_add(S, c)
        ok = ok and S[CHORD_NOTES] < MAX_CHORD_NOTES
        return ok and _inner_acc_ok(S)
    if _letter(c):
        ok = (S[TOKLEN] > 0 and _accidental(S[TOK])) or not note or _node_value_written(S, P) >= 0
        ok = _close_chord_note(S, P) and ok
        ok = ok and S[CHORD_NOTES] < MAX_CHORD_NOTES
        S[CHORD_NOTES] += 1
        S[TOKLEN], S[NODE] = 0, P[R_LENGTHS]
        _tok_add(S, c)
        return ok and (S[CHORD_NOTES] > 1 or _fits(S, SH, P, P[R_LENGTHS], GRID))
    if note and (c == C_COMMA or c == C_APOS) and S[NODE] == P[R_LENGTHS]:
        _tok_add(S, c)
        return _inner_octave_ok(S, P)
    if note and _length_char_code(c) and S[NODE] != NO_NODE:
        _tok_add(S, c)
        node = _child(P, S[NODE], c)
        S[NODE] = node if node >= 0 else DEAD
        if node < 0:
            return False
        if S[CHORD_NOTES] == 1:
            return _fits(S, SH, P, node, GRID)
        if not P[P_ABC2MIDI]:
            return True
        for i in range(_t_voff(P, node), _t_voff(P, node + 1)):
            if _v_a(P, _t_vals(P, i)) == S[CHORD_BASE]:
                return True
        return False
    _close_chord_note(S, P)
    _begin_length(S, P, K_C)
    _finish_note(S, SH, P)
    _top(S, SH, P, c, fl)
    return False


@njit(cache=True, error_model="numpy")
def _close_chord_note(S, P):
    ok = True
    if _inner_note(S):
        value = _node_value_written(S, P)
        if S[CHORD_NOTES] == 1 and value >= 0:
            S[CHORD_BASE] = value
        elif P[P_ABC2MIDI] and value != S[CHORD_BASE]:
            ok = False
        S[TOKLEN], S[NODE] = 0, NO_NODE
    return ok


@njit(cache=True, error_model="numpy")
def _grace(S, SH, P, c, fl):
    note = _inner_note(S)
    complete = note and _node_value_written(S, P) >= 0
    if c == C_RBRACE:
        ok = complete
        S[MODE], S[TOKLEN], S[NODE], S[CHORD_NOTES] = M_T, 0, NO_NODE, 0
        S[NEED_NOTE] = 1
        return ok
    if _accidental(c):
        ok = (complete or not note) and S[CHORD_NOTES] < MAX_GRACE
        if note:
            S[TOKLEN] = 0
        _tok_add(S, c)
        return ok and _inner_acc_ok(S)
    if _letter(c):
        ok = (complete or not note) and S[CHORD_NOTES] < MAX_GRACE
        S[CHORD_NOTES] += 1
        S[TOKLEN], S[NODE] = 0, P[R_LENGTHS]
        _tok_add(S, c)
        return ok
    if note and (c == C_COMMA or c == C_APOS) and S[NODE] == P[R_LENGTHS]:
        _tok_add(S, c)
        return _inner_octave_ok(S, P)
    if note and _length_char_code(c) and S[NODE] != NO_NODE:
        node = _child(P, S[NODE], c)
        S[NODE] = node if node >= 0 else DEAD
        return node >= 0
    S[MODE], S[TOKLEN], S[NODE], S[CHORD_NOTES] = M_T, 0, NO_NODE, 0
    _top(S, SH, P, c, fl)
    return False


@njit(cache=True, error_model="numpy")
def _decoration_char(S, SH, P, c, fl):
    if c == S[FIELD]:
        ok = S[TOKLEN] > 0
        S[MODE], S[TOKLEN], S[FIELD] = M_T, 0, 0
        S[NEED_NOTE] = 1
        return ok
    if (fl & 2) or c == C_DOT or c == C_LPAR or c == C_RPAR or c == C_LT or c == C_GT:
        _tok_add(S, c)
        alpha = (fl & 1) != 0
        first_alpha = S[TOKLEN] > 0 and S[TOK] >= 0 and (
            (65 <= S[TOK] <= 90) or (97 <= S[TOK] <= 122) or S[TOK] > 127
        )  # fmt: skip
        if P[P_ABC2MIDI] and not (alpha or (c == C_DOT and first_alpha)):
            return False
        return S[TOKLEN] <= MAX_DECORATION
    S[MODE], S[TOKLEN], S[FIELD] = M_T, 0, 0
    _top(S, SH, P, c, fl)
    return False


@njit(cache=True, error_model="numpy")
def _quote(S, SH, P, c, fl):
    first = _tok_first(S)
    if c == C_QUOTE:
        n = S[TOKLEN]
        node = S[NODE]
        S[MODE], S[TOKLEN], S[NODE] = M_T, 0, NO_NODE
        S[NEED_NOTE] = P[P_ABC2MIDI] or S[NEED_NOTE]
        if not P[P_ABC2MIDI] or (first >= 0 and _annotation_mark(first)):
            return n > 0
        return node >= 0 and _t_value(P, node) >= 0
    if c == C_NL:
        S[MODE], S[TOKLEN], S[NODE] = M_T, 0, NO_NODE
        _newline(S)
        return False
    _tok_add(S, c)
    S[NODE] = _child(P, S[NODE], c)
    if S[TOKLEN] > MAX_QUOTE:
        return False
    if not P[P_ABC2MIDI]:
        return True
    if first >= 0 and _annotation_mark(first):
        return _annotation_char(c)
    if first < 0 and _annotation_mark(c):
        return True
    return S[NODE] >= 0


@njit(cache=True, error_model="numpy")
def _spec(S):
    """The tuplet spec read so far: (p, q, r, ends with a colon), -1 where not given."""
    vals = np.full(3, -1, dtype=np.int64)
    part = 0
    for i in range(min(S[TOKLEN], TOK_MAX)):
        ch = S[TOK + i]
        if ch == C_COLON:
            part += 1
        elif part < 3:
            vals[part] = ch - 48 if vals[part] < 0 else vals[part] * 10 + ch - 48
    ends_colon = S[TOKLEN] > 0 and S[TOK + min(S[TOKLEN], TOK_MAX) - 1] == C_COLON
    return vals[0], vals[1], vals[2], ends_colon


@njit(cache=True, error_model="numpy")
def _end_paren(S, SH, P):
    if S[TOKLEN] == 0:  # a slur
        S[MODE] = M_T
        ok = (S[SLURS] < MAX_SLURS or not P[P_ABC2MIDI]) and _room_for_note(S, SH, P)
        S[SLURS] = min(S[SLURS] + 1, MAX_SLURS + 1)
        S[NEED_NOTE] = 1
        return ok
    p, q, r, ends_colon = _spec(S)
    S[MODE], S[TOKLEN] = M_T, 0
    if r < 0:
        r = p
    ok = not ends_colon and _tuplet_room(S, SH, P, p, q, r)
    qq, pp = _tuplet(p, q, S[COMPOUND])
    S[TUPLET_MN], S[TUPLET_MD] = qq, pp
    S[TUPLET_LEFT] = r
    S[NEED_NOTE] = 1
    return ok


@njit(cache=True, error_model="numpy")
def _spec_can_end(S, SH, P):
    """Can the tuplet spec read so far end, now or after characters that may continue it?
    (A search over the specs it may become, with a stack: numba's disk cache loads a
    recursive function wrongly.)"""
    stack = np.empty((64, S.shape[0]), dtype=np.int64)
    stack[0] = S
    top = 1
    while top > 0:
        top -= 1
        cur = stack[top].copy()
        trial = cur.copy()
        if _end_paren(trial, SH, P):
            return True
        for c in range(48, 59):  # digits and the colon
            if _continuing(cur, P, c) and top < 64:
                stack[top] = cur
                _tok_add(stack[top], c)
                top += 1
    return False


@njit(cache=True, error_model="numpy")
def _tuplet_room(S, SH, P, p, q, r):
    if S[TUPLET_LEFT] > 0 or S[BROKEN]:
        return False
    if P[P_FORM] and _final_bar(S, SH, P, 0):
        return False
    if not _checking(S):
        return True
    mn, md = S[TUPLET_MN], S[TUPLET_MD]
    qq, pp = _tuplet(p, q, S[COMPOUND])
    S[TUPLET_MN], S[TUPLET_MD] = qq, pp
    ok = _completable(S, SH, P, S[POS], r if r > 0 else p)
    S[TUPLET_MN], S[TUPLET_MD] = mn, md
    return ok


@njit(cache=True, error_model="numpy")
def _end_broken(S, SH, P):
    # factor_a: > 3/2, >> 7/4, < 1/2, << 1/4; the second note's 2 - factor_a
    two = S[TOKLEN] >= 2
    if S[TOK] == C_GT:
        an, ad = (7, 4) if two else (3, 2)
    else:
        an, ad = (1, 4) if two else (1, 2)
    S[MODE], S[TOKLEN] = M_T, 0
    w = S[LAST_WRITTEN]
    S[POS] += _dur(S, w, an - ad, ad)
    bn, bd = 2 * ad - an, ad
    S[BROKEN], S[BROKEN_WANT], S[BROKEN_MN], S[BROKEN_MD] = 1, w if P[P_ABC2MIDI] else -1, bn, bd
    S[NEED_NOTE] = 1
    ok = True
    if _checking(S):
        if P[P_ABC2MIDI]:
            end = S[POS] + _dur(S, w, bn, bd)
        else:
            end = S[POS] + _scale(S, _step(S, P), bn, bd)
        ok = _pair_ends_ok(S, SH, P, end)
        if not ok:
            S[LOST] = 1
    return ok


@njit(cache=True, error_model="numpy")
def _pair_ends_ok(S, SH, P, end):
    limit = _limit(S, SH, P)
    ok = end <= limit and (not P[P_ABC2MIDI] or _fillable(S, P, limit - end))
    if ok and P[P_FORM] and _final_bar(S, SH, P, 0):
        ok = _final_room_ok(S, SH, P, limit - end)
    return ok


# bars ----------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def _tok_is(S, a, b):
    """Is `tok` the one or two characters a, b (b < 0: just a)?"""
    if b < 0:
        return S[TOKLEN] == 1 and S[TOK] == a
    return S[TOKLEN] == 2 and S[TOK] == a and S[TOK + 1] == b


@njit(cache=True, error_model="numpy")
def _bar_char(S, SH, P, c):
    node = _child(P, S[NODE], c) if S[NODE] >= 0 else DEAD
    _tok_add(S, c)
    if node < 0:
        S[NODE] = DEAD
        return False
    S[NODE] = node
    if _tok_is(S, C_COLON, C_COLON) and S[BAR_AFTER_UPPER] and P[P_ABC2MIDI]:
        return False
    for i in range(_t_voff(P, node), _t_voff(P, node + 1)):
        v = _t_vals(P, i)
        if _bar_ok(S, SH, P, _v_a(P, v), _v_b(P, v)):
            return True
    return False


@njit(cache=True, error_model="numpy")
def _bar_ok(S, SH, P, kind, ending):
    if S[NEED_NOTE] or S[TUPLET_LEFT] > 0 or S[BROKEN]:
        return False
    if S[POS] == 0 and S[BOUNDARY] and S[BAR_LINES] >= MAX_BAR_LINES:
        return False
    if kind == B_NONE:
        if not (S[BOUNDARY] and S[POS] == 0) or S[TIE] != TIE_NONE:
            return False
    elif S[POS] == 0:
        if not S[BOUNDARY]:
            return False
        if kind != B_OPEN and (not S[BARS] or (P[P_ABC2MIDI] and not S[BAR_LINE_START])):
            return False
    elif _checking(S) and S[POS] != S[BAR] and not S[FREE]:
        if kind == B_PLAIN and not ending:
            return False
        if P[P_PICKUP_FINAL] and S[POS] + S[PICKUP] != S[BAR]:
            return False
    if P[P_FORM] and not _form_bar_ok(S, SH, P, kind, ending):
        return False
    if not P[P_ABC2MIDI]:
        return True
    if kind == B_OPEN and (S[OPEN_REPEAT] or S[ENDING] == 1):
        return False
    if S[TIE] != TIE_NONE and (kind != B_PLAIN or ending):
        return False
    if kind == B_OPEN and S[CLOSED] and not (_tok_is(S, C_BAR, -1) or _tok_is(S, C_BAR, C_COLON)):
        return False
    if kind == B_BOTH and not S[OPEN_REPEAT]:
        return False
    if kind == B_CLOSE and S[CLOSED] and not S[OPEN_REPEAT]:
        return False
    if S[ENDING] == 1 and (kind == B_SECTION or kind == B_OPEN):
        return False
    if ending == 1 and (S[ENDING] == 1 or S[EXPECT_SECOND] or (S[CLOSED] and kind != B_OPEN)):
        return False
    if S[EXPECT_SECOND] and ending != 2:
        return False
    if ending == 2:
        closes = kind == B_CLOSE or kind == B_BOTH
        if not (S[EXPECT_SECOND] or (closes and S[ENDING] == 1)):
            return False
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _bar_counts(S):
    if S[POS] == 0:
        return 0
    pickup = S[PART_BARS] == 0 and S[FREE] and not S[ENDING_BAR]
    return 0 if (pickup and _checking(S) and S[POS] < S[BAR]) else 1


@njit(cache=True, error_model="numpy")
def _form_bar_ok(S, SH, P, kind, ending):
    if kind == B_NONE:
        return ending != 1 or _repeated(S, SH, S[PARTS]) != 0
    counted = _bar_counts(S)
    bars = S[PART_BARS] + counted
    if kind == B_PLAIN:
        if S[POS] == 0 and _needs_open(S, SH):
            return False
        if ending == 2 and _before_first_ending(S, SH, P, bars):
            return False
        short = counted and _checking(S) and S[POS] != S[BAR] and not S[FREE]
        ok = bars < _part_max(S, SH, P) and not (ending and short)
        return ok and (ending != 1 or _repeated(S, SH, S[PARTS]) != 0)
    if not (_part_length_ok(S, SH, P, bars) or (bars == 0 and S[POS] == 0)):
        return False
    if SH[SH_ON] and not _shape_repeats_ok(S, SH, kind, ending, bars):
        return False
    if S[POS] > 0 and _checking(S) and S[POS] != _closing_limit(S, SH):
        return False
    if S[POS] == 0 and bars and _checking(S) and _closing_limit(S, SH) != S[BAR]:
        return False
    first_ending_closes = S[ENDING] == 1 and (kind == B_CLOSE or kind == B_BOTH)
    last = bars and S[PARTS] == _n_parts(S, SH, P) - 1 and not S[EXPECT_SECOND]
    if last and not ending and not first_ending_closes:
        left_open = kind == B_OPEN or kind == B_BOTH or (kind == B_SECTION and S[OPEN_REPEAT])
        tonic = S[TONIC] != 0 and S[LAST_LETTER] == S[TONIC]
        return tonic and not left_open and S[TIE] == TIE_NONE
    return True


@njit(cache=True, error_model="numpy")
def _before_first_ending(S, SH, P, bars):
    last = bars == _part_max(S, SH, P) - 1 and S[ENDING] == 0 and not S[EXPECT_SECOND]
    return last and _endings(S, SH, S[PARTS])


@njit(cache=True, error_model="numpy")
def _shape_repeats_ok(S, SH, kind, ending, bars):
    part = S[PARTS]
    if not bars:
        if _repeated(S, SH, part) == 0:
            return not (kind == B_OPEN or kind == B_BOTH or kind == B_CLOSE)
        return kind == B_OPEN or not _needs_open(S, SH)
    if ending:
        return _repeated(S, SH, part) != 0
    if S[ENDING] == 1 and (kind == B_CLOSE or kind == B_BOTH):
        return True
    closes_repeat = kind == B_CLOSE or kind == B_BOTH or S[ENDING] == 2
    repeated = _repeated(S, SH, part)
    if repeated >= 0 and closes_repeat != (repeated == 1):
        return False
    if repeated == 0 and S[OPEN_REPEAT]:
        return False
    return not ((kind == B_OPEN or kind == B_BOTH) and _repeated(S, SH, part + 1) == 0)


@njit(cache=True, error_model="numpy")
def _end_bar(S, SH, P):
    node = S[NODE]
    info = _t_value(P, node) if node >= 0 else -1
    ok = info >= 0 and _bar_ok(S, SH, P, _v_a(P, info), _v_b(P, info))
    if info >= 0:
        kind, ending = _v_a(P, info), _v_b(P, info)
    else:
        kind, ending = B_SECTION, 0
    empty = S[POS] == 0 and S[BOUNDARY]
    S[BAR_LINES] = min(S[BAR_LINES] + 1, MAX_BAR_LINES) if empty else 1
    S[MODE], S[TOKLEN], S[NODE] = M_T, 0, NO_NODE
    bars = 0
    closes_part = kind != B_NONE and kind != B_PLAIN and not ending
    closes_part = closes_part and not (S[ENDING] == 1 and (kind == B_CLOSE or kind == B_BOTH))
    closes_part = closes_part and not S[EXPECT_SECOND]
    if P[P_FORM]:
        bars = S[PART_BARS] + _bar_counts(S)
        S[NEED_ENDING] = kind == B_PLAIN and not ending and _before_first_ending(S, SH, P, bars)
        if kind != B_NONE:
            S[PART_BARS] = bars if kind == B_PLAIN else 0
        if ending == 1:
            S[ENDING_FROM] = S[PART_BARS]
        elif ending == 2:
            S[PART_BARS] = S[ENDING_FROM]
    if kind != B_NONE:
        if S[POS] > 0:
            if P[P_PICKUP_FINAL] and S[FREE] and not S[ENDING_BAR] and _checking(S):
                S[PICKUP] = S[POS] if S[POS] < S[BAR] else 0
            S[BARS] = 1
        if kind == B_CLOSE or kind == B_BOTH:
            S[OPEN_REPEAT], S[CLOSED] = 0, 1
            S[EXPECT_SECOND] = S[ENDING] == 1
            S[ENDING] = 0
        elif kind == B_SECTION and S[ENDING]:
            S[ENDING], S[EXPECT_SECOND] = 0, 0
        if kind == B_OPEN or kind == B_BOTH:
            S[OPEN_REPEAT], S[ENDING], S[EXPECT_SECOND], S[CLOSED] = 1, 0, 0, 0
        if S[POS] > 0 or not S[BARS]:
            S[FREE] = kind != B_PLAIN
        S[POS], S[LOST] = 0, 0
    if ending:
        S[ENDING], S[EXPECT_SECOND], S[FREE] = ending, 0, 1
    S[ENDING_BAR] = ending > 0
    S[BOUNDARY] = 1
    S[TONIC_ALTERED] = 0
    if P[P_FORM] and closes_part and bars:
        S[PARTS] = min(S[PARTS] + 1, _n_parts(S, SH, P))
    return ok
