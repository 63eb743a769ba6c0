"""Gallery speed: the gallery page over 100,000 pieces in PostgreSQL, against the same page
with naive ORM access.

    scripts/services.sh start && eval "$(scripts/services.sh env)"
    .venv/bin/python bench/gallery.py [--pieces 100000] [--requests 200] [--reseed] [--trigram]

It works in its own database (the name in DATABASE_URL plus `_bench_gallery`), created and
filled once (COPY, a few seconds) and reused by later runs. Both pages are the real view and
templates through Django's test client, over the same mix of requests (first pages, deep
pages, filters by key, meter, run and validity, title search, oldest first), in this one run:
- site: `generator.selectors.piece_list` (cards' run, corpus and checkpoint joined in one
  query, heavy columns deferred) and the cached key/meter facets;
- naive: `Piece.objects.filter(...)` with no select_related, so every card costs a query for
  its run and one for its checkpoint, and the facets recomputed on every request.
Prints p50/p95 page times (all requests, and by kind), the query counts at page sizes
12/24/48/96, and the p95 ratio. --trigram first adds the trigram index proposed for piece
titles (without it a title search reads the whole table: see the search line).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from _common import ROOT, ratio

BENCH_SUFFIX = "_bench_gallery"


def use_bench_database() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "bench/gallery.py needs PostgreSQL: run `scripts/services.sh start` and "
            '`eval "$(scripts/services.sh env)"` first'
        )
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "musicsite"
    bench_name = name if name.endswith(BENCH_SUFFIX) else name + BENCH_SUFFIX
    import psycopg

    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
        exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [bench_name]).fetchone()
        if not exists:
            c.execute(f'CREATE DATABASE "{bench_name}"')
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + bench_name))
    return bench_name


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicsite.settings")
    os.environ["AUTOSTART_QUICK_RUN"] = "0"
    import django

    django.setup()
    from django.conf import settings

    # No query log on the timed requests (CaptureQueriesContext turns it on when counting).
    settings.DEBUG = False
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


KEYS = ["D", "G", "A", "Ador", "Edor", "Emin", "Dmix", "C", "F", "Bmin"]
METERS = ["6/8", "4/4", "2/4", "3/4", "9/8", "C|", "12/8"]
WORDS = ["Foggy", "Silver", "Crooked", "Merry", "Lonesome", "Copper", "Windy", "Hidden", "Green"]
NOUNS = ["Fiddler", "Harbour", "Kettle", "Meadow", "Ferryman", "Lantern", "Heron", "Mill"]
TEXT = "X:1\nT:{title}\nM:{meter}\nL:1/8\nK:{key}\n" + "|:dBA F2A|dBA F2A|GBd gfe|dBA F2D:|\n" * 6


def seed(n_pieces: int) -> None:
    """Corpora, runs, checkpoints and jobs by the ORM; the pieces by COPY."""
    from django.db import connection, transaction
    from django.utils import timezone

    from generator.models import Checkpoint, Corpus, GenerationJob, Piece, TrainingRun

    rng = random.Random(0)
    started = time.perf_counter()
    with transaction.atomic():
        Piece.objects.all().delete()
        GenerationJob.objects.all().delete()
        Checkpoint.objects.all().delete()
        TrainingRun.objects.all().delete()
        Corpus.objects.all().delete()
        corpora = [Corpus.objects.create(name=f"Corpus {i}") for i in range(4)]
        checkpoints = []
        for r in range(20):
            run = TrainingRun.objects.create(
                corpus=corpora[r % 4],
                name=f"Bench run {r}",
                preset="quick",
                status="succeeded",
                epochs=10,
                epochs_done=10,
                vocab=list("abc"),
                history=[
                    {"epoch": e, "loss": 1.0, "val_loss": 1.1, "seconds": 1} for e in range(1, 11)
                ],
            )
            for e in range(1, 11):
                checkpoints.append(
                    Checkpoint.objects.create(run=run, epoch=e, file=f"ckpt/{r}/{e}.keras")
                )
        jobs = [
            GenerationJob.objects.create(
                checkpoint=checkpoints[j % len(checkpoints)], count=50, seed=j, status="succeeded"
            )
            for j in range(max(n_pieces // 50, 1))
        ]
        now = timezone.now()
        columns = (
            "job_id, checkpoint_id, run_id, way, index, seed, title, meter, key, text, midi, "
            "audio, n_notes, parses, plays, bar_accuracy, validity_detail, created_at"
        )
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY generator_piece ({columns}) FROM STDIN") as copy:
                for i in range(n_pieces):
                    job = jobs[i // 50 % len(jobs)]
                    ckpt = checkpoints[(i // 50) % len(checkpoints)]
                    key, meter = rng.choice(KEYS), rng.choice(METERS)
                    title = f"The {rng.choice(WORDS)} {rng.choice(NOUNS)} {i}"
                    parses = rng.random() < 0.8
                    plays = parses and rng.random() < 0.9
                    audio = f"pieces/audio/p{i}.ogg" if rng.random() < 0.9 else ""
                    copy.write_row(
                        (
                            job.pk, ckpt.pk, ckpt.run_id, "abc", i % 50, i, title, meter, key,
                            TEXT.format(title=title, meter=meter, key=key),
                            f"pieces/midi/p{i}.mid", audio,
                            120, parses, plays, rng.random() if parses else None,
                            '{"parses": true, "messages": []}',
                            now - timedelta(seconds=n_pieces - i),
                        )
                    )  # fmt: skip
    # What autovacuum does to a table soon after a bulk load: statistics and the visibility
    # map (without which no count can be answered from an index alone).
    connection.close()
    import psycopg

    url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE generator_piece")
    print(f"seeded {n_pieces:,} pieces in {time.perf_counter() - started:.1f} s")


TRIGRAM_INDEX = "generator_piece_title_upper_trgm"


def trigram_index(wanted: bool) -> None:
    """The index proposed for generator.Piece: GIN over UPPER(title) with pg_trgm, which is
    what `title__icontains` compiles to on PostgreSQL. Without it a title search reads the
    whole table."""
    from django.db import connection

    with connection.cursor() as cursor:
        if wanted:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON generator_piece "
                "USING gin (UPPER(title::text) gin_trgm_ops)"
            )
            cursor.execute("ANALYZE generator_piece")
        else:
            cursor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


def naive_piece_list(*, filters=None):
    """The straightforward query: no joins, no deferred columns."""
    from generator.models import Piece

    filters = filters or {}
    qs = Piece.objects.all()
    for name in ("way", "key", "meter"):
        if filters.get(name):
            qs = qs.filter(**{name: filters[name]})
    if filters.get("run"):
        qs = qs.filter(run_id=filters["run"])
    if filters.get("corpus"):
        qs = qs.filter(run__corpus_id=filters["corpus"])
    if filters.get("valid"):
        qs = qs.filter(parses=True, plays=True, bar_accuracy__gte=0.9)
    if not filters.get("epoch_samples"):  # the gallery's default: pieces made on request
        qs = qs.filter(job__is_epoch_sample=False)
    if filters.get("q"):
        qs = qs.filter(title__icontains=filters["q"])
    order = ["created_at"] if filters.get("sort") == "oldest" else ["-created_at"]
    return qs.order_by(*order)


def naive_facets():
    from generator.models import Piece

    return {
        "keys": sorted(set(Piece.objects.exclude(key="").values_list("key", flat=True))),
        "meters": sorted(set(Piece.objects.exclude(meter="").values_list("meter", flat=True))),
    }


class Naive:
    """Swap the selectors the gallery and its form use for the naive ones, for a while."""

    def __enter__(self):
        from generator import selectors

        self.saved = (selectors.piece_list, selectors.piece_facets, selectors.piece_page_rows)
        selectors.piece_list = naive_piece_list
        selectors.piece_facets = naive_facets
        selectors.piece_page_rows = list  # the sliced queryset as it is
        return self

    def __exit__(self, *exc):
        from generator import selectors

        selectors.piece_list, selectors.piece_facets, selectors.piece_page_rows = self.saved
        return False


def request_mix(n: int) -> list[dict]:
    from generator.models import TrainingRun

    runs = list(TrainingRun.objects.values_list("pk", flat=True))
    rng = random.Random(1)
    mix = []
    for i in range(n):
        kind = i % 8
        if kind in (0, 1):
            mix.append({})
        elif kind == 2:
            mix.append({"page": rng.randint(2, 50)})
        elif kind == 3:
            mix.append({"key": rng.choice(KEYS)})
        elif kind == 4:
            mix.append({"meter": rng.choice(METERS), "valid": "on"})
        elif kind == 5:
            mix.append({"run": rng.choice(runs)})
        elif kind == 6:
            mix.append({"q": rng.choice(NOUNS).lower()})
        else:
            mix.append({"sort": "oldest", "page": rng.randint(1, 5)})
    return mix


def kind_of(params: dict) -> str:
    if "q" in params:
        return "search"
    if "key" in params or "meter" in params or "run" in params:
        return "filter"
    if params.get("sort") == "oldest":
        return "oldest"
    return "deep page" if "page" in params else "first page"


def time_pages(client, mix: list[dict]) -> list[float]:
    times = []
    for params in mix:
        t0 = time.perf_counter()
        response = client.get("/", params)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.status_code
    return times


def count_queries(client, per_page: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/", {"per_page": per_page})
    assert response.status_code == 200
    assert response.content.count(b'<article class="card piece-card"') == per_page
    return len(ctx.captured_queries)


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pieces", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument(
        "--trigram",
        action="store_true",
        help="add the proposed trigram index on piece titles first (dropped without this flag)",
    )
    args = parser.parse_args()
    database = use_bench_database()
    setup()
    from django.test import Client

    from generator.models import Piece

    if args.reseed or Piece.objects.count() != args.pieces:
        seed(args.pieces)
    trigram_index(args.trigram)
    print(
        f"database {database}: {Piece.objects.count():,} pieces; "
        f"trigram index on titles: {'yes' if args.trigram else 'no (as the schema stands)'}"
    )
    client = Client()
    mix = request_mix(args.requests)
    sizes = (12, 24, 48, 96)
    time_pages(client, mix[:16])  # warm: connections, templates, facet cache
    site = time_pages(client, mix)
    site_queries = [count_queries(client, s) for s in sizes]
    with Naive():
        time_pages(client, mix[:4])
        naive = time_pages(client, mix)
        naive_queries = [count_queries(client, s) for s in sizes]

    def line(label: str, times: list[float], queries: list[int]) -> str:
        per = ", ".join(f"{s}: {q}" for s, q in zip(sizes, queries, strict=True))
        return (
            f"{label:<6} p50 {p(times, 50) * 1000:6.1f} ms   p95 {p(times, 95) * 1000:6.1f} ms"
            f"   queries by page size ({per})"
        )

    print(f"{len(mix)} gallery requests each (24 cards a page; first and deep pages, filters,")
    print("search, oldest first), Django test client, same process and database:")
    print(line("site", site, site_queries))
    print(line("naive", naive, naive_queries))
    print(ratio("speedup (p95)", p(site, 95), p(naive, 95)))
    kinds: dict[str, list[tuple[float, float]]] = {}
    for params, a, b in zip(mix, site, naive, strict=True):
        kinds.setdefault(kind_of(params), []).append((a, b))
    print("by kind, p95 site / naive:")
    for kind, pairs in kinds.items():
        a = p([x for x, _ in pairs], 95) * 1000
        b = p([y for _, y in pairs], 95) * 1000
        print(f"  {kind:<11} {a:6.1f} ms / {b:6.1f} ms  ({len(pairs)} requests)")
    target = "met" if p(site, 95) <= 0.050 else "NOT met"
    flat = "flat" if len(set(site_queries)) == 1 else "GROWS"
    print(f"target p95 <= 50 ms: {target}; site query count across page sizes: {flat}")


if __name__ == "__main__":
    main()
