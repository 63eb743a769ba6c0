#!/usr/bin/env python3
"""A small client of the musicsite REST API, on the Python standard library alone.

Given the site's base URL and a staff token (staff make tokens in the admin, under
"Auth Token > Tokens"), it trains a model, waits for it, generates pieces and downloads
their MIDI files:

    python docs/examples/api_client.py http://127.0.0.1:8000 --token 0123abcd... \\
        --corpus 1 --preset quick --epochs 5 --count 4 --out pieces/

1. POST /api/v1/runs/                  create and start a run        -> 202, Location
2. GET  <Location>                     poll until "done"             (progress, loss)
3. POST /api/v1/generate/ {"run": id}  generate from its latest epoch -> 202, Location
4. GET  <Location>                     poll until "done"             (the job's pieces)
5. GET  piece["downloads"]["midi"]     save each piece's MIDI file

Errors come back as {"error": {"code", "message", "fields"}}; a 429 says how long to wait
in its Retry-After header, and this client waits that long and tries again.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

USER_AGENT = "musicsite-api-example/1.0"


class ApiError(Exception):
    """An answer in the API's error format (or a non-JSON failure)."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, list[str]]):
        detail = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        super().__init__(f"{status} {code}: {message}" + (f" ({detail})" if detail else ""))
        self.status, self.code, self.message, self.fields = status, code, message, fields


class Client:
    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 60):
        self.base_url = base_url.rstrip("/") + "/"
        self.token = token
        self.timeout = timeout

    def url(self, path_or_url: str) -> str:
        return urllib.parse.urljoin(self.base_url, path_or_url)

    def _open(self, method: str, url: str, body: dict[str, Any] | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url(url), data=data, method=method)
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", USER_AGENT)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        while True:
            try:
                return urllib.request.urlopen(request, timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                if exc.code == 429:  # throttled: wait as long as the server asks
                    wait = float(exc.headers.get("Retry-After") or 5)
                    print(f"  throttled; waiting {wait:.0f} s", file=sys.stderr)
                    time.sleep(min(wait, 300))
                    continue
                raise _api_error(exc) from None

    def request(
        self, method: str, url: str, body: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """(JSON body, headers) of one request; raises ApiError for an error answer."""
        with self._open(method, url, body) as response:
            return json.load(response), dict(response.headers)

    def get(self, url: str) -> dict[str, Any]:
        return self.request("GET", url)[0]

    def post(self, url: str, body: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
        """POST and return (body, the URL to poll): Location for 202 Accepted work."""
        data, headers = self.request("POST", url, body or {})
        return data, headers.get("Location") or data.get("url", "")

    def download(self, url: str, dest: Path) -> Path:
        with self._open("GET", url) as response:
            dest.write_bytes(response.read())
        return dest

    def wait(self, url: str, *, timeout: float, interval: float = 2.0, show=None) -> dict:
        """Poll `url` until its body says `done`; `show(body)` is called on every poll."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.get(url)
            if show:
                show(body)
            if body.get("done"):
                return body
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} was not done after {timeout:.0f} s")
            time.sleep(interval)

    def pages(self, url: str):
        """Every item of a paginated list, following the cursor's `next` links."""
        while url:
            body = self.get(url)
            yield from body["results"]
            url = body["next"]


def _api_error(exc: urllib.error.HTTPError) -> ApiError:
    raw = exc.read()
    try:
        error = json.loads(raw)["error"]
        return ApiError(exc.code, error["code"], error["message"], error.get("fields") or {})
    except (ValueError, KeyError, TypeError):
        return ApiError(exc.code, "http_error", raw[:200].decode(errors="replace"), {})


def find_corpus(client: Client, corpus: str) -> dict[str, Any]:
    """A corpus by id or by name."""
    if corpus.isdigit():
        return client.get(f"api/v1/corpora/{corpus}/")
    for item in client.pages("api/v1/corpora/"):
        if item["name"] == corpus:
            return item
    raise SystemExit(f"no corpus named {corpus!r}")


def show_run(run: dict[str, Any]) -> None:
    last = (run.get("history") or [{}])[-1]
    loss = f", loss {last['loss']:.3f}" if last.get("loss") is not None else ""
    print(
        f"  run {run['id']}: {run['status']}, epoch {run['epochs_done']}/{run['epochs']}, "
        f"{run['progress']:.0%}{loss}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="the site, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", default=os.environ.get("MUSICSITE_TOKEN"), help="staff token")
    parser.add_argument("--corpus", default="1", help="corpus id or name (default 1)")
    parser.add_argument("--preset", default="quick", help="tiny, quick or full")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--count", type=int, default=4, help="pieces to generate")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--meter", default="", help="e.g. 6/8 (blank: the model chooses)")
    parser.add_argument("--key", default="", help="e.g. G; needs --meter")
    parser.add_argument("--seed", type=int, help="generation seed (default: random)")
    parser.add_argument("--out", type=Path, default=Path("pieces"), help="folder for .mid files")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for each step")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("a staff token is needed: --token or MUSICSITE_TOKEN")

    client = Client(args.base_url, args.token)
    try:
        corpus = find_corpus(client, args.corpus)
        print(f"Training on {corpus['name']} ({corpus['n_tunes']} tunes), preset {args.preset}")
        run, run_url = client.post(
            "api/v1/runs/",
            {"corpus": corpus["id"], "preset": args.preset, "epochs": args.epochs},
        )
        run = client.wait(run_url, timeout=args.timeout, show=show_run)
        if run["status"] != "succeeded":
            print(f"The run ended {run['status']}: {run['error'][:500]}", file=sys.stderr)
            return 1

        print(f"Generating {args.count} pieces from run {run['id']}")
        request = {"run": run["id"], "count": args.count, "temperature": args.temperature}
        request.update({k: v for k, v in (("meter", args.meter), ("key", args.key)) if v})
        if args.seed is not None:
            request["seed"] = args.seed
        job, job_url = client.post("api/v1/generate/", request)
        job = client.wait(job_url, timeout=args.timeout)
        if job["status"] != "succeeded":
            print(f"Generation ended {job['status']}: {job['error'][:500]}", file=sys.stderr)
            return 1

        args.out.mkdir(parents=True, exist_ok=True)
        saved = 0
        for piece in job["pieces"]:
            midi = piece["downloads"]["midi"]
            if not midi:
                print(f"  piece {piece['id']} {piece['title']!r} has no MIDI (it did not render)")
                continue
            path = client.download(midi, args.out / f"piece-{piece['id']}.mid")
            saved += 1
            valid = "valid" if piece["valid"] else "not valid"
            print(f"  {path}  {piece['title']} ({piece['meter']}, {piece['key']}, {valid})")
        print(f"Saved {saved} MIDI files in {args.out}")
        return 0 if saved else 1
    except ApiError as exc:
        print(f"API error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
