"""Returns: bars that restate earlier bars where a plan drawn from the corpus's tunes says,
in the compiled loop (grammar tables or none) and in the loop whose grammar tables are built
while sampling (the site's ABC grammar)."""

from __future__ import annotations

import numpy as np
import pytest

from musiclib.metrics.form import restated_bars, returns_library, shape_from_abc
from musiclib.ml import returns as rt
from musiclib.ml import sampler
from musiclib.ways import get_way
from musiclib.ways.abc_grammar import AbcGrammar, FormShape
from musiclib.ways.base import END_ID, START_ID
from tests.library.ml.test_fastloop import JIG, REEL, random_net

HEADER = "M:4/4\nL:1/8\nK:D\n"
# A tune whose second half restates its first, with a pickup and a second part.
ECHO = """M:4/4
L:1/8
K:D
A|d2fd AdFA|B2GB dBGB|d2fd AdFA|B2GB A2A:|
|:f|a2fa gfed|B2GB dBGB|a2fa gfed|B2GB A2A:|
"""


@pytest.fixture(scope="module")
def abc():
    way = get_way("abc")
    config = way.resolve_config(preset="tiny", overrides={"val_fraction": 0})
    prepared = way.prepare(texts=[REEL, JIG, ECHO], config=config, seed=0)
    return way, prepared


def ids_of(way, vocab, text):
    return np.asarray([START_ID, *way.encode_prime(vocab=vocab, prime=text)[1:]], np.int64)


def bar_texts(vocab, ids, flags):
    return ["".join(vocab[i] for i in ids[a:b]) for a, b, _ in rt.bar_spans(ids, flags)]


def test_the_loop_reads_the_bars_of_a_tune_as_the_form_measure_does(abc):
    way, prepared = abc
    vocab, flags = prepared.vocab, way.returns_flags(vocab=prepared.vocab)
    for text in (REEL, JIG, ECHO):
        bars = bar_texts(vocab, ids_of(way, vocab, text), flags)
        assert len(bars) == len(shape_from_abc(abc=text).bars)
    assert bar_texts(vocab, ids_of(way, vocab, ECHO), flags)[:3] == ["A", "d2fd AdFA", "B2GB dBGB"]


def test_a_tunes_plan_names_the_earlier_bar_each_bar_repeats(abc):
    way, prepared = abc
    assert restated_bars(shape_from_abc(abc=ECHO)) == [
        -1, -1, -1, 1, -1, -1, -1, 2, 6, 4,
    ]  # fmt: skip
    pieces = [ids_of(way, prepared.vocab, t) for t in (ECHO, JIG)]
    library = returns_library(way=way, vocab=prepared.vocab, pieces=pieces)
    plans = library["way_returns"]
    assert plans.shape == (2, rt.MAX_BARS)
    assert plans[0, :11].tolist() == [-1, -1, -1, 1, -1, -1, -1, 2, 6, 4, -1]
    assert library["way_returns_8bar"].tolist() == [0, 0]  # parts of 4 bars, not the form's


def test_the_folk_form_draws_the_plans_of_the_tunes_in_its_shape(abc):
    way, prepared = abc
    plans = rt.plans_from_bars([[-1, 0], [-1, -1, 1], [-1, -1, -1, 0]])
    state = {"way_returns": plans, "way_returns_8bar": np.asarray([0, 1, 0], np.int8)}
    seeds = list(range(40))
    shaped = way.returns_for(vocab=prepared.vocab, state=state, seeds=seeds, form=True)
    assert (shaped.plans == plans[1]).all()
    free = way.returns_for(vocab=prepared.vocab, state=state, seeds=seeds, form=False)
    assert {tuple(p[:4]) for p in free.plans} == {tuple(p[:4]) for p in plans}
    assert way.returns_for(vocab=prepared.vocab, state={}, seeds=seeds, form=True) is None


def test_a_plan_is_drawn_by_its_seed_alone():
    library = np.arange(10 * rt.MAX_BARS, dtype=np.int16).reshape(10, rt.MAX_BARS) % 7 - 1
    together = rt.draw_plans(library, [3, 4, 5])
    assert (rt.draw_plans(library, [4])[0] == together[1]).all()
    assert (rt.draw_plans(library, [5, 3])[1] == together[0]).all()
    assert (rt.draw_plans(np.zeros((0, rt.MAX_BARS)), [1]) == -1).all()


