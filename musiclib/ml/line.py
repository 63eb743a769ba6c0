"""The line's moves: the sampler's note choices leaned towards the moves of the corpus.

A model writing its own tunes moves the line otherwise than the tunes it learned from: the
Nottingham models turn more often than people (52-54 % of moves against 49 %) and leap less
(fourths and fifths 8 % against 10 %), although fed people's tunes they expect nearly
people's turns (docs/quality.md). The draws feed back on themselves. This module reads the
line from the symbols as they are written and weighs each candidate note by its move from
the last note, in the context of the move before it:

    logit[note] += theta[context, move]

`context` is the last move that changed the pitch (none yet, a step up, a leap up, a step
down, a leap down), whether a bar line stands between the last note and the candidate
(a tune moves into a new bar otherwise than within one), and the last note's degree in the
key (its letter's step above the key's tonic letter, 1st to 7th, or none known): so the
candidate's degree is the last note's and its move, and the lean can bring each degree's
share (the leading note's, the tonic's on a downbeat) to the corpus's too. `move` is the
candidate's step in the scale from the last note
(-SPAN..SPAN, wider moves counted at the edge). `theta` is fitted so that the sampled tunes'
moves in each context come out as often as the corpus's (`line_fit`): the correction of a
distribution's statistics towards a target by moment matching, as iterative proportional
fitting does.

Symbols are read one character at a time (`symbol_classes`): a note is its letter, in its
case's octave; octave marks after it move it by an octave before the next note is weighed;
chord symbols and annotations ("..."), decorations (!...!), field lines (`K:G`) and inline
fields (`[K:G]`) hold no notes; a key field's first letter is the tonic the degrees count
from (`K:Ador`: A). The moves do not read accidentals: the step is the letter's.
The same tracker (`_track`) moves a sampling row and counts a corpus's moves, so what the
weights lean on is what the counts measure.

The phrase lean (optional, `Line.phrase_keys` and `phi`): a tune's phrases are its runs of
intervals, and a person's phrases of 6 to 8 notes are found in other tunes of the corpus far
more often than a model's (docs/quality.md). The tracker also reads each note in semitones
(the key signature from the key field's tonic, `#` or `b` and mode; `^`, `_`, `=` before a
note, kept for its letter to the bar's end; octave marks) and keeps each row's last PHRASE
intervals; each candidate note gets

    logit[note] += phi[m]

where m is the most intervals (0..PHRASE) ending with the candidate's that a phrase of the
training tunes holds (`PhraseIndex`: every run of 1..PHRASE intervals in them, sorted keys),
the same phrases the judge's phrase idiom counts. phi is fitted in the same rounds as theta
(`line_fit` over phrase lengths) so that the sampled tunes' notes end phrases of each
length as often as the training tunes' own do, each tune judged by the others (as a
held-out tune is), not as often as the index would allow: the aim is the corpus's rate, not
copying. The tracker reads semitones from characters only: a token vocabulary's pitch and
key tokens carry accidentals and keys it does not read, so its models get no phrase lean
(`phrases_readable`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numba import njit

# A symbol's class (`symbol_classes`).
OTHER, NOTE, QUOTE, BANG, NEWLINE, COLON, OPEN, CLOSE, UP, DOWN, LETTER, BAR = range(12)
# ... a `K` (a letter that may name the key's field), a space, and a token that is a whole key
# field (`K:Ador`, `[K:G]`: its step is its tonic letter's, 0-6, or -1 for none)
KEY, SPACE, KEY_FIELD = 12, 13, 14

FLOOR = 28  # steps below C (four octaves): a note's step is never negative
SPAN = 7  # moves of up to an octave in steps of the scale; wider ones count as an octave
MOVES = 2 * SPAN + 1
MOVE_CONTEXTS = 5  # the move before: none yet, step up, leap up, step down, leap down
# ... whether a bar line stands between the last note and this one
BAR_CONTEXTS = 2 * MOVE_CONTEXTS
# ... and the last note's degree above the tonic's letter (0-6), or 7: no key read yet
DEGREES = 8
CONTEXTS = DEGREES * BAR_CONTEXTS

# A row's tracker, int64 [rows, COLUMNS]:
CUR, PRIOR, CTX, CTX_BEFORE, MODE, POS, PEND, MARKS, LAST_D, ACROSS, ROW = range(11)
# TONIC: the key's tonic letter (0-6 from C) or -1; KEYWAIT: 2 a `K` that may begin the key's
# field was just read, 1 the field's first letter (its tonic) is awaited, 3 its `#` or `b` or
# mode, 4 its mode past spaces, 5-7 a mode's next letter (after `m`, `mi`, `l`), 0 none
TONIC, KEYWAIT = 11, 12
# The phrase so far (`phrase_index`): HIST the last PHRASE intervals in semitones,
# INTERVAL_BITS each, the latest lowest; NHIST how many it holds; MOVED the intervals written
# in all; *_BEFORE what a letter that turns out to name a field gives back
HIST, HIST_BEFORE, NHIST, NHIST_BEFORE, MOVED = 13, 14, 15, 16, 17
# FOUND, FOUND_HI: the phrase lean's look-up for the last intervals FOUND_FOR held
# (`_phrase_lengths`)
FOUND, FOUND_HI, FOUND_FOR = 18, 19, 20
# The notes in semitones: PITCH the last note's (0: the C below middle C), PITCH_PRIOR the one
# before; FIFTHS the key signature (sharps, or flats below 0); PACC an accidental written
# before the next note (`_ACC_OFFSET`'s codes); BACC the bar's accidentals, one code a letter
# (`_BAR_CODE`, 0 none)
PITCH, PITCH_PRIOR, FIFTHS, PACC, BACC = 21, 22, 23, 24, 25
# The tune's own phrases: OWN.. the intervals written so far (the last OWN_MAX, by MOVED);
# OWN_ASIDE one bit per interval (0..INTERVALS-1) whose note would go on a figure of at least
# OWN_LEAST intervals the tune already played, longer than any the corpus has: the phrase
# lean stands aside for it (`_lean`); OWN_FOR the MOVED it was worked out for (and FOUND_FOR
# the last intervals)
OWN_ASIDE, OWN_FOR, OWN = 26, 27, 28
OWN_MAX = 256  # intervals of the tune kept (a Nottingham tune has 40-300 notes)
OWN_LEAST = 3  # a figure of 4 notes
COLUMNS = OWN + OWN_MAX
INTERVAL_SPAN = 12  # intervals of up to an octave in semitones; wider ones count as an octave
INTERVALS = 2 * INTERVAL_SPAN + 1
_BASE = np.array([0, 2, 4, 5, 7, 9, 11], dtype=np.int64)  # each letter's semitone above C
_MAJOR_FIFTHS = np.array([0, 2, 4, -1, 1, 3, 5], dtype=np.int64)  # each letter's major key
_SHARP_RANK = np.array([1, 3, 5, 0, 2, 4, 6], dtype=np.int64)  # F C G D A E B
_FLAT_RANK = np.array([5, 3, 1, 6, 4, 2, 0], dtype=np.int64)  # B E A D G C F
# PACC codes: none, =, ^, ^^, _, __ (their offsets), and the bar's code for each (offset + 3)
_ACC_OFFSET = np.array([0, 0, 1, 2, -1, -2], dtype=np.int64)
_BAR_CODE = np.array([0, 3, 4, 5, 2, 1], dtype=np.int64)
# MODE: where the row writes.
BODY, IN_QUOTE, IN_BANG, LINE_FIELD, INLINE_FIELD = range(5)
# PEND: what a ':' now would undo (a letter that began a line or followed '[').
P_NONE, P_LINE_LETTER, P_LINE_NOTE, P_OPEN, P_OPEN_LETTER, P_OPEN_NOTE = range(6)

PHRASE = 7  # intervals in the longest phrase the phrase lean reads: 8 notes
INTERVAL_BITS = 5  # an interval (0..INTERVALS-1) packed in a phrase key
LENGTH_SHIFT = PHRASE * INTERVAL_BITS  # a key's length (1..PHRASE intervals) above them
FOUND_BITS, FOUND_MASK = 3, 7  # a phrase's length (0..PHRASE) in a packed look-up
FOUND_LOW = 21  # intervals packed in FOUND (63 bits); the rest in FOUND_HI
# The phrase weights' step in each fitting round, against 1.0 for the moves': a note ends
# an 8-note phrase only where the seven notes before it were one of the corpus's, so a
# weight raised by its share's log gap moves the share less than the gap (at 1.0, three
# rounds left 8-note phrases at 0.31-0.33 of the training tunes' 0.34). 1.0-1.5: 2.0
# overshot, a round's share swinging either side of the target.
PHRASE_RATE = 1.5

_STEP_OF = {"C": 0, "D": 1, "E": 2, "F": 3, "G": 4, "A": 5, "B": 6}


_KEY_FIELD = re.compile(r"\[?K:\s*([A-Ga-g])?.*", re.S)  # a whole key field as one token
_BAR_LINE = re.compile(r"[:\[\]12]*\|[:\[\]|12]*")  # | and a bar line token: |: :| |1 ||
_PITCH = re.compile(r"(?:\^\^|\^|__|_|=)?([A-Ga-g])([,']*)")


def symbol_classes(vocab: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each symbol's class and, for a note, its step (C = 0 ... B = 6, c = 7 ... b = 13, plus
    FLOOR; a pitch token's octave marks are its own: `^c'` is 14). Any other symbol
    longer than a character (a field line, a chord symbol, a duration: tokens) holds no
    note; the tracker reads the rest character by character. Steps count from FLOOR below
    C, so that a low note's is still positive (a row's -1: no note yet). Any other single
    character's step is its code: the tracker reads accidentals and a key's mode by it."""
    cls = np.zeros(len(vocab), dtype=np.int64)
    step = np.zeros(len(vocab), dtype=np.int64)
    single = {'"': QUOTE, "!": BANG, "\n": NEWLINE, ":": COLON, "[": OPEN, "]": CLOSE}
    single.update({"'": UP, ",": DOWN, "K": KEY, " ": SPACE})
    for i, s in enumerate(vocab):
        pitch = _PITCH.fullmatch(s)
        if pitch:
            letter, marks = pitch.groups()
            cls[i] = NOTE
            step[i] = FLOOR + _STEP_OF[letter.upper()] + (7 if letter.islower() else 0)
            step[i] += 7 * (marks.count("'") - marks.count(","))
        elif len(s) > 1 and (key := _KEY_FIELD.fullmatch(s)):
            cls[i] = KEY_FIELD
            tonic = key.group(1)
            step[i] = _STEP_OF[tonic.upper()] if tonic else -1
        elif _BAR_LINE.fullmatch(s):
            cls[i] = BAR
        elif len(s) == 1 and s in single:
            cls[i] = single[s]
        elif len(s) == 1 and s.isalpha():
            cls[i] = LETTER
            step[i] = ord(s)
        elif len(s) == 1:
            step[i] = ord(s)
    return cls, step


