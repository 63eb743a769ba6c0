"""Sampler speed: the compiled loop against one `model.predict` per character, the numpy
step it replaced, and the memory-bandwidth floor; and what a visitor waits for.

    .venv/bin/python bench/sampler.py [--checkpoint path.keras] [--chars 600]

Both use the same `full`-preset ABC model (two LSTM(256)); with no checkpoint given, the
model is freshly initialised (weights do not change the cost per character). Pieces are
forced to the full length (END is ignored) so every way does the same work. The sampler
is timed in a child process without TensorFlow, as generation workers run it: TensorFlow's
thread pools keep spinning after each call and would steal its core.

The floor: every step must read both LSTM layers' weights once; their bytes × steps,
divided by the memory bandwidth measured in the same child (a large numpy copy, bytes
read + written per second), is the least time an implementation reading them from main
memory could take (weights held in the cores' caches beat it).

On a machine of several cores, one piece and the batch of 64 are also timed in a child
with SAMPLE_THREADS set to the cores (the products split among threads by output columns,
`fastloop.sample_threads`), beside the one-thread figures, and the piece is checked to be
the one-thread piece.

--grammar: grammar-aware sampling against plain sampling, in symbols per second (wall and
CPU), for a character and a token vocabulary (O'Neill's, random weights of the `full`
sizes unless --net/--vocab give a trained sampler file and its vocabulary): plain in the
compiled loop; the grammar as Python masks between compiled steps (cold); and the
grammar's lazily built tables (`ml.automaton`, what the generation service samples tokens
with: the compiled loop, leaving it only for what the tables lack), cold (the first batch of a
process with no masks or tables built) and warm (a batch with other seeds after
--warm-batches more: a worker that has served more pieces of the model), with what was
built in Python per symbol drawn (a group's successor or a new state: each a parser step,
a state also its mask) and the tables' size; and the warm batch's seeds sampled again,
every state they reach built (the look-ups alone: what a grammar fully built ahead of time
would cost). For characters also the grammar's compiled rules (`ml.abc_machine`, what the
generation service samples characters with: no tables), on the seeds of the tables' cold
and warm batches. --only chars|tokens times one vocabulary. --corpus DIR (a folder of .abc
files, the model's training tunes; `oneills`: O'Neill's tunes, the vocabularies' source):
also the tables built ahead of time along those tunes as the generation service builds
them (`AbcWay.grammar_replay`, `LazyAutomaton.replay`; every tenth tune held out) in a fresh
process, with the CPU time and the tables' bytes that took, then a visitor's batch (the
warm batch's seeds, so the same pieces as the warm row) with what it still built, then
the held-out tunes walked through the tables (a stand-in for a trained model's pieces,
where the model has random weights) with what they built. --shape: the folk form, each
row in the shape of one corpus tune drawn by its seed (`AbcWay.form_shapes_for`, as the
site's folk form; needs --corpus), the replay feeding each corpus tune in its own shape;
the Python-masks row is left out (shapes need tables).

    .venv/bin/python bench/sampler.py --grammar [--net nott.npz --vocab vocab.json] \
        [--corpus DIR|oneills] [--shape]

A batch of 64 is timed five times with BLAS on one thread (as the `sample` worker runs it)
and five times with BLAS on two (OPENBLAS_NUM_THREADS in the child): best and median wall
time, and the CPU time of the child (what the work costs whatever else the machine runs).

The visitor: four 800-character tunes from the same model (random weights unless
--checkpoint) over a vocabulary of O'Neill's tunes (the bundled corpus), one batch, with
the grammar on through its compiled rules as the generation service samples characters,
cold (first batch of the process) and warm (a fifth batch, other seeds), and with the grammar off.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ratio, setup_django, timed

VISITOR_TUNES, VISITOR_CHARS = 4, 800


def bandwidth(mb: int = 512, repeat: int = 5) -> float:
    """Memory bandwidth in bytes per second: the best of `repeat` copies of `mb` MB (each
    byte read once and written once)."""
    src = np.ones(mb * 2**20 // 8, dtype=np.float64)
    dst = np.empty_like(src)
    best = min(timed(np.copyto, dst, src)[0] for _ in range(repeat))
    return 2 * src.nbytes / best


def batch_times(run, repeat: int) -> dict:
    """Wall and CPU seconds (this process, all its threads) of `repeat` calls: best and
    median of each. CPU seconds say what the work costs whatever the other processes on
    the machine do; wall seconds what a caller waits."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {
        "best": min(walls),
        "median": float(np.median(walls)),
        "cpu_best": min(cpus),
        "cpu_median": float(np.median(cpus)),
        "repeat": repeat,
    }