def every_other_bar_plan(rows):
    """Bar j restates bar j - 2 from bar 2 on (bars 2, 3 restate 0, 1; 4, 5 restate 2, 3…)."""
    plan = np.full(rt.MAX_BARS, -1, dtype=np.int32)
    plan[2:] = np.arange(rt.MAX_BARS - 2)
    return np.tile(plan, (rows, 1))


def restated_and_equal(vocab, ids, flags, plan):
    """(bars the plan restates among the closed bars, how many equal their source)."""
    spans = [s for s in rt.bar_spans(ids, flags) if s[2] >= 0]  # (closed by a bar line)
    content = [tuple(ids[a:end]) for a, _, end in spans]  # notes and bar line
    planned = [(j, int(plan[j])) for j in range(min(len(content), rt.MAX_BARS)) if plan[j] >= 0]
    return len(planned), sum(content[j] == content[i] for j, i in planned)


def test_without_a_grammar_every_bar_the_plan_restates_equals_its_source(abc):
    way, prepared = abc
    vocab, flags = prepared.vocab, way.returns_flags(vocab=prepared.vocab)
    net = random_net(vocab=len(vocab), units=[24], dense=[], seed=3)
    prime = way.encode_prime(vocab=vocab, prime=HEADER)
    seeds = [11, 12, 13, 14]
    returns = rt.Returns(flags=flags, plans=every_other_bar_plan(len(seeds)))
    outs = sampler.sample(net, prime=prime, seeds=seeds, max_tokens=300, returns=returns)
    checked = 0
    for ids, plan in zip(outs, returns.plans, strict=True):
        planned, equal = restated_and_equal(vocab, np.asarray(prime + ids), flags, plan)
        assert equal == planned  # nothing refuses a symbol: every restatement is whole
        checked += planned
    assert checked >= 8
    assert sum(returns.refused) == 0 and sum(returns.forced) > 0


def test_with_the_folk_form_grammar_restated_bars_keep_its_masks(abc):
    way, prepared = abc
    vocab, flags = prepared.vocab, way.returns_flags(vocab=prepared.vocab)
    grammar = AbcGrammar(vocab, form=True)
    net = random_net(vocab=len(vocab), units=[24], dense=[], seed=5)
    prime = way.encode_prime(vocab=vocab, prime="")
    seeds = list(range(1, 9))
    returns = rt.Returns(flags=flags, plans=every_other_bar_plan(len(seeds)))
    outs = sampler.sample(net, prime=prime, seeds=seeds, max_tokens=400, end_id=END_ID,
                          constraint=grammar.automaton(), returns=returns)  # fmt: skip
    whole = 0
    for ids, plan in zip(outs, returns.plans, strict=True):
        text = way.decode(vocab=vocab, ids=ids)
        assert grammar.violations(text, end=ids[-1] == END_ID) == []
        whole += restated_and_equal(vocab, np.asarray(prime + ids), flags, plan)[1]
    # a restatement the grammar cut short is counted in both
    assert whole >= sum(returns.restated) - sum(returns.refused)
    assert whole > 0


def test_the_compiled_loop_restates_bars_as_python_steps_do(abc):
    """With returns, grammar tables built while sampling run in the compiled loop too (it
    leaves for Python only to build a successor): the same tunes, bars restated and refused
    as the Python-stepped reference does them, shaped rows and the memory on."""
    from musiclib.ml import fastloop

    way, prepared = abc
    vocab, flags = prepared.vocab, way.returns_flags(vocab=prepared.vocab)
    net = random_net(vocab=len(vocab), units=[24], dense=[], seed=5)
    prime = way.encode_prime(vocab=vocab, prime="")
    seeds = list(range(1, 9))
    shapes = [
        FormShape(parts=((8, True), (8, True)), final=0, meter=(4, 4)),
        FormShape(parts=((4, False), (4, False), (8, True)), final=2),
        None,
    ] * 3
    shapes = shapes[: len(seeds)]
    uniforms = sampler._uniforms(seeds, max_tokens=400, restart_id=None)
    sampler.State(net, 1)  # (fuses the gates the loops read, as sampler.sample does)
    runs = []
    for compiled_loop in (True, False):
        returns = rt.Returns(flags=flags, plans=every_other_bar_plan(len(seeds)))
        automaton = AbcGrammar(vocab, form=True).automaton()
        outs = fastloop.sample_lazy_tables(
            net, prime=prime, uniforms=uniforms, temperature=0.9, top_k=0, top_p=1.0,
            max_tokens=400, end_id=END_ID, restart_id=None, automaton=automaton,
            compiled_loop=compiled_loop, returns=returns, memory=[0.0, 0.1, 0.2, 0.3],
            shapes=shapes,
        )  # fmt: skip
        runs.append((outs, returns.restated, returns.refused, returns.forced))
    assert runs[0] == runs[1]
    assert sum(runs[0][1]) > 0  # bars were restated
    assert sum(len(ids) for ids in runs[0][0]) > 600