def new_rows(rows: int) -> np.ndarray:
    """Trackers for rows that have written nothing."""
    ls = np.zeros((rows, COLUMNS), dtype=np.int64)
    ls[:, CUR] = -1
    ls[:, PRIOR] = -1
    ls[:, LAST_D] = -1
    ls[:, TONIC] = -1
    ls[:, FOUND_FOR] = -1
    ls[:, OWN_FOR] = -1
    return ls


@njit(cache=True, error_model="numpy", inline="always")
def _context_of(d, before):
    """The context a move of d steps leaves (d == 0 keeps the one before)."""
    if d == 0:
        return before
    if d > 0:
        return 1 if d == 1 else 2
    return 3 if d == -1 else 4


@njit(cache=True, error_model="numpy", inline="always")
def _row_of(ls, r):
    """Row r's context for its next note: the move before, a bar line between, the last
    note's degree (steps count from a C, FLOOR being four octaves of them)."""
    tonic = ls[r, TONIC]
    degree = (ls[r, CUR] % 7 - tonic + 7) % 7 if tonic >= 0 else DEGREES - 1
    return ls[r, CTX] + MOVE_CONTEXTS * ls[r, ACROSS] + BAR_CONTEXTS * degree


@njit(cache=True, error_model="numpy", inline="always")
def _clip(d):
    return min(max(d, -SPAN), SPAN) + SPAN


