"""The compiled sampling loop against the numpy reference, for every way: the same piece for
the same seed, token for token, with temperature, top-k, top-p, primes, restarts and masks
(Python grammars and compiled grammar tables)."""

from __future__ import annotations

import numpy as np
import pytest

from musiclib.ml import sampler
from musiclib.ml.fastloop import GrammarTables
from musiclib.ways import get_way
from musiclib.ways.base import END_ID, SPECIALS, START_ID
from tests.library.ways_midi.midi_texts import ASCENT, WALTZ

REEL = """M:4/4
L:1/8
K:D
|:A2FA dAFA|B2GB dBGB|A2FA dAFA|BAGF E2D2:|
|:d2fd Adfd|e2ge Bege|d2fd Adfd|edcB A2A2:|
"""
JIG = """M:6/8
L:1/8
K:G
|:GAG GBd|gfe dBG|cBA BAG|A3 D3:|
"""


def random_net(
    *, vocab: int, units: list[int], dense: list[int], seed: int, look_back: int = 0
) -> sampler.Net:
    """An embedding → LSTM stack → dense net with random weights, scaled so that the next
    symbol is neither certain nor uniform (as a half-trained model's); with `look_back`
    heads (of 8), a look back after the last LSTM."""
    rng = np.random.default_rng(seed)

    def w(*shape, scale=0.6):
        return (rng.normal(0, scale / np.sqrt(shape[0]), shape)).astype(np.float32)

    recurrent, biases = [w(units[0], 4 * units[0])], [w(1, 4 * units[0])[0]]
    prev = units[0]
    for h in units[1:]:
        recurrent.append(w(prev + h, 4 * h))
        biases.append(w(1, 4 * h)[0])
        prev = h
    looking = None
    if look_back:
        width = 8 * look_back
        looking = sampler.LookBack(
            wq=w(prev, width, scale=3.0), wk=w(prev, width, scale=3.0), wv_h=w(prev, width),
            vtable=w(vocab, width, scale=3.0), wo=w(width, prev, scale=3.0), bo=w(1, prev)[0],
            heads=look_back, dim=8,
        )  # fmt: skip
        prev *= 2
    layers = []
    for width in dense:
        layers.append((w(prev, width), w(1, width)[0], True))
        prev = width
    layers.append((w(prev, vocab, scale=6.0), w(1, vocab)[0], False))
    return sampler.Net(
        table=w(vocab, 4 * units[0], scale=3.0),
        recurrent=recurrent,
        biases=biases,
        dense=layers,
        units=list(units),
        look_back=looking,
    )


def way_vocab(name: str, vocabulary: str | None = None) -> list[str]:
    if name == "audio":  # codewords need a codebook; the sampler only sees their ids
        return [*SPECIALS, *(f"a{i}" for i in range(40))]
    way = get_way(name)
    texts = [ASCENT, WALTZ] if name == "midi" else [REEL, JIG]
    overrides = {"vocabulary": vocabulary} if vocabulary else {}
    config = way.resolve_config(preset="tiny", overrides={**overrides, "val_fraction": 0})
    return way.prepare(texts=texts, config=config, seed=0).vocab


# (way, vocabulary, prime text, sampler settings as the generation service passes them,
# look-back heads)
WAYS = {
    "abc-chars": ("abc", "chars", "M:6/8\nL:1/8\nK:G\n", {}, 0),
    "abc-tokens": ("abc", "tokens", "M:4/4\nL:1/8\nK:D\n", {}, 0),
    "midi": ("midi", None, "M:4/4 K:0 n60_1", {}, 0),
    "audio": ("audio", None, "", {"restart_id": START_ID}, 0),
    # A look back (ml.model.LookBack) after the last LSTM; with restarts, its cache empties.
    "abc-chars-look-back": ("abc", "chars", "M:6/8\nL:1/8\nK:G\n", {}, 2),
    "audio-look-back": ("audio", None, "", {"restart_id": START_ID}, 2),
}