def fast_only(path: str, n: int, vocab_path: str, batch_only: bool, threads_only: bool) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from musiclib.ml import sampler
    from musiclib.ways import abc_grammar, get_way

    assert "tensorflow" not in sys.modules
    net = sampler.load_net(path)

    def run(rows: int, fn=sampler.sample, **kw):
        return fn(net, prime=[1], seeds=list(range(rows)), max_tokens=n, end_id=-1, **kw)

    run(1)  # compile (numba caches the machine code on disk after the first time)
    if threads_only:  # one piece and a batch, with the environment's SAMPLE_THREADS
        t1, out = timed(run, 1, repeat=10)
        assert len(out[0]) == n
        run(64)
        print(json.dumps({"one": t1, "one_ids": out[0], "batch": batch_times(lambda: run(64), 5)}))
        return
    run(64)
    batch = batch_times(lambda: run(64), 5)
    if batch_only:
        print(json.dumps({"batch": batch}))
        return
    t1, out = timed(run, 1, repeat=10)
    assert len(out[0]) == n
    t64 = batch["best"]
    numpy1, _ = timed(run, 1, sampler.sample_numpy, repeat=3)
    numpy64, _ = timed(run, 64, sampler.sample_numpy, repeat=1)
    bw = bandwidth()

    # The visitor: four tunes, grammar on (its compiled rules, `grammar.machine()`, which the
    # generation service samples a character grammar with) and off. Cold: the first batch
    # with the grammar in this process; warm: a later batch (other seeds) after three.
    way = get_way("abc")
    vocab = json.loads(Path(vocab_path).read_text())

    def visitor(seed0: int, grammar: bool):
        constraint = way.grammar(vocab=vocab).machine() if grammar else None
        return sampler.sample(
            net,
            prime=[1],
            seeds=list(range(seed0, seed0 + VISITOR_TUNES)),
            temperature=0.9,
            max_tokens=VISITOR_CHARS,
            end_id=-1,
            constraint=constraint,
        )

    visitor(90, True)  # compile (or load) the functions sampling under the rules calls
    abc_grammar._SHARED.clear()  # ... and forget the masks and tables that built
    abc_grammar._TOKEN_SHARED.clear()
    abc_grammar._AUTOMATA.clear()
    tcold, outs = timed(visitor, 0, True)
    for seed0 in (10, 20, 30):
        visitor(seed0, True)
    tg, outs = timed(visitor, 40, True)
    chars = sum(len(way.decode(vocab=vocab, ids=ids)) for ids in outs)
    tplain = min(timed(visitor, seed0, False)[0] for seed0 in (50, 60, 70))
    print(
        json.dumps(
            {
                "one": t1,
                "one_ids": out[0],
                "batch64": t64,
                "numpy_one": numpy1,
                "numpy_batch64": numpy64,
                "bandwidth": bw,
                "visitor_grammar": tg,
                "visitor_grammar_cold": tcold,
                "visitor_plain": tplain,
                "visitor_chars": chars,
                "batch": batch,
            }
        )
    )