@njit(cache=True, error_model="numpy", inline="always")
def _pitch_of(ls, r, step):
    """The semitone of a note letter (its step, so in its case's octave) that row r would
    write now: with the accidental just written, or the bar's for its letter, or the key
    signature's. (A bar's accidental counts for its letter in every octave.)"""
    letter = (step - FLOOR) % 7
    octave = (step - FLOOR) // 7
    acc = 0
    pacc = ls[r, PACC]
    bacc = (ls[r, BACC] >> (3 * letter)) & 7
    if pacc > 0:
        acc = _ACC_OFFSET[pacc]
    elif bacc > 0:
        acc = bacc - 3
    else:
        f = ls[r, FIFTHS]
        if _SHARP_RANK[letter] < f:
            acc = 1
        elif _FLAT_RANK[letter] < -f:
            acc = -1
    return 12 * octave + _BASE[letter] + acc


@njit(cache=True, error_model="numpy", inline="always")
def _interval(d):
    return min(max(d, -INTERVAL_SPAN), INTERVAL_SPAN) + INTERVAL_SPAN


@njit(cache=True, error_model="numpy", inline="always")
def _lower(c, step):
    """A field character's lower-case code (a note letter's from its step; other characters
    have theirs as their step, `symbol_classes`)."""
    if c == NOTE:
        return 97 + (2 + (step - FLOOR) % 7) % 7
    if 65 <= step <= 90:
        return step + 32
    return step


