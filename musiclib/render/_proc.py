"""Run the command-line tools (abc2midi, fluidsynth, ffmpeg, a verovio child) with a time limit."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .errors import RenderError

# A 5-minute tune renders in a few seconds; anything near a minute is a hung tool, and a web
# request or Celery task must not wait for it forever.
TIMEOUT_S = 60.0


def run(
    args: list[str],
    *,
    cwd: Path | str | None = None,
    stdin: bytes | None = None,
    timeout: float = TIMEOUT_S,
) -> subprocess.CompletedProcess[bytes]:
    """Run `args` and capture its output; a non-zero exit status is left to the caller to judge.

    Raises RenderError when the tool is not installed or runs past `timeout` (subprocess.run
    kills it then, so nothing is left running).
    """
    try:
        return subprocess.run(
            args, cwd=cwd, input=stdin, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise RenderError(f"{args[0]} is not installed (or not on PATH)") from exc
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"{Path(args[0]).name} did not finish within {timeout:g} s") from exc


def output_tail(proc: subprocess.CompletedProcess[bytes], *, limit: int = 500) -> str:
    """The end of a tool's stderr (or stdout), for error messages that say what went wrong."""
    text = (proc.stderr or proc.stdout or b"").decode("utf-8", "replace").strip()
    return text[-limit:] or f"exit status {proc.returncode}"