@pytest.fixture(scope="module", params=list(WAYS))
def way_case(request):
    name, vocabulary, prime_text, extra, heads = WAYS[request.param]
    vocab = way_vocab(name, vocabulary)
    way = get_way(name)
    prime = way.encode_prime(vocab=vocab, prime=prime_text) if prime_text else [START_ID]
    net = random_net(vocab=len(vocab), units=[32, 24], dense=[16], seed=len(vocab), look_back=heads)
    return request.param, way, vocab, net, prime, extra


SETTINGS = [
    {},
    {"temperature": 0.7},
    {"top_k": 5},
    {"top_p": 0.8},
    {"temperature": 1.3, "top_k": 12, "top_p": 0.95},
]


@pytest.mark.parametrize(
    "settings", SETTINGS, ids=lambda s: ",".join(map(str, s.items())) or "plain"
)
def test_each_way_gets_the_same_pieces_as_the_numpy_reference(way_case, settings):
    name, way, vocab, net, prime, extra = way_case
    # Batches below and above the size where the products go to BLAS.
    for seeds in ([7], list(range(100, 112))):
        args = dict(prime=prime, seeds=seeds, max_tokens=300, **extra, **settings)
        fast = sampler.sample(net, **args)
        assert fast == sampler.sample_numpy(net, **args)
        assert all(len(piece) > 0 for piece in fast)


def test_each_ways_grammar_masks_the_compiled_loop_as_the_reference(way_case):
    """ABC (characters and tokens) and MIDI run their Python grammars between compiled
    steps, audio its phrase rule as tables."""
    name, way, vocab, net, prime, extra = way_case
    assert way.grammar(vocab=vocab) is not None
    args = dict(prime=prime, seeds=[3, 4, 5], max_tokens=200, temperature=1.2, **extra)
    fast = sampler.sample(net, constraint=way.grammar(vocab=vocab), **args)
    slow = sampler.sample_numpy(net, constraint=way.grammar(vocab=vocab), **args)
    assert fast == slow
    if name.startswith("abc"):
        for ids in fast:
            body = way.decode(vocab=vocab, ids=ids)
            assert "\n\n" not in body


def test_a_piece_is_the_same_alone_or_in_a_batch_and_differs_by_seed(way_case):
    _, _, _, net, prime, extra = way_case
    batch = sampler.sample(net, prime=prime, seeds=[1, 2, 3], max_tokens=120, **extra)
    alone = sampler.sample(net, prime=prime, seeds=[2], max_tokens=120, **extra)
    assert alone[0] == batch[1]
    assert batch[0] != batch[1]


# --- the draw: top-k and top-p ---------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    return random_net(vocab=30, units=[24, 16], dense=[12], seed=4)


def step_probabilities(net, ids, temperature=1.0):
    """The reference's next-symbol distribution after `ids` (the prime and what followed)."""
    state = sampler.State(net, 1)
    for tok in ids:
        logits = sampler.step(net, state, np.array([tok]))[0]
    z = logits.astype(np.float64) / temperature
    p = np.exp(z - z.max())
    return p / p.sum()


def test_top_p_draws_only_from_the_nucleus_of_each_step(small):
    out = sampler.sample(small, prime=[1], seeds=list(range(20)), top_p=0.5, max_tokens=30)
    for piece in out:
        ids = [1]
        for tok in piece:
            p = step_probabilities(small, ids)
            order = np.argsort(-p)
            cum = np.cumsum(p[order])
            nucleus = set(order[: int(np.searchsorted(cum, 0.5 - 1e-6)) + 1].tolist())
            assert tok in nucleus
            ids.append(tok)


def test_top_p_of_a_tiny_share_is_greedy_and_of_one_is_off(small):
    greedy = sampler.sample(small, prime=[1, 5], seeds=[1], top_k=1, max_tokens=40, end_id=-1)
    tiny_p = sampler.sample(small, prime=[1, 5], seeds=[1], top_p=1e-6, max_tokens=40, end_id=-1)
    assert tiny_p == greedy
    plain = sampler.sample(small, prime=[1], seeds=[1, 2], max_tokens=60)
    assert sampler.sample(small, prime=[1], seeds=[1, 2], top_p=1.0, max_tokens=60) == plain