@njit(cache=True, error_model="numpy")
def _track(ls, r, c, step, counts):
    """Row r writes a symbol of class c (a note's step `step`); with `counts` not empty,
    count the move (context, move) each note makes, and take it back if the letter turns
    out to name a field."""
    mode = ls[r, MODE]
    pos = ls[r, POS]
    pend = ls[r, PEND]
    ls[r, POS] = pos + 1
    ls[r, PEND] = P_NONE
    if c == NEWLINE:
        ls[r, MODE] = BODY
        ls[r, POS] = 0
        ls[r, MARKS] = 0
        ls[r, KEYWAIT] = 0
        return
    if mode == LINE_FIELD or mode == INLINE_FIELD:
        kw = ls[r, KEYWAIT]
        if kw == 1 and c != SPACE:  # (the key field's first letter: its tonic)
            ls[r, TONIC] = step % 7 if c == NOTE else -1
            ls[r, KEYWAIT] = 0
            if c == NOTE:
                ls[r, FIFTHS] = _MAJOR_FIFTHS[(step - FLOOR) % 7]
                ls[r, KEYWAIT] = 3
        elif kw >= 3:
            ch = _lower(c, step)
            if kw == 3 and ch == 35:  # '#'
                ls[r, FIFTHS] += 7
                ls[r, KEYWAIT] = 4
            elif kw == 3 and c == NOTE and ch == 98 and (step - FLOOR) // 7 == 1:  # 'b'
                ls[r, FIFTHS] -= 7
                ls[r, KEYWAIT] = 4
            elif c == SPACE and kw in (3, 4):
                ls[r, KEYWAIT] = 4
            elif kw in (3, 4):
                ls[r, KEYWAIT] = 0
                if ch == 109:  # m
                    ls[r, FIFTHS] -= 3
                    ls[r, KEYWAIT] = 5
                elif ch == 100:  # d
                    ls[r, FIFTHS] -= 2
                elif ch == 112:  # p
                    ls[r, FIFTHS] -= 4
                elif ch == 97:  # a(eolian)
                    ls[r, FIFTHS] -= 3
                elif ch == 108:  # l
                    ls[r, KEYWAIT] = 7
            elif kw == 5:
                ls[r, KEYWAIT] = 0
                if ch == 97:  # maj
                    ls[r, FIFTHS] += 3
                elif ch == 105:
                    ls[r, KEYWAIT] = 6
            elif kw == 6:
                ls[r, KEYWAIT] = 0
                if ch == 120:  # mix
                    ls[r, FIFTHS] += 2
            elif kw == 7:
                ls[r, KEYWAIT] = 0
                if ch == 121:  # lydian
                    ls[r, FIFTHS] += 1
                elif ch == 111:  # locrian
                    ls[r, FIFTHS] -= 5
        if mode == INLINE_FIELD and c == CLOSE:
            ls[r, MODE] = BODY
            ls[r, KEYWAIT] = 0
        return
    if mode == IN_QUOTE:
        if c == QUOTE:
            ls[r, MODE] = BODY
        return
    if mode == IN_BANG:
        if c == BANG:
            ls[r, MODE] = BODY
        return
    marks = ls[r, MARKS]
    ls[r, MARKS] = 0
    key_letter = ls[r, KEYWAIT] == 2
    ls[r, KEYWAIT] = 0
    if c == COLON and pend != P_NONE and pend != P_OPEN:
        if pend == P_LINE_NOTE or pend == P_OPEN_NOTE:  # (the letter named a field)
            ls[r, CUR] = ls[r, PRIOR]
            ls[r, CTX] = ls[r, CTX_BEFORE]
            ls[r, ACROSS] = (ls[r, ROW] // MOVE_CONTEXTS) % 2
            if counts.shape[0] > 0 and ls[r, LAST_D] >= 0:
                counts[ls[r, ROW], ls[r, LAST_D]] -= 1
            if ls[r, LAST_D] >= 0:
                ls[r, MOVED] -= 1
            ls[r, HIST] = ls[r, HIST_BEFORE]
            ls[r, NHIST] = ls[r, NHIST_BEFORE]
            ls[r, PITCH] = ls[r, PITCH_PRIOR]
        ls[r, LAST_D] = -1
        ls[r, MODE] = LINE_FIELD if pend <= P_LINE_NOTE else INLINE_FIELD
        if key_letter:
            ls[r, KEYWAIT] = 1
    elif c == QUOTE:
        ls[r, MODE] = IN_QUOTE
    elif c == BANG:
        ls[r, MODE] = IN_BANG
    elif c == NOTE:
        cur = ls[r, CUR]
        ls[r, PRIOR] = cur
        ls[r, CTX_BEFORE] = ls[r, CTX]
        ls[r, ROW] = _row_of(ls, r)
        ls[r, ACROSS] = 0
        ls[r, LAST_D] = -1
        ls[r, HIST_BEFORE] = ls[r, HIST]
        ls[r, NHIST_BEFORE] = ls[r, NHIST]
        pitch = _pitch_of(ls, r, step)
        if ls[r, PACC] > 0:
            letter = (step - FLOOR) % 7
            code = _BAR_CODE[ls[r, PACC]]
            ls[r, BACC] = (ls[r, BACC] & ~(7 << (3 * letter))) | (code << (3 * letter))
            ls[r, PACC] = 0
        ls[r, PITCH_PRIOR] = ls[r, PITCH]
        ls[r, PITCH] = pitch
        if cur >= 0:
            d = step - cur
            ls[r, LAST_D] = _clip(d)
            iv = _interval(pitch - ls[r, PITCH_PRIOR])
            ls[r, HIST] = ((ls[r, HIST] << INTERVAL_BITS) | iv) & ((1 << LENGTH_SHIFT) - 1)
            ls[r, NHIST] = min(ls[r, NHIST] + 1, PHRASE)
            ls[r, OWN + ls[r, MOVED] % OWN_MAX] = iv
            ls[r, MOVED] += 1
            if counts.shape[0] > 0:
                counts[ls[r, ROW], _clip(d)] += 1
            ls[r, CTX] = _context_of(d, ls[r, CTX])
        ls[r, CUR] = step
        ls[r, MARKS] = 1
        if pos == 0:
            ls[r, PEND] = P_LINE_NOTE
        elif pend == P_OPEN:
            ls[r, PEND] = P_OPEN_NOTE
    elif c == LETTER or c == KEY:
        if pos == 0:
            ls[r, PEND] = P_LINE_LETTER
        elif pend == P_OPEN:
            ls[r, PEND] = P_OPEN_LETTER
        if c == KEY and ls[r, PEND] != P_NONE:
            ls[r, KEYWAIT] = 2
    elif c == KEY_FIELD:
        ls[r, TONIC] = step
    elif (c == UP or c == DOWN) and marks:
        cur = max(ls[r, CUR] + (7 if c == UP else -7), 0)
        if cur != ls[r, CUR]:
            ls[r, PITCH] += 12 if c == UP else -12
        ls[r, CUR] = cur
        ls[r, MARKS] = 1
        prior = ls[r, PRIOR]
        if prior >= 0:  # (the move the letter counted was to its case's octave)
            d = cur - prior
            if counts.shape[0] > 0 and ls[r, LAST_D] >= 0:
                counts[ls[r, ROW], ls[r, LAST_D]] -= 1
                counts[ls[r, ROW], _clip(d)] += 1
            ls[r, LAST_D] = _clip(d)
            ls[r, CTX] = _context_of(d, ls[r, CTX_BEFORE])
            iv = _interval(ls[r, PITCH] - ls[r, PITCH_PRIOR])
            ls[r, HIST] = (ls[r, HIST] & ~((1 << INTERVAL_BITS) - 1)) | iv
            ls[r, OWN + (ls[r, MOVED] - 1) % OWN_MAX] = iv
    elif c == OPEN:
        ls[r, PEND] = P_OPEN
    elif c == BAR:
        ls[r, ACROSS] = 1
        ls[r, BACC] = 0
    elif c == OTHER and (step == 94 or step == 95 or step == 61):  # ^ _ =
        p = ls[r, PACC]
        if step == 94:
            ls[r, PACC] = 3 if p == 2 else 2
        elif step == 95:
            ls[r, PACC] = 5 if p == 4 else 4
        else:
            ls[r, PACC] = 1


@njit(cache=True, error_model="numpy")
def _phrase_lengths(ls, r, keys, found):
    """For each interval (0..INTERVALS-1) after row r's last intervals, the most intervals
    (up to PHRASE) ending with it that a phrase of the index holds (`phrase_index`; 0 where
    none), packed into `found` (row r's FOUND and FOUND_HI) FOUND_BITS an interval, the
    first FOUND_LOW in the first word (`_found`)."""
    found[:] = 0
    hist = ls[r, HIST]
    for length in range(1, min(ls[r, NHIST] + 1, PHRASE) + 1):
        before = hist & ((1 << (INTERVAL_BITS * (length - 1))) - 1)
        top = (length << LENGTH_SHIFT) | (before << INTERVAL_BITS)
        lo = np.searchsorted(keys, top)
        hi = np.searchsorted(keys, top + (1 << INTERVAL_BITS))
        longer = False
        for i in range(lo, hi):
            iv = keys[i] & ((1 << INTERVAL_BITS) - 1)
            word = iv // FOUND_LOW
            at = FOUND_BITS * (iv % FOUND_LOW)
            # (a phrase's shorter ends are phrases too: each length extends the last)
            if (found[word] >> at) & FOUND_MASK == length - 1:
                found[word] += 1 << at
                longer = True
        if not longer:
            break


@njit(cache=True, error_model="numpy")
def _own_aside(ls, r):
    """The OWN_ASIDE bits of row r (its tracker's comment): for each earlier interval of the
    tune, how many of the intervals before it match the tune's last ones."""
    aside = 0
    n = ls[r, MOVED]
    first = max(n - OWN_MAX, 0)
    for p in range(first + 1, n):
        length = 1  # the candidate interval own[p] itself
        while (
            length < PHRASE
            and p - length >= first
            and ls[r, OWN + (p - length) % OWN_MAX] == ls[r, OWN + (n - length) % OWN_MAX]
        ):
            length += 1
        iv = ls[r, OWN + p % OWN_MAX]
        if length >= OWN_LEAST and length > _found(ls, r, iv):
            aside |= 1 << iv
    return aside


@njit(cache=True, error_model="numpy", inline="always")
def _found(ls, r, iv):
    """Row r's looked-up phrase length (`_phrase_lengths`) for interval iv."""
    word = ls[r, FOUND + iv // FOUND_LOW]
    return (word >> (FOUND_BITS * (iv % FOUND_LOW))) & FOUND_MASK


@njit(cache=True, error_model="numpy")
def _lean(logits, ls, r, notes, steps, theta, keys, phi, out):
    """Row r's logits with each candidate note's weight for its move, and with `keys` not
    empty its weight `phi` for the longest phrase of the index it ends (in semitones), into
    `out`; returns False (and leaves `out`) where the row is not in a tune's body after a
    note. A note that goes on a figure the tune already played, longer than any phrase of
    the index it would end, gets no phrase weight: the tune's own returns are not weighed
    down for being rare in the corpus (`_own_aside`)."""
    if ls[r, MODE] != BODY or ls[r, CUR] < 0:
        return False
    out[:] = logits
    cur = ls[r, CUR]
    ctx = _row_of(ls, r)
    phrases = keys.shape[0] > 0
    if phrases:
        # (looked up once a note: a note's length, bar lines and the rest between two notes
        # leave the last intervals as they are)
        now = ls[r, HIST] | (ls[r, NHIST] << LENGTH_SHIFT)
        changed = ls[r, FOUND_FOR] != now
        if changed:
            _phrase_lengths(ls, r, keys, ls[r, FOUND : FOUND_HI + 1])
            ls[r, FOUND_FOR] = now
        # (the tune's own figures again wherever the last intervals changed, an octave mark's
        # included, or a new one left them as they were: a run of one interval)
        if changed or ls[r, OWN_FOR] != ls[r, MOVED]:
            ls[r, OWN_ASIDE] = _own_aside(ls, r)
            ls[r, OWN_FOR] = ls[r, MOVED]
    last = ls[r, PITCH]
    aside = ls[r, OWN_ASIDE]
    for k in range(notes.shape[0]):
        j = notes[k]
        out[j] += theta[ctx, _clip(steps[j] - cur)]
        if phrases:
            iv = _interval(_pitch_of(ls, r, steps[j]) - last)
            if not (aside >> iv) & 1:
                out[j] += phi[_found(ls, r, iv)]
    return True


@njit(cache=True, error_model="numpy")
def _walk(ls, classes, steps, ids, counts):
    """Row 0 of `ls` writes `ids` (counting into `counts` when it is not empty)."""
    for i in range(ids.shape[0]):
        v = ids[i]
        _track(ls, 0, classes[v], steps[v], counts)


@njit(cache=True, error_model="numpy")
def _walk_intervals(ls, classes, steps, ids, out):
    """Row 0 of `ls` writes `ids`; `out` receives the intervals its notes make (after their
    octave marks, without the letters that named fields). Returns how many."""
    no_counts = np.zeros((0, 0), dtype=np.int64)
    n = 0
    for i in range(ids.shape[0]):
        v = ids[i]
        before = ls[0, MOVED]
        _track(ls, 0, classes[v], steps[v], no_counts)
        after = ls[0, MOVED]
        if after > before:
            out[n] = ls[0, HIST] & ((1 << INTERVAL_BITS) - 1)
            n += 1
        elif after < before:
            n -= 1
        elif n > 0 and (classes[v] == UP or classes[v] == DOWN):
            out[n - 1] = ls[0, HIST] & ((1 << INTERVAL_BITS) - 1)
    return n


def piece_intervals(*, ids: Sequence[int], classes: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """The intervals (0..INTERVALS-1: -INTERVAL_SPAN..INTERVAL_SPAN semitones) a piece's
    notes make, as the tracker reads them."""
    ids = np.asarray(ids, dtype=np.int64)
    out = np.zeros(max(len(ids), 1), dtype=np.int64)
    n = _walk_intervals(new_rows(1), classes, steps, ids, out)
    return out[:n]


@njit(cache=True, error_model="numpy")
def _phrase_keys(intervals):
    """Every phrase of 1..PHRASE intervals in `intervals` (`piece_intervals`), as keys (its
    length above its intervals, the latest lowest)."""
    out = np.empty(intervals.shape[0] * PHRASE, dtype=np.int64)
    n = 0
    for t in range(intervals.shape[0]):
        packed = 0
        for length in range(1, min(t + 1, PHRASE) + 1):
            packed |= intervals[t - length + 1] << (INTERVAL_BITS * (length - 1))
            out[n] = (length << LENGTH_SHIFT) | packed
            n += 1
    return out[:n]


@njit(cache=True, error_model="numpy")
def _phrase_matches(intervals, keys, tunes, least, out):
    """out[t] = the most intervals ending with interval t (up to PHRASE) that `least` or
    more of the index's tunes hold."""
    for t in range(intervals.shape[0]):
        m = 0
        packed = 0
        for length in range(1, min(t + 1, PHRASE) + 1):
            packed |= intervals[t - length + 1] << (INTERVAL_BITS * (length - 1))
            key = (length << LENGTH_SHIFT) | packed
            i = np.searchsorted(keys, key)
            if i < keys.shape[0] and keys[i] == key and tunes[i] >= least:
                m = length
            else:
                break
        out[t] = m


@dataclass(frozen=True)
class PhraseIndex:
    """Every phrase of 1 to PHRASE intervals in a corpus's tunes (sorted keys) and in how
    many different tunes each stands (a tune transposed is the same tune: its intervals
    are)."""

    keys: np.ndarray  # int64, sorted
    tunes: np.ndarray  # int64

    def matches(self, intervals: np.ndarray, *, least: int = 1) -> np.ndarray:
        """Per interval of a piece, the longest phrase ending with it that `least` tunes hold
        (0..PHRASE intervals)."""
        out = np.zeros(len(intervals), dtype=np.int64)
        _phrase_matches(np.asarray(intervals, np.int64), self.keys, self.tunes, least, out)
        return out


def phrase_index(intervals: Iterable[np.ndarray]) -> PhraseIndex:
    """The index of these pieces' phrases (`piece_intervals` of each)."""
    seen: set[bytes] = set()
    parts = [np.zeros(0, np.int64)]
    for m in intervals:
        m = np.asarray(m, dtype=np.int64)
        if m.tobytes() in seen:
            continue
        seen.add(m.tobytes())
        parts.append(np.unique(_phrase_keys(m)))
    keys, tunes = np.unique(np.concatenate(parts), return_counts=True)
    return PhraseIndex(keys=keys.astype(np.int64), tunes=tunes.astype(np.int64))


def phrases_readable(vocab: Sequence[str]) -> bool:
    """Whether the tracker reads this vocabulary's notes in semitones: every note a single
    letter (accidentals and octave marks symbols of their own) and no whole key field."""
    classes, _ = symbol_classes(vocab)
    note_or_key = (classes == NOTE) | (classes == KEY_FIELD)
    return all(len(s) == 1 for s, k in zip(vocab, note_or_key, strict=True) if k)


PHRASES_STATE = "way_phrases"  # the training tunes' phrase keys, saved with a checkpoint


def phrase_state(*, vocab: Sequence[str], pieces: Iterable[Sequence[int]]) -> dict:
    """The way arrays the phrase lean samples with: the keys of the training pieces'
    phrases (`phrase_index`), to save with each checkpoint."""
    classes, steps = symbol_classes(vocab)
    intervals = (piece_intervals(ids=p, classes=classes, steps=steps) for p in pieces)
    return {PHRASES_STATE: phrase_index(intervals).keys}


def phrase_counts(
    *, intervals: Iterable[np.ndarray], index: PhraseIndex, own: bool = False
) -> np.ndarray:
    """How many notes end a phrase of the index of 0..PHRASE intervals and no longer,
    float64 [PHRASE + 1], each piece weighing as much as any other: its counts scaled by the
    pieces' mean length over its own. (A listener, like the judge, hears tunes, not a pool of
    notes: pooled counts let a few long pieces full of the corpus's phrases stand for many
    short ones with none.) `own`: the pieces are the index's own tunes, each judged by the
    others' (a phrase counts where another tune holds it), as held-out tunes would be."""
    per_piece = [
        np.bincount(index.matches(m, least=2 if own else 1), minlength=PHRASE + 1)
        for m in intervals
        if len(m)
    ]
    if not per_piece:
        return np.zeros(PHRASE + 1, dtype=np.float64)
    found = np.array(per_piece, dtype=np.float64)
    notes = found.sum(axis=1, keepdims=True)
    return (found * (notes.mean() / notes)).sum(axis=0)


def line_counts(
    *, pieces: Iterable[Sequence[int]], classes: np.ndarray, steps: np.ndarray
) -> np.ndarray:
    """How often the notes of these pieces (symbol ids) make each move in each context:
    int64 [CONTEXTS, MOVES], as the tracker reads them while sampling."""
    counts = np.zeros((CONTEXTS, MOVES), dtype=np.int64)
    for ids in pieces:
        _walk(new_rows(1), classes, steps, np.asarray(ids, dtype=np.int64), counts)
    return counts


def line_fit(
    *,
    theta: np.ndarray,
    target: np.ndarray,
    written: np.ndarray,
    rate: float = 1.0,
    least: int = 20,
    bound: float = 3.0,
) -> np.ndarray:
    """One step of moment matching: theta moved by the log ratio of each move's share in
    its context (each row of the last axis: for the phrase weights, one row of phrase
    lengths), the target's (the corpus's counts) against what the sampler wrote with
    `theta`. Cells either side counts fewer than `least` times stay (too few to compare);
    weights stay within +-`bound` nats."""
    t = target.astype(np.float64) + 0.5
    w = written.astype(np.float64) + 0.5
    gap = np.log(t / t.sum(axis=-1, keepdims=True)) - np.log(w / w.sum(axis=-1, keepdims=True))
    enough = (target >= least) & (written >= least)
    out = theta + rate * np.where(enough, gap, 0.0)
    return np.clip(out, -bound, bound).astype(np.float32)


def line_shares(counts: np.ndarray) -> dict[str, float]:
    """The shares a musician reads: of the notes that move after a move, how many turn;
    of all moves, steps, thirds, fourths and fifths, wider; of the notes after a note in a
    known key, how many land on its tonic and on its 5th."""
    c = counts.astype(np.float64)
    total = c.sum()
    moves = np.arange(-SPAN, SPAN + 1)
    by_move = c.sum(axis=0)
    kind = np.arange(CONTEXTS) % MOVE_CONTEXTS  # (the move before, across a bar line or not)
    up_before = c[(kind == 1) | (kind == 2)].sum(axis=0)
    down_before = c[(kind == 3) | (kind == 4)].sum(axis=0)
    turns = up_before[moves < 0].sum() + down_before[moves > 0].sum()
    moving = up_before[moves != 0].sum() + down_before[moves != 0].sum()
    size = np.abs(moves)

    def share(sel) -> float:
        return float(by_move[sel].sum() / total) if total else 0.0

    # where each (context, move) lands: the last note's degree and the move, in the key
    degree = np.arange(CONTEXTS)[:, None] // BAR_CONTEXTS
    lands = (degree + moves[None, :]) % 7
    keyed = c * (degree < DEGREES - 1)
    in_key = keyed.sum()

    def on(d: int) -> float:
        return float(keyed[lands == d].sum() / in_key) if in_key else 0.0

    return {
        "turns": float(turns / moving) if moving else 0.0,
        "repeats": share(size == 0),
        "steps": share(size == 1),
        "thirds": share(size == 2),
        "fourths_fifths": share((size == 3) | (size == 4)),
        "wider": share(size >= 5),
        "tonic": on(0),
        "fifth": on(4),
    }


def full_theta(theta: np.ndarray) -> np.ndarray:
    """Weights as `_lean` reads them, float32 [CONTEXTS, MOVES]. Weights fitted before the
    last note's degree was part of the context ([BAR_CONTEXTS, MOVES], a checkpoint's stored
    moves) serve every degree alike, as they did."""
    theta = np.asarray(theta, dtype=np.float32)
    if theta.shape == (BAR_CONTEXTS, MOVES):
        theta = np.tile(theta, (DEGREES, 1))
    if theta.shape != (CONTEXTS, MOVES):
        raise ValueError(f"the line's weights are {CONTEXTS} x {MOVES}, not {theta.shape}")
    return np.ascontiguousarray(theta)


@dataclass(frozen=True)
class Line:
    """What the sampler needs to lean a vocabulary's notes (`sampler.sample(line=)`)."""

    classes: np.ndarray  # int64 [vocab]: `symbol_classes`
    steps: np.ndarray  # int64 [vocab]
    theta: np.ndarray  # float32 [CONTEXTS, MOVES]: nats added to a candidate note's logit
    # the phrase lean (empty: off): the corpus's phrases (`PhraseIndex.keys`), and the nats
    # added to a candidate note that ends one of 0..PHRASE moves and no longer
    phrase_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    phi: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))

    @property
    def notes(self) -> np.ndarray:
        return np.flatnonzero(self.classes == NOTE).astype(np.int64)

    @classmethod
    def of(
        cls,
        vocab: Sequence[str],
        theta: np.ndarray,
        *,
        phrase_keys: np.ndarray | None = None,
        phi: np.ndarray | None = None,
    ) -> Line:
        """`phrase_keys` (`PhraseIndex.keys` of the training tunes) and `phi` together turn
        the phrase lean on."""
        classes, steps = symbol_classes(vocab)
        if phrase_keys is None or phi is None:
            return cls(classes=classes, steps=steps, theta=full_theta(theta))
        if not phrases_readable(vocab):
            raise ValueError("the phrase lean reads characters: this vocabulary's notes are tokens")
        return cls(
            classes=classes,
            steps=steps,
            theta=full_theta(theta),
            phrase_keys=np.ascontiguousarray(phrase_keys, dtype=np.int64),
            phi=phrase_weights(phi),
        )


def line_rows(line: Line, *, rows: int, prime: Sequence[int]) -> np.ndarray:
    """Trackers for `rows` rows that have written `prime` (the same walk for every row)."""
    one = new_rows(1)
    no_counts = np.zeros((0, 0), dtype=np.int64)
    _walk(one, line.classes, line.steps, np.asarray(prime, dtype=np.int64), no_counts)
    return np.repeat(one, rows, axis=0)


def text_counts(texts: Iterable[str]) -> np.ndarray:
    """`line_counts` of finished texts, read character by character."""
    texts = list(texts)
    chars = sorted({c for t in texts for c in t})
    classes, steps = symbol_classes(chars)
    index = {c: i for i, c in enumerate(chars)}
    return line_counts(pieces=[[index[c] for c in t] for t in texts], classes=classes, steps=steps)


@dataclass(frozen=True)
class LineWeights:
    """The weights a lean samples with: each move's in its context, and, where fitted, each
    phrase length's (`phi`, PHRASE + 1; None: no phrase lean)."""

    theta: np.ndarray
    phi: np.ndarray | None = None


@dataclass(frozen=True)
class LineFit:
    """A fitted lean and what it did: the shares (`line_shares`, and where the phrases were
    fitted too `phrase_shares`) of the target's moves, of the pieces drawn without a lean,
    and of the pieces drawn with the weights fitted."""

    theta: np.ndarray
    target: dict[str, float]
    before: dict[str, float]
    after: dict[str, float]
    pieces: int  # drawn in each round
    phi: np.ndarray | None = None  # the phrase lean's weights (None: fitted before it)

    @property
    def weights(self) -> LineWeights:
        return LineWeights(theta=self.theta, phi=self.phi)

    def to_dict(self) -> dict:
        out = {
            "theta": np.round(self.theta.astype(np.float64), 4).tolist(),
            "target": self.target,
            "before": self.before,
            "after": self.after,
            "pieces": self.pieces,
        }
        if self.phi is not None:
            out["phi"] = np.round(self.phi.astype(np.float64), 4).tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> LineFit:
        phi = data.get("phi")
        return cls(
            theta=full_theta(data["theta"]),
            target=dict(data["target"]),
            before=dict(data["before"]),
            after=dict(data["after"]),
            pieces=int(data["pieces"]),
            phi=None if phi is None else phrase_weights(phi),
        )


def phrase_weights(phi) -> np.ndarray:
    """The phrase lean's weights as `_lean` reads them, float32 [PHRASE + 1]."""
    phi = np.ascontiguousarray(phi, dtype=np.float32)
    if phi.shape != (PHRASE + 1,):
        raise ValueError(f"the phrase weights are {PHRASE + 1}, not {phi.shape}")
    return phi


def text_intervals(texts: Iterable[str]) -> list[np.ndarray]:
    """`piece_intervals` of finished texts, read character by character."""
    texts = list(texts)
    chars = sorted({c for t in texts for c in t})
    classes, steps = symbol_classes(chars)
    index = {c: i for i, c in enumerate(chars)}
    return [piece_intervals(ids=[index[c] for c in t], classes=classes, steps=steps) for t in texts]


def phrase_shares(counts: np.ndarray) -> dict[str, float]:
    """Of the notes after the fourth, how many end a phrase of 4, 5, ... 8 notes found in
    the index (`phrase_counts`): "phrases_4" .. "phrases_8"."""
    c = counts.astype(np.float64)
    total = c.sum()
    longer = np.cumsum(c[::-1])[::-1]  # notes ending a phrase of m moves or more
    return {
        f"phrases_{m + 1}": float(longer[m] / total) if total else 0.0 for m in range(3, PHRASE + 1)
    }


def line_fit_rounds(
    *,
    target: np.ndarray,
    draw: Callable[[LineWeights, int], Sequence[str]],
    rounds: int,
    rate: float = 1.0,
    phrases: PhraseIndex | None = None,
    phrase_target: np.ndarray | None = None,
    phrase_rate: float = PHRASE_RATE,
) -> LineFit:
    """Fit a lean by `rounds` steps of `line_fit`: `draw(weights, k)` writes round k's
    pieces (finished texts; each round on seeds of its own) with the weights so far, from
    none. A last draw measures the weights fitted, on seeds no round fitted on. With
    `phrases` (the training tunes' index) and `phrase_target` (their `phrase_counts`, each
    judged by the others) the phrase lean is fitted in the same rounds (`line_fit` over
    phrase lengths, by steps of `phrase_rate`)."""
    theta = np.zeros((CONTEXTS, MOVES), dtype=np.float32)
    fit_phrases = phrases is not None and phrase_target is not None
    phi = np.zeros(PHRASE + 1, dtype=np.float32) if fit_phrases else None
    before = written = None
    pieces = 0
    for k in range(rounds + 1):
        texts = list(draw(LineWeights(theta=theta, phi=phi), k))
        pieces = len(texts)
        written = text_counts(texts)
        shares = line_shares(written)
        if fit_phrases:
            found = phrase_counts(intervals=text_intervals(texts), index=phrases)
            shares.update(phrase_shares(found))
        if k == 0:
            before = shares
        if k < rounds:
            theta = line_fit(theta=theta, target=target, written=written, rate=rate)
            if fit_phrases:
                phi = line_fit(theta=phi, target=phrase_target, written=found, rate=phrase_rate)
    aim = line_shares(target)
    if fit_phrases:
        aim.update(phrase_shares(phrase_target))
    return LineFit(theta=theta, target=aim, before=before, after=shares, pieces=pieces, phi=phi)
