"""The setup's numba warm-up (scripts/setup.sh, scripts/warm_numba.py) and the modules it
covers."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _key_sources() -> set[str]:
    text = (ROOT / "scripts" / "setup.sh").read_text()
    found = re.search(r"numba_sources=\(([^)]*)\)", text)
    assert found, "setup.sh names the numba sources its warm-up key covers (numba_sources=(...))"
    return set(found.group(1).split())


def test_the_warm_up_key_covers_every_module_with_cached_numba_functions():
    # A loop cached by numba keeps its own copy of the functions it calls from other
    # modules, and numba checks only the loop's own file: an edit of a module the key
    # missed left the loop running its old rules until every cache was deleted.
    cached = {
        str(path.relative_to(ROOT))
        for folder in ("musiclib", "generator", "evaluation")
        for path in (ROOT / folder).rglob("*.py")
        if "cache=True" in path.read_text() and "njit" in path.read_text()
    }
    assert cached, "no module with cached numba functions found: the scan is wrong"
    sources = _key_sources()
    assert cached <= sources, f"missing from setup.sh's numba_sources: {sorted(cached - sources)}"
    assert all((ROOT / source).is_file() for source in sources)