def test_top_p_narrows_what_is_drawn(small):
    def distinct(**kw):
        out = sampler.sample(
            small, prime=[1], seeds=list(range(40)), max_tokens=40, end_id=-1, **kw
        )
        return len({tok for piece in out for tok in piece})

    assert distinct(top_p=0.3) < distinct(top_p=0.9) <= distinct()


def test_top_k_keeps_only_the_k_likeliest_symbols_of_each_step(small):
    out = sampler.sample(small, prime=[1], seeds=list(range(10)), top_k=3, max_tokens=25)
    for piece in out:
        ids = [1]
        for tok in piece:
            p = step_probabilities(small, ids)
            assert p[tok] >= np.sort(p)[-3] - 1e-7
            ids.append(tok)


@pytest.mark.parametrize(
    "bad,words",
    [
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.2}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"temperature": 0}, "temperature"),
        ({"prime": []}, "prime"),
    ],
)
def test_it_refuses_settings_out_of_range(small, bad, words):
    with pytest.raises(ValueError, match=words):
        sampler.sample(small, **{"prime": [1], "seeds": [1], **bad})


# --- restarts --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ending():
    """A net that draws END often (its bias raised), so phrases end and restart."""
    net = random_net(vocab=30, units=[24, 16], dense=[12], seed=4)
    net.dense[-1][1][END_ID] += 7.0
    return net


def test_a_restarting_piece_holds_max_tokens_symbols_besides_its_phrase_ends(ending):
    small = ending
    out = sampler.sample(small, prime=[1], seeds=[1, 2, 3], max_tokens=150, restart_id=START_ID)
    for piece in out:
        assert sum(tok != END_ID for tok in piece) == 150
    assert any(END_ID in piece for piece in out)  # phrases did end and restart
    again = sampler.sample_numpy(
        small, prime=[1], seeds=[1, 2, 3], max_tokens=150, restart_id=START_ID
    )
    assert out == again


def test_after_a_restart_a_phrase_continues_as_a_fresh_piece_would(ending):
    """A restart zeroes the state and feeds START: what follows an END is what a new piece
    draws from the same uniform numbers."""
    small = ending
    piece = sampler.sample(small, prime=[1], seeds=[2], max_tokens=150, restart_id=START_ID)[0]
    first_end = piece.index(END_ID)
    uniforms = np.random.default_rng(2).random(300)
    from musiclib.ml import fastloop

    fresh = fastloop.sample(
        small,
        prime=[1],
        uniforms=uniforms[None, first_end + 1 : first_end + 11],
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        max_tokens=10,
        end_id=-1,
        restart_id=None,
        tables=None,
    )[0]
    assert piece[first_end + 1 : first_end + 11] == fresh


# --- grammar tables --------------------------------------------------------------------------


def toy_tables(vocab: int) -> GrammarTables:
    """A toy grammar: state 0 allows only odd symbols, state 1 only even ones (END, 2,
    among them); each symbol leads to the other state, so the parities alternate."""
    allowed = np.zeros((2, vocab), dtype=bool)
    allowed[0, 1::2] = True
    allowed[1, 0::2] = True
    allowed[:, 0] = False  # never PAD
    next_state = np.where(allowed, np.array([[1], [0]]), -1).astype(np.int32)
    return GrammarTables(allowed=allowed, next_state=next_state, start=0)


def tables_as_constraint(tables: GrammarTables, prime_len: int):
    """The same rule as a Python constraint, walking the tables over a row's ids."""

    def constraint(row, ids):
        state = tables.start
        for tok in ids[prime_len:]:
            state = tables.next_state[state, tok]
        return tables.allowed[state]

    return constraint


def test_grammar_tables_are_honoured_at_every_step(small):
    tables = toy_tables(30)
    out = sampler.sample(
        small, prime=[1, 4], seeds=list(range(12)), max_tokens=80, constraint=tables
    )
    for piece in out:
        for i, tok in enumerate(piece):
            assert tok != 0
            assert tok % 2 == (1 if i % 2 == 0 else 0), piece
    assert any(piece[-1] == END_ID for piece in out)


