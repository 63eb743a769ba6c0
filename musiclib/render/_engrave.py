"""Engrave one score with verovio; run as a child process by score.py, never imported there.

Verovio's ABC reader segfaults on malformed input (a tune without X:, an unmatched "]"), which
would take the whole web or Celery worker down with it, so it only ever runs in a throw-away
process. Reads JSON {"data", "fmt", "options"} on stdin and writes a JSON list with one SVG
string per page on stdout; exits with status 2 when verovio cannot load the data.
"""

import json
import sys

import verovio


def main() -> int:
    request = json.load(sys.stdin)
    verovio.enableLog(verovio.LOG_OFF)  # it logs every import warning to stderr otherwise
    toolkit = verovio.toolkit()
    toolkit.setOptions({**request["options"], "inputFrom": request["fmt"]})
    if not toolkit.loadData(request["data"]) or toolkit.getPageCount() < 1:
        return 2
    pages = [toolkit.renderToSVG(page) for page in range(1, toolkit.getPageCount() + 1)]
    json.dump(pages, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
