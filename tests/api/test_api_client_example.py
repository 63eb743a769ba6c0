"""The example client in docs/examples/api_client.py works against the real site: a live
server, a real Celery worker, a tiny corpus, preset tiny, one epoch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from generator.models import GenerationJob, JobStatus, TrainingRun

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "docs" / "examples" / "api_client.py"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_example_client_trains_generates_and_downloads_midi(
    live_server, celery_worker, staff_user, tmp_path
):
    from rest_framework.authtoken.models import Token

    from tests.factories import make_tiny_corpus

    corpus = make_tiny_corpus(name="api example", tunes=20)
    token = Token.objects.create(user=staff_user)
    out = tmp_path / "pieces"
    # A plain interpreter in a plain environment: the client needs nothing but the stdlib.
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONNOUSERSITE": "1"}
    command = [
        sys.executable, "-I", str(CLIENT), live_server.url,
        "--token", token.key, "--corpus", str(corpus.pk),
        "--preset", "tiny", "--epochs", "1",
        "--count", "4", "--meter", "6/8", "--key", "G", "--seed", "7",
        "--out", str(out), "--timeout", "300",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{output}\n--- worker log ---\n{celery_worker.log()[-4000:]}"

    run = TrainingRun.objects.get(corpus=corpus)
    assert run.status == JobStatus.SUCCEEDED and run.preset == "tiny" and run.epochs_done == 1
    job = GenerationJob.objects.get(checkpoint__run=run, is_epoch_sample=False)
    assert job.status == JobStatus.SUCCEEDED and job.count == 4
    assert job.prime == "M:6/8\nL:1/8\nK:G\n"
    files = sorted(out.glob("*.mid"))
    assert files and all(f.read_bytes().startswith(b"MThd") for f in files)
    assert {f"piece-{p.pk}.mid" for p in job.pieces.exclude(midi="")} == {f.name for f in files}
    assert f"Saved {len(files)} MIDI files" in output


def test_the_example_client_uses_only_the_standard_library():
    import ast

    tree = ast.parse(CLIENT.read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.split(".")[0])
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}, modules