def test_grammar_tables_draw_what_the_same_rule_draws_as_a_python_constraint(small):
    tables = toy_tables(30)
    args = dict(prime=[1, 4], seeds=list(range(12)), max_tokens=80, top_k=6, top_p=0.9)
    fast = sampler.sample(small, constraint=tables, **args)
    assert fast == sampler.sample_numpy(small, constraint=tables_as_constraint(tables, 2), **args)
    assert fast == sampler.sample(small, constraint=tables_as_constraint(tables, 2), **args)


def test_a_grammar_object_may_give_its_tables_for_the_prime(small):
    tables = toy_tables(30)
    seen = []

    class Grammar:
        def __call__(self, row, ids):  # pragma: no cover - the tables are used instead
            raise AssertionError("the Python path ran although tables were given")

        def tables(self, prime):
            seen.append(list(prime))
            return tables

    out = sampler.sample(small, prime=[1, 7], seeds=[3], max_tokens=40, constraint=Grammar())
    assert seen == [[1, 7]]
    assert out == sampler.sample(small, prime=[1, 7], seeds=[3], max_tokens=40, constraint=tables)


def test_tables_that_do_not_fit_the_vocabulary_are_refused(small):
    tables = toy_tables(29)
    with pytest.raises(ValueError, match="vocabulary of 30"):
        sampler.sample(small, prime=[1], seeds=[1], constraint=tables)


def test_the_audio_phrase_rule_as_tables_never_ends_an_empty_phrase():
    vocab = way_vocab("audio")
    net = random_net(vocab=len(vocab), units=[16], dense=[], seed=9)
    # END made likely, so phrases end often.
    net.dense[-1][1][END_ID] += 4.0
    rule = get_way("audio").grammar(vocab=vocab)
    out = sampler.sample(
        net, prime=[START_ID], seeds=[1, 2], max_tokens=100, restart_id=START_ID, constraint=rule
    )
    for piece in out:
        assert piece.count(END_ID) > 3
        assert piece[0] != END_ID
        assert all(
            not (a == END_ID and b == END_ID) for a, b in zip(piece, piece[1:], strict=False)
        )
        assert not {0, START_ID} & set(piece)  # no PAD, and START only as the restart


class ToyLazyTables:
    """The toy grammar as an automaton that builds its successors while sampling, with the
    protocol of one (`start`, `allowed`, `step`); it counts the successors it built."""

    def __init__(self, tables: GrammarTables):
        self.tables_ = tables
        self.allowed = tables.allowed
        self.built = 0

    def start(self, prime):
        return self.tables_.start

    def step(self, states, symbols):
        self.built += len(states)
        return self.tables_.next_state[states, symbols]


def test_tables_built_while_sampling_draw_what_fixed_tables_draw(small):
    tables = toy_tables(30)
    lazy = ToyLazyTables(tables)
    args = dict(prime=[1, 4], seeds=list(range(12)), max_tokens=80, top_k=6, top_p=0.9)
    fast = sampler.sample(small, constraint=lazy, **args)
    assert lazy.built > 0
    assert fast == sampler.sample(small, constraint=tables, **args)
    assert fast == sampler.sample_numpy(small, constraint=tables_as_constraint(tables, 2), **args)


