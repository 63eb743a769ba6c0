"""The piece's memory: what followed the longest earlier match, mixed into each draw with a
weight per match length fitted on held-out pieces (`musiclib.ml.memory`)."""

from __future__ import annotations

import numpy as np
import pytest

from musiclib.ml import fastloop, memory, sampler
from musiclib.ways import get_way
from musiclib.ways.base import END_ID, START_ID
from tests.library.ml.test_fastloop import JIG, REEL, random_net

VOCAB = 12


def brute_force(seq: list[int]) -> tuple[int, dict[int, int]]:
    """The longest match of the end of `seq` with an earlier context, and what followed
    each earlier context matching that long, by searching every position."""
    n = len(seq)
    best, found = 0, {}
    for j in range(1, n):
        m = 0
        while m < j and seq[j - 1 - m] == seq[n - 1 - m]:
            m += 1
        m = min(m, memory.CAP)
        if m > best:
            best, found = m, {}
        if m == best and m > 0:
            found[seq[j]] = found.get(seq[j], 0) + 1
    return best, found


def test_the_loops_bookkeeping_finds_the_longest_earlier_match_as_a_search_does():
    rng = np.random.default_rng(3)
    for trial in range(30):
        # Few symbols and a repeated stretch, so matches of every length occur.
        motif = rng.integers(0, 4, size=rng.integers(3, 12)).tolist()
        seq = [START_ID] + (motif * 3 + rng.integers(0, 4, size=20).tolist())[: 40 + trial]
        mseq = np.zeros((1, len(seq) + 1), np.int64)
        mmatch = np.zeros((1, len(seq) + 1), np.int32)
        mlen = np.zeros(1, np.int64)
        lengths = np.arange(memory.CAP + 1, dtype=np.float32)
        q = np.zeros(VOCAB, np.float32)
        for t, v in enumerate(seq):
            fastloop._memory_push(mseq, mmatch, mlen, 0, v, memory.CAP)
            best, found = brute_force(seq[: t + 1])
            assert int(fastloop._memory_q(mseq, mmatch, mlen, 0, lengths, q)) == best
            if best:
                assert {i: int(c) for i, c in enumerate(q) if c} == found


def test_the_memory_shares_only_what_the_lstm_leaves_to_symbols_other_than_the_end():
    p = np.array([0.1, 0.2, 0.3, 0.4], np.float32) * 3  # weights, not normalised
    q = np.array([0.0, 2.0, 0.0, 6.0], np.float32)  # counts; symbol 0 is the end
    fastloop._memory_mix(p, None, q, np.float32(0.5), 0)
    assert p.sum() == pytest.approx(1.0, abs=1e-6)
    assert p[0] == pytest.approx(0.1)  # the end keeps the LSTM's probability
    assert p[1] == pytest.approx(0.5 * 0.2 + 0.5 * 0.9 * 0.25)
    assert p[3] == pytest.approx(0.5 * 0.4 + 0.5 * 0.9 * 0.75)
    # A mask restricts the memory to what it allows, and the draw to that too.
    p = np.array([0.1, 0.2, 0.0, 0.4], np.float32)
    mask = np.array([True, True, False, True])
    fastloop._memory_mix(p, mask, np.array([0, 1, 5, 0], np.float32), np.float32(0.5), 0)
    assert p[2] == 0.0 and p.sum() == pytest.approx(1.0, abs=1e-6)


@pytest.fixture(scope="module")
def tunes():
    way = get_way("abc")
    config = way.resolve_config(preset="tiny", overrides={"val_fraction": 0})
    prepared = way.prepare(texts=[REEL, JIG], config=config, seed=0)
    net = random_net(vocab=len(prepared.vocab), units=[24, 16], dense=[], seed=5)
    return prepared, net


def test_a_fitted_memory_models_pieces_that_restate_themselves_better_than_the_lstm():
    # Pieces that play a random figure of 10 symbols four times: a random LSTM cannot know
    # the figure, the memory can from its second time on.
    rng = np.random.default_rng(7)
    pieces = [
        np.array([START_ID, *np.tile(rng.integers(3, VOCAB, size=10), 4), END_ID])
        for _ in range(40)
    ]
    net = random_net(vocab=VOCAB, units=[16], dense=[], seed=2)
    fit = memory.memory_fit(net, pieces, end_id=END_ID)
    assert fit.symbols == 40 * 41
    assert fit.loss_memory < 0.5 * fit.loss  # held out: each half fitted on the other
    assert fit.weights[0] == 0.0 and fit.weights[10] > 0.9
    assert fit.weights.shape == (memory.CAP + 1,) and fit.weights.dtype == np.float32


def test_too_few_held_out_symbols_fit_no_memory(tunes):
    prepared, net = tunes
    assert memory.memory_fit(net, [prepared.train[0][:50]], end_id=END_ID) is None


def weights(value: float) -> np.ndarray:
    w = np.full(memory.CAP + 1, value, np.float32)
    w[0] = 0.0
    return w


def test_with_memory_pieces_restate_more_and_the_same_seed_gives_the_same_piece():
    net = random_net(vocab=VOCAB, units=[16], dense=[], seed=2)
    # (no end: every piece runs to 300 symbols)
    args = dict(prime=[START_ID], seeds=list(range(1, 9)), max_tokens=300, end_id=-1)
    plain = sampler.sample(net, **args)
    mixed = sampler.sample(net, memory=weights(0.9), **args)
    assert mixed != plain

    def restated(pieces):  # share of 6-symbol windows seen earlier in the same piece
        shares = []
        for ids in pieces:
            seen, hits = set(), 0
            for i in range(len(ids) - 5):
                w = tuple(ids[i : i + 6])
                hits += w in seen
                seen.add(w)
            shares.append(hits / max(len(ids) - 5, 1))
        return np.mean(shares)

    assert restated(mixed) > restated(plain) + 0.2
    alone = sampler.sample(net, memory=weights(0.9), **{**args, "seeds": [4]})
    assert alone[0] == mixed[3]


def test_the_grammars_compiled_loop_and_its_reference_draw_the_same_with_memory(tunes):
    prepared, net = tunes
    way = get_way("abc")
    grammar = way.grammar(vocab=prepared.vocab)
    prime = way.encode_prime(vocab=prepared.vocab, prime="")
    common = dict(
        prime=prime,
        uniforms=sampler._uniforms(list(range(1, 7)), max_tokens=400, restart_id=None),
        temperature=0.9,
        top_k=0,
        top_p=1.0,
        max_tokens=400,
        end_id=END_ID,
        restart_id=None,
        memory=weights(0.8),
    )
    sampler._fuse(net)
    compiled = fastloop.sample_lazy_tables(net, automaton=grammar.automaton(), **common)
    stepped = fastloop.sample_lazy_tables(
        net, automaton=grammar.automaton(), compiled_loop=False, **common
    )
    assert compiled == stepped
    automaton = grammar.automaton()
    for ids in compiled:  # every symbol was one the grammar allowed
        state, regs = automaton.begin(prime)
        states, regs = np.array([state]), np.array([regs])
        for v in ids[:-1]:
            assert automaton.allowed[states[0], v]
            states, regs = automaton.advance(states, regs, np.array([v]))


def test_memory_weights_out_of_range_are_refused(tunes):
    _, net = tunes
    for bad in (np.ones(5, np.float32), np.array([0.0, 1.5]), np.array([0.5])):
        with pytest.raises(ValueError, match="memory weights"):
            sampler.sample(net, prime=[START_ID], seeds=[1], memory=bad)