def tunes_with_returns(abc, *, takes: int = 1):
    """A sampler of folk-form tunes with returns from two plans, by their seeds: (tunes,
    the returns' bookkeeping)."""
    way, prepared = abc
    vocab, flags = prepared.vocab, way.returns_flags(vocab=prepared.vocab)
    grammar = AbcGrammar(vocab, form=True)
    net = random_net(vocab=len(vocab), units=[24], dense=[], seed=5)
    prime = way.encode_prime(vocab=vocab, prime="")
    library = rt.plans_from_bars([[-1, -1, 0, 1, -1, 0], [-1, 0, -1, -1, 2, 3]])

    def tunes(seeds):
        returns = rt.Returns(flags=flags, plans=rt.draw_plans(library, seeds))
        out = sampler.sample(net, prime=prime, seeds=seeds, max_tokens=300, takes=takes,
                             constraint=grammar.automaton(), returns=returns)  # fmt: skip
        return out, returns

    return tunes


def test_the_same_seed_gives_the_same_tune_with_returns(abc):
    sample = tunes_with_returns(abc)

    def tunes(seeds):
        return sample(seeds)[0]

    together = tunes([21, 22, 23])
    assert tunes([22]) == together[1:2]
    assert tunes([23, 21]) == [together[2], together[0]]


def test_returns_are_refused_with_phrase_restarts_or_a_python_constraint(abc):
    way, prepared = abc
    vocab = prepared.vocab
    net = random_net(vocab=len(vocab), units=[8], dense=[], seed=1)
    returns = rt.Returns(flags=way.returns_flags(vocab=vocab), plans=every_other_bar_plan(1))
    with pytest.raises(ValueError, match="restarts"):
        sampler.sample(net, prime=[START_ID], seeds=[1], returns=returns, restart_id=START_ID)
    with pytest.raises(ValueError, match="tables"):
        sampler.sample(net, prime=[START_ID], seeds=[1], returns=returns,
                       constraint=lambda row, ids: None)  # fmt: skip
    with pytest.raises(ValueError, match="do not fit"):
        sampler.sample(net, prime=[START_ID], seeds=[1, 2], returns=returns)


def test_a_token_vocabulary_reads_the_same_bars():
    way = get_way("abc")
    config = way.resolve_config(
        preset="tiny", overrides={"val_fraction": 0, "vocabulary": "tokens"}
    )
    prepared = way.prepare(texts=[REEL, JIG, ECHO], config=config, seed=0)
    vocab, flags = prepared.vocab, way.returns_flags(vocab=prepared.vocab)
    for text in (REEL, JIG, ECHO):
        bars = bar_texts(vocab, ids_of(way, vocab, text), flags)
        assert len(bars) == len(shape_from_abc(abc=text).bars)
    assert bar_texts(vocab, ids_of(way, vocab, ECHO), flags)[:3] == ["A", "d2fd AdFA", "B2GB dBGB"]


def test_takes_with_returns_report_one_count_per_tune_and_keep_its_tune(abc):
    way, prepared = abc
    tunes = tunes_with_returns(abc, takes=3)
    together, returns = tunes([21, 22, 23])
    assert len(returns.restated) == len(returns.forced) == 3
    alone, returns_alone = tunes([22])
    assert alone == together[1:2]
    assert returns_alone.forced == returns.forced[1:2]
    grammar = AbcGrammar(prepared.vocab, form=True)
    for ids in together:
        text = way.decode(vocab=prepared.vocab, ids=ids)
        assert grammar.violations(text, end=ids[-1] == END_ID) == []