def loops_of(way_name, way, vocab, prime):
    """(label, fastloop function, its constraint keyword) for every loop a way samples in."""
    from musiclib.ml import fastloop

    loops = [("plain", fastloop.sample, {"tables": None})]
    grammar = way.grammar(vocab=vocab)
    if hasattr(grammar, "tables"):
        loops.append(("tables", fastloop.sample, {"tables": grammar.tables(list(prime))}))
    if grammar is not None and callable(grammar):
        loops.append(("python", fastloop.sample_constrained, {"constraint": grammar}))
    if hasattr(grammar, "automaton"):
        automaton = grammar.automaton()
        loops.append(("lazy", fastloop.sample_lazy_tables, {"automaton": automaton,
                                                             "compiled_loop": False}))  # fmt: skip
        loops.append(("registered", fastloop.sample_registered_tables, {"automaton": automaton}))
    if hasattr(way, "returns_flags"):  # bars restated: symbols fed, not drawn, counted too
        from musiclib.ml import returns as rt

        plan = np.full(rt.MAX_BARS, -1, dtype=np.int32)
        plan[2], plan[3] = 0, 1

        def restating():
            flags = way.returns_flags(vocab=vocab)
            return rt.Returns(flags=flags, plans=np.tile(plan, (3, 1)))

        loops.append(("returns", fastloop.sample_lazy_tables, {
            "automaton": grammar.automaton(), "returns": restating()}))  # fmt: skip
        loops.append(("returns, python steps", fastloop.sample_lazy_tables, {
            "automaton": grammar.automaton(), "returns": restating(),
            "compiled_loop": False}))  # fmt: skip
        loops.append(("returns, no grammar", fastloop.sample, {
            "tables": None, "returns": restating()}))  # fmt: skip
    return loops


def test_every_loop_adds_up_the_surprise_the_model_gives_what_it_wrote(way_case):
    """The takes are weighed by it: the loop's sum, over each piece's length, is
    `sampler.surprise` of the ids it returned (restarts included)."""
    name, way, vocab, net, prime, extra = way_case
    seeds, max_tokens = [5, 6, 7], 150
    restart = extra.get("restart_id")
    draws = max_tokens if restart is None else 2 * max_tokens
    uniforms = np.stack([np.random.default_rng(s).random(draws) for s in seeds])
    common = dict(prime=prime, uniforms=uniforms, temperature=0.9, top_k=0, top_p=1.0,
                  max_tokens=max_tokens, end_id=END_ID, restart_id=restart)  # fmt: skip
    sampler.State(net, 1)  # (fuses the gates the loops read, as sampler.sample does)
    for label, loop, constraint in loops_of(name, way, vocab, prime):
        nats = np.zeros(len(seeds))
        pieces = loop(net, **common, **constraint, nats=nats)
        want = sampler.surprise(net, prime=prime, pieces=pieces, end_id=END_ID, restart_id=restart)
        got = nats / np.array([len(ids) for ids in pieces])
        np.testing.assert_allclose(got, want, rtol=1e-4, err_msg=f"{name}, {label}")


def test_every_loop_ends_the_takes_trial_keeping_the_least_surprising_take_whole(way_case):
    """With a trial, each piece's takes stop after `trial` symbols but the one the model
    found least surprising so far, which goes on to the piece it would have been alone."""
    name, way, vocab, net, prime, extra = way_case
    seeds, max_tokens, trial = [5, 6, 7], 150, 12  # three takes of one piece
    restart = extra.get("restart_id")
    draws = max_tokens if restart is None else 2 * max_tokens
    uniforms = np.stack([np.random.default_rng(s).random(draws) for s in seeds])
    common = dict(prime=prime, uniforms=uniforms, temperature=0.9, top_k=0, top_p=1.0,
                  max_tokens=max_tokens, end_id=END_ID, restart_id=restart)  # fmt: skip
    sampler.State(net, 1)
    # (each run with constraints of its own: a Python grammar keeps each row's parse)
    runs = zip(loops_of(name, way, vocab, prime), loops_of(name, way, vocab, prime), strict=True)
    for (label, loop, constraint), (_, _, fresh) in runs:
        whole = loop(net, **common, **constraint, nats=np.zeros(3))
        early = [
            sampler.surprise(net, prime=prime, pieces=[ids[:trial]], end_id=END_ID,
                             restart_id=restart)[0]
            for ids in whole
        ]  # fmt: skip
        nats = np.zeros(3)
        tried = loop(net, **common, **fresh, nats=nats, trial=trial, pieces=1)
        kept = int(np.argmin(early))
        assert tried[kept] == whole[kept], f"{name}, {label}"
        assert np.isfinite(nats[kept]) and np.isinf(np.delete(nats, kept)).all(), label
        for k in set(range(3)) - {kept}:  # the others stopped where the trial ended
            assert tried[k] == whole[k][:trial], f"{name}, {label}, take {k}"