def _random_net(vocab_size: int, seed: int = 0):
    """A sampler net of the `full` preset's sizes (embedding 64, two LSTM(256)) with random
    weights, built without TensorFlow (weights do not change the cost per symbol)."""
    from musiclib.ml import sampler

    rng = np.random.default_rng(seed)
    emb, units = 64, 256

    def w(*shape, scale=0.1):
        return rng.normal(0, scale, shape).astype(np.float32)

    embedding, w0, b0 = w(vocab_size, emb), w(emb, 4 * units), np.zeros(4 * units, np.float32)
    return sampler.Net(
        table=np.ascontiguousarray(embedding @ w0 + b0),
        recurrent=[w(units, 4 * units), w(2 * units, 4 * units)],
        biases=[b0, np.zeros(4 * units, np.float32)],
        dense=[(w(units, vocab_size, scale=0.3), np.zeros(vocab_size, np.float32), False)],
        units=[units, units],
    )


def grammar_bench(args) -> None:
    """See the module docstring (--grammar)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from musiclib.ml import sampler
    from musiclib.ml.abc_machine import Machine
    from musiclib.ml.automaton import LazyAutomaton, tables_settle
    from musiclib.ways import abc_grammar, abc_tokens, get_way
    from musiclib.ways.abc_text import WAY, split_tunes
    from musiclib.ways.base import SPECIALS

    assert "tensorflow" not in sys.modules
    from music21 import corpus

    texts = []
    for path in sorted(corpus.getWork("oneills1850")):
        texts.extend(t for _, t in split_tunes(Path(path).read_text(encoding="latin-1")))
    texts = [WAY.normalise(t) for t in texts]
    vocabs = {
        "chars": [*SPECIALS, *sorted({ch for t in texts for ch in t})],
        "tokens": [*SPECIALS, *sorted({tok for t in texts for tok in abc_tokens.tokenize(t)})],
    }
    nets = {}
    if args.net:
        trained = json.loads(Path(args.vocab).read_text())
        kind = abc_tokens.vocabulary_of(trained)
        vocabs[kind], nets[kind] = trained, sampler.load_net(args.net)
    corpus_texts = texts if args.corpus == "oneills" else []
    folder = args.corpus if args.corpus and args.corpus != "oneills" else None
    for path in sorted(Path(folder).glob("**/*.abc")) if folder else []:
        found = split_tunes(path.read_text(encoding="latin-1"))
        corpus_texts.extend(WAY.normalise(t) for _, t in found)
    way = get_way("abc")
    if args.shape:
        from musiclib.metrics.form import returns_library
    rows, n = args.rows, args.chars
    print(f"grammar-aware sampling, {rows} pieces of up to {n} symbols, temperature 0.9")
    for kind, vocab in vocabs.items():
        if args.only and kind != args.only:
            continue
        net = nets.get(kind) or _random_net(len(vocab))
        weights = "trained" if kind in nets else "random"
        # the corpus's tunes as the run's training pieces (ids, START first; each cut at
        # its first symbol the vocabulary lacks), and with --shape their shapes
        index = {tok: i for i, tok in enumerate(vocab)}
        pieces = []
        for text in corpus_texts:
            symbols = way.with_vocabulary(kind).tokenize(text)
            ids = [index.get(t, -1) for t in symbols]
            pieces.append([1, *(ids[: ids.index(-1)] if -1 in ids else ids)])
        library = returns_library(way=way, vocab=vocab, pieces=pieces) if args.shape else {}

        def run(constraint, seed0, net=net, library=library):
            """(symbols per wall second, per CPU second, symbols) of one batch."""
            seeds = list(range(seed0, seed0 + rows))
            shaped = args.shape and isinstance(constraint, (LazyAutomaton, Machine))
            shapes = way.form_shapes_for(state=library, seeds=seeds) if shaped else None
            w, c = time.perf_counter(), time.process_time()
            outs = sampler.sample(net, prime=[1], seeds=seeds, temperature=0.9,
                                  max_tokens=n, constraint=constraint, shapes=shapes)  # fmt: skip
            steps = sum(len(o) for o in outs)
            return steps / (time.perf_counter() - w), steps / (time.process_time() - c), steps

        def forget() -> None:
            """A fresh worker: no grammar masks or tables built yet in this process."""
            abc_grammar._SHARED.clear()
            abc_grammar._TOKEN_SHARED.clear()
            abc_grammar._AUTOMATA.clear()

        run(None, 0)  # compile (or load from numba's disk cache) the plain loop
        # ... and the functions sampling with tables calls, so that no compile is timed
        grammar = way.grammar(vocab=vocab, form=args.shape)
        sampler.sample(net, prime=[1], seeds=[0], max_tokens=5,
                       constraint=LazyAutomaton(grammar))  # fmt: skip
        plain = [run(None, 100 + 10 * k) for k in range(3)]
        plain_wall = float(np.median([p[0] for p in plain]))
        plain_cpu = float(np.median([p[1] for p in plain]))
        # the grammar's rules compiled (`ml.abc_machine`, what the generation service samples
        # a character grammar with): no tables, so the first batch of a process and a later
        # one cost alike; the seeds of the tables' cold and warm batches
        machine = None
        if getattr(grammar, "machine_ready", False):
            machine = grammar.machine()
            run(machine, 0)  # (compile, or load from numba's disk cache)
            machine_runs = [run(machine, 400 + 100 * b) for b in (0, args.warm_batches + 1)]
        forget()
        automaton = LazyAutomaton(way.grammar(vocab=vocab, form=args.shape))
        tables = []
        for b in range(1 + args.warm_batches + 1):
            before = automaton.resolved
            wall, cpu, steps = run(automaton, 400 + 100 * b)
            tables.append((wall, cpu, (automaton.resolved - before) / steps))
        cold, warm = tables[0], tables[-1]
        if args.corpus:  # the tables built ahead of time along the corpus's tunes
            forget()  # (from a fresh worker's state: no masks cached)
            ahead = LazyAutomaton(way.grammar(vocab=vocab, form=args.shape))
            # every tenth tune held out of the replay (START alone: nothing fed), walked
            # after it as a stand-in for a trained model's pieces (a model of the other
            # vocabulary than --net's has random weights, whose pieces follow no tune)
            held = [k for k in range(len(pieces)) if k % 10 == 0]
            replayed_pieces = [[1] if k % 10 == 0 else p for k, p in enumerate(pieces)]
            c = time.process_time()
            fed = way.grammar_replay(tables=ahead, pieces=replayed_pieces, state=library,
                                     form=args.shape, seconds=0, key="corpus")  # fmt: skip
            spent = time.process_time() - c
            replayed = (ahead.n, ahead.nbytes)
            # what a full collection of the heap costs now (a batch pays it where one falls),
            # and after the worker's settle (`tables_settle`, after each generation job)
            tracked = len(gc.get_objects())
            w = time.perf_counter()
            gc.collect()
            full_gc = time.perf_counter() - w
            frozen = tables_settle()
            w = time.perf_counter()
            gc.collect()
            settled_gc = time.perf_counter() - w
            before = ahead.resolved
            first = run(ahead, 400 + 100 * (len(tables) - 1))  # (the warm batch's pieces)
            first = (*first[:2], (ahead.resolved - before) / first[2])
            held_shapes = None
            if args.shape:  # (each held-out tune in its own shape, as the replay's)
                owner = {int(k): j for j, k in enumerate(library["way_shapes_piece"])}
                shape_rows = library["way_shapes"]
                held = [k for k in held if k in owner and shape_rows[owner[k]][0] >= 0]
                held_shapes = [way.form_shapes_for(state={"way_shapes": shape_rows[owner[k]][None]},
                                                   seeds=[0])[0] for k in held]  # fmt: skip
                n_replayed = sum(1 for k, j in owner.items() if k % 10 and shape_rows[j][0] >= 0)
            else:
                n_replayed = len(pieces) - len(held)
            before = ahead.resolved
            held_fed = ahead.replay([pieces[k][1:] for k in held], prime=[1],
                                    shapes=held_shapes, max_bytes=ahead.max_bytes)  # fmt: skip
            held_built = (ahead.resolved - before) / max(1, held_fed)
        # the warm batch's seeds again: every state and successor they reach is built, so
        # this is the compiled look-ups alone (the ceiling of a grammar built ahead of time)
        replay = run(automaton, 400 + 100 * (len(tables) - 1))
        forget()
        python_cold = None if args.shape else run(way.grammar(vocab=vocab), 200)
        shaped = ", folk form, a shape per row" if args.shape else ""
        print(f"{kind} (vocabulary {len(vocab)}, {weights} weights{shaped}):")
        print(f"  compiled loop, plain: {plain_wall:,.0f} symbols/s ({plain_cpu:,.0f} per "
              "CPU second; median of 3 batches)")  # fmt: skip
        if python_cold is not None:
            print(f"  compiled loop + Python grammar masks, cold: {python_cold[0]:,.0f} "
                  f"symbols/s ({python_cold[1]:,.0f} per CPU second)")  # fmt: skip
        for label, (wall, cpu, built) in (
            ("cold (first batch of a fresh process)", cold),
            (f"warm (after {args.warm_batches + 1} batches of other seeds)", warm),
        ):
            print(f"  compiled loop + lazily built tables, {label}: {wall:,.0f} symbols/s "
                  f"({cpu:,.0f} per CPU second), {built:.2f} successors or states built in "
                  "Python per symbol drawn")  # fmt: skip
        if machine is not None:
            for label, (wall, cpu, _) in zip(("cold", "warm"), machine_runs, strict=True):
                print(f"  compiled loop + compiled rules (`ml.abc_machine`), the {label} batch's "
                      f"seeds: {wall:,.0f} symbols/s ({cpu:,.0f} per CPU second), nothing "
                      "built in Python")  # fmt: skip
            for label, (wall, cpu, _) in zip(("cold", "warm"), machine_runs, strict=True):
                print(ratio(f"  compiled rules against plain, the {label} batch's seeds, wall",
                            1 / wall, 1 / plain_wall)
                      + ratio("; CPU", 1 / cpu, 1 / plain_cpu))  # fmt: skip
        print(ratio("  tables against plain, cold, wall", 1 / cold[0], 1 / plain_wall)
              + ratio("; CPU", 1 / cold[1], 1 / plain_cpu))  # fmt: skip
        print(ratio("  tables against plain, warm, wall", 1 / warm[0], 1 / plain_wall)
              + ratio("; CPU", 1 / warm[1], 1 / plain_cpu))  # fmt: skip
        if args.corpus:
            own = " (each in its own shape)" if args.shape else ""
            print(f"  tables built ahead of time along {n_replayed:,} corpus tunes{own} "
                  f"in a fresh process ({fed:,} symbols fed, {spent:.1f} s CPU, "
                  f"{replayed[0]:,} states, {replayed[1] / 2**20:.1f} MB), then the warm "
                  f"batch's seeds: {first[0]:,.0f} symbols/s ({first[1]:,.0f} per CPU "
                  f"second), {first[2]:.2f} built in Python per symbol drawn")  # fmt: skip
            print(f"  a full garbage collection after the replay: {full_gc:.3f} s ({tracked:,} "
                  f"objects tracked); after `tables_settle` ({frozen:,} frozen, as the "
                  f"generation task does after each job): {settled_gc:.3f} s; the batch "
                  "below runs after it")  # fmt: skip
            print(ratio("  tables built ahead of time against plain, wall", 1 / first[0],
                        1 / plain_wall) + ratio("; CPU", 1 / first[1], 1 / plain_cpu))  # fmt: skip
            print(f"  {len(held):,} tunes held out of the replay (every tenth), walked after "
                  f"it to their first refused symbol ({held_fed:,} symbols): {held_built:.2f} "
                  "built in Python per symbol")  # fmt: skip
        print(ratio("  tables against plain, the warm batch's seeds again (all built), wall",
                    1 / replay[0], 1 / plain_wall)
              + ratio("; CPU", 1 / replay[1], 1 / plain_cpu))  # fmt: skip
        print(f"  tables: {automaton.n:,} states in {automaton.n_groups:,} groups "
              f"({automaton.nbytes / 2**20:.1f} MB) after {len(tables) * rows} pieces")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grammar", action="store_true", help="grammar against plain")
    parser.add_argument("--net", help="--grammar: a trained sampler file (.npz)")
    parser.add_argument("--vocab", help="--grammar: its vocabulary (.json)")
    parser.add_argument("--rows", type=int, default=16, help="--grammar: pieces per batch")
    parser.add_argument(
        "--warm-batches",
        type=int,
        default=3,
        help="--grammar: batches sampled between the cold and the warm one (0 to 200)",
    )
    parser.add_argument(
        "--only",
        choices=("chars", "tokens", "bars"),
        help="--grammar: one vocabulary (default every one)",
    )
    parser.add_argument(
        "--corpus", help="--grammar: a folder of .abc tunes to build the tables ahead of time"
    )
    parser.add_argument(
        "--shape", action="store_true", help="--grammar: the folk form, a shape per row"
    )
    parser.add_argument("--checkpoint")
    parser.add_argument("--chars", type=int, default=600)
    parser.add_argument(
        "--baseline-chars",
        type=int,
        default=40,
        help="characters timed for the slow way (its rate is per character)",
    )
    parser.add_argument("--fast-only", help=argparse.SUPPRESS)
    parser.add_argument("--batch-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 0 <= args.warm_batches <= 200:
        parser.error("--warm-batches must be 0 to 200")
    if args.shape and not args.corpus:
        parser.error("--shape draws each row's shape from a corpus tune: give --corpus")
    if args.grammar:
        return grammar_bench(args)
    if args.fast_only:
        return fast_only(args.fast_only, args.chars, args.vocab, args.batch_only, args.threads_only)
    setup_django()
    from _common import oneills_texts

    from musiclib.ml import model as ml_model
    from musiclib.ml import sampler, trainer
    from musiclib.ways import get_way

    way = get_way("abc")
    config = way.resolve_config(preset="full", overrides={})
    vocab = way.prepare(texts=oneills_texts(), config=config, seed=0).vocab
    if args.checkpoint:
        model = trainer.load_model(args.checkpoint)
    else:
        model = ml_model.build_model(config=config, vocab_size=len(vocab), seed=0)
    net = sampler.net_from_keras(model)
    if net.vocab_size != len(vocab):
        raise SystemExit(f"the checkpoint's vocabulary ({net.vocab_size}) is not O'Neill's")
    n = args.chars
    weights = "trained" if args.checkpoint else "random (fresh)"
    print(f"model: LSTM {net.units}, vocab {net.vocab_size}, {weights} weights, {n}-char pieces")
    with tempfile.TemporaryDirectory() as tmp:
        path, vocab_path = str(Path(tmp) / "net.npz"), Path(tmp) / "vocab.json"
        sampler.save_net(net, path)
        vocab_path.write_text(json.dumps(vocab))

        def child(blas_threads: int, *extra: str, sample_threads: int = 1) -> dict:
            """The sampler in a child process without TensorFlow, BLAS on `blas_threads`
            threads (as the `sample` worker sets it: OPENBLAS_NUM_THREADS=1), one piece's
            products on `sample_threads` (SAMPLE_THREADS, 1 as the worker's default)."""
            env = {
                **os.environ,
                "OPENBLAS_NUM_THREADS": str(blas_threads),
                "SAMPLE_THREADS": str(sample_threads),
            }
            argv = [sys.executable, __file__, "--fast-only", path, "--chars", str(n)]
            out = subprocess.run(
                [*argv, "--vocab", str(vocab_path), *extra],
                capture_output=True,
                text=True,
                env=env,
            )
            if out.returncode:
                raise SystemExit(out.stderr)
            return json.loads(out.stdout.strip().splitlines()[-1])

        fast = child(1)
        blas2 = child(2, "--batch-only")["batch"]
        cores = os.cpu_count() or 1
        split = child(1, "--threads-only", sample_threads=cores) if cores > 1 else None

    # The straightforward way: predict over the last 100 characters for every character.
    window = int(config["seq_length"])
    seq = [1, *np.random.default_rng(0).integers(3, net.vocab_size, size=window).tolist()]
    model.predict(np.array([seq[-window:]]), verbose=0)  # warm up
    t0 = time.perf_counter()
    for _ in range(args.baseline_chars):
        p = model.predict(np.array([seq[-window:]]), verbose=0)[0, -1]
        seq.append(int(np.argmax(p)))
    slow = (time.perf_counter() - t0) / args.baseline_chars
    t1, t64 = fast["one"], fast["batch64"]
    print(
        f"model.predict per character: {1 / slow:,.1f} chars/s ({slow * 1e3:.1f} ms/char, "
        f"timed over {args.baseline_chars} chars)"
    )
    print(f"compiled loop, 1 piece: {t1 * 1e3:.1f} ms for {n} chars ({n / t1:,.0f} chars/s)")
    print(f"compiled loop, batch of 64: {t64:.3f} s ({64 * n / t64:,.0f} chars/s)")
    for label, b in (("BLAS on 1 thread", fast["batch"]), ("BLAS on 2 threads", blas2)):
        print(
            f"  batch of 64, {label}: best {b['best']:.3f} s, median {b['median']:.3f} s of "
            f"{b['repeat']}; CPU {b['cpu_best']:.3f} s best, {b['cpu_median']:.3f} s median"
        )
    print(
        f"numpy step (the reference), 1 piece: {fast['numpy_one'] * 1e3:.1f} ms; "
        f"batch of 64: {fast['numpy_batch64']:.3f} s"
    )
    print(ratio("speedup, one piece", t1 / n, slow))
    print(ratio("speedup, batch of 64 (per character)", t64 / (64 * n), slow))
    print(ratio("compiled loop against the numpy step, one piece", t1, fast["numpy_one"]))
    print(ratio("compiled loop against the numpy step, batch of 64", t64, fast["numpy_batch64"]))
    lstm_bytes = sum(r.nbytes for r in net.recurrent)
    floor = lstm_bytes * n / fast["bandwidth"]
    print(
        f"memory bandwidth (numpy copy): {fast['bandwidth'] / 1e9:.1f} GB/s; LSTM weights "
        f"read per step: {lstm_bytes / 1e6:.2f} MB; floor for one piece: {floor * 1e3:.1f} ms"
    )
    print(f"one piece against the bandwidth floor: {t1 / floor:.2f}× the floor's time")
    if split is not None:
        ts = split["one"]
        same = "the same piece" if split["one_ids"] == fast["one_ids"] else "A DIFFERENT PIECE"
        print(
            f"compiled loop, 1 piece, its products split among {cores} threads "
            f"(SAMPLE_THREADS={cores}): {ts * 1e3:.1f} ms ({same} as on one thread)"
        )
        print(ratio(f"speedup, one piece on {cores} threads", ts / n, slow))
        print(ratio(f"one piece on {cores} threads against one thread", ts, t1))
        print(f"one piece on {cores} threads against the bandwidth floor: {ts / floor:.2f}×")
        b = split["batch"]
        print(
            f"compiled loop, batch of 64 split among {cores} threads (BLAS on 1 thread in "
            f"each): best {b['best']:.3f} s, median {b['median']:.3f} s of {b['repeat']}; "
            f"CPU {b['cpu_best']:.3f} s best, {b['cpu_median']:.3f} s median"
        )
        print(ratio(f"batch of 64 on {cores} threads against one thread", b["best"], t64))
    print(
        f"visitor: {VISITOR_TUNES} tunes of {VISITOR_CHARS} chars, grammar on (its compiled "
        f"rules): cold {fast['visitor_grammar_cold']:.3f} s, warm "
        f"{fast['visitor_grammar']:.3f} s ({fast['visitor_chars']} chars); grammar off: "
        f"{fast['visitor_plain']:.3f} s"
    )
    print(ratio("grammar on against off, warm", fast["visitor_grammar"], fast["visitor_plain"]))
    print(
        ratio("grammar on against off, cold", fast["visitor_grammar_cold"], fast["visitor_plain"])
    )


if __name__ == "__main__":
    main()
