"""ABC import check and validity parse: music21 without its beaming and chord-symbol pitches
against music21 as is.

    .venv/bin/python bench/abc_check.py [--limit N]

A corpus import checks every tune with music21 (`check_abc_tune`: it must read, and its
notes are counted), and every generated piece's validity reads it again (`abc_validity`).
music21's ABC reader beams every part once the notes are read and works out every chord
symbol's pitches, which neither looks at (`musiclib.render.abc.read_abc`). For each corpus
(O'Neill's 1850 from music21; Nottingham when ../shared/datasets/nottingham/ABC_cleaned
exists), in one process, tune by tune: the straightforward check (`converter.parse` as is,
notes counted without chord symbols) and the site's, their CPU seconds and the ratio, and
whether any tune's verdict or note count differs (it must not).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTTINGHAM = Path(
    os.environ.get("NOTTINGHAM_DIR", ROOT.parent / "shared" / "datasets" / "nottingham")
)


def straightforward(text: str) -> tuple[bool, int]:
    from music21 import converter, harmony

    try:
        score = converter.parseData(text, format="abc")
    except Exception:  # music21 raises many kinds; any of them means "malformed"
        return False, 0
    return True, sum(1 for n in score.recurse().notes if not isinstance(n, harmony.Harmony))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="tunes a corpus (0: all)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from musiclib.ways.abc_text import _decode, _items_from_text, abc_source_files, check_abc_tune

    sources = ["music21:oneills1850"]
    if (NOTTINGHAM / "ABC_cleaned").is_dir():
        sources.append(str(NOTTINGHAM / "ABC_cleaned"))
    else:
        print(f"Nottingham skipped: no ABC_cleaned under {NOTTINGHAM} (GPL data, not bundled)")
    for source in sources:
        items = []
        for path in abc_source_files(source):
            items += _items_from_text(_decode(path.read_bytes(), name=path.name), file=path.name)
        texts = [it.text for it in items][: args.limit or None]
        straightforward(texts[0]), check_abc_tune(texts[0])  # music21's first-use costs
        plain = site = 0.0
        differ = 0
        for text in texts:
            t0 = time.process_time()
            ok, notes = straightforward(text)
            t1 = time.process_time()
            failure, n = check_abc_tune(text)
            site += time.process_time() - t1
            plain += t1 - t0
            differ += ok != (failure is None) or (ok and notes != n)
        name = "O'Neill's 1850" if source.startswith("music21:") else "Nottingham"
        print(
            f"{name}: {len(texts)} tunes; music21 as is {plain:.1f} CPU s "
            f"({plain / len(texts) * 1e3:.0f} ms a tune), site's read {site:.1f} CPU s "
            f"({site / len(texts) * 1e3:.0f} ms): {plain / site:.1f}×; "
            f"verdicts or note counts that differ: {differ}"
        )


if __name__ == "__main__":
    main()