# --- one piece's products split among threads (SAMPLE_THREADS) --------------------------------


def test_a_step_split_among_threads_gives_the_same_numbers_to_the_last_bit(way_case, monkeypatch):
    """Each thread sums its own output columns over the inputs in the same order as one
    thread does, so every step's logits and states are equal bit for bit: for one row, a
    few, and a batch large enough for BLAS, some rows inactive."""
    from musiclib.ml import fastloop

    name, way, vocab, net, prime, extra = way_case
    sampler.State(net, 1)  # (fuses the gates the loops read, as sampler.sample does)
    if numba_threads() < 2:
        pytest.skip("numba may use one thread here (NUMBA_NUM_THREADS): nothing to split")
    c = fastloop.compiled(net)
    assert c.split(2)[1] == 2  # (both layers split in two)
    rng = np.random.default_rng(3)
    for rows in (1, 3, fastloop.GEMM_ROWS + 4):
        steps = 30
        tokens = rng.integers(0, len(vocab), size=(steps, rows))
        active = np.ones(rows, dtype=np.bool_)
        if rows > 1:
            active[1] = False
        results = {}
        for threads in ("1", "2"):
            monkeypatch.setenv("SAMPLE_THREADS", threads)
            args = c.args
            state = c.zero_state(rows, steps)
            seen = []
            for t in range(steps):
                logits = fastloop._step(*args, *state, tokens[t], active, fastloop.GEMM_ROWS)
                seen.append(logits.copy())
            results[threads] = (np.stack(seen), [a.copy() for a in state[1]])
        one, two = results["1"], results["2"]
        assert np.array_equal(one[0], two[0]), f"{name}, {rows} rows: logits"
        for a, b in zip(one[1], two[1], strict=True):
            assert np.array_equal(a, b), f"{name}, {rows} rows: cell states"


def test_every_loop_writes_the_same_pieces_with_its_products_split_among_threads(
    way_case, monkeypatch
):
    """The loops pass the split on to the step as they are: the same pieces from each loop
    the way samples in (one of the loops stepped from Python stands for all of them: they
    call the same step the same way)."""
    name, way, vocab, net, prime, extra = way_case
    sampler.State(net, 1)
    if numba_threads() < 2:
        pytest.skip("numba may use one thread here (NUMBA_NUM_THREADS): nothing to split")
    restart = extra.get("restart_id")
    stepped_in_python = {"python", "returns, python steps"}  # ("lazy" is stepped so too)
    for rows in (1, 3):
        seeds = list(range(20, 20 + rows))
        uniforms = np.stack([np.random.default_rng(s).random(120) for s in seeds])
        common = dict(prime=prime, uniforms=uniforms, temperature=0.9, top_k=0, top_p=0.95,
                      max_tokens=60, end_id=END_ID, restart_id=restart)  # fmt: skip
        pieces = {}
        for threads in ("1", "2"):
            monkeypatch.setenv("SAMPLE_THREADS", threads)
            # (constraints of its own for each run: a Python grammar keeps each row's parse;
            # the returns' plans are made for three rows)
            pieces[threads] = {
                label: loop(net, **common, **constraint)
                for label, loop, constraint in loops_of(name, way, vocab, prime)
                if (rows == 3 or "returns" not in label) and label not in stepped_in_python
            }
        for label, written in pieces["1"].items():
            assert written == pieces["2"][label], f"{name}, {label}, {rows} rows"


def numba_threads() -> int:
    import numba

    return numba.config.NUMBA_NUM_THREADS


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_it_refuses_a_thread_count_that_is_not_a_positive_whole_number(value, monkeypatch, small):
    from musiclib.ml import fastloop

    monkeypatch.setenv("SAMPLE_THREADS", value)
    with pytest.raises(ValueError, match="SAMPLE_THREADS"):
        sampler.sample(small, prime=[1], seeds=[1], max_tokens=10)
    monkeypatch.setenv("SAMPLE_THREADS", "64")  # more than the cores: as many as numba may use
    assert fastloop.sample_threads() == numba_threads()
