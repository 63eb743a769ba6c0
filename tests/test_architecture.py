"""The architecture holds: the import contracts are kept and the committed picture of the
layers is what the import graph draws (docs/architecture.md, `make architecture`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_every_import_contract_is_kept():
    """`make lint` checks these too; here they also run in `make test`, i.e. in CI."""
    result = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_committed_picture_is_what_the_import_graph_draws():
    result = subprocess.run(
        [sys.executable, "scripts/architecture.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        "docs/architecture.md's picture is stale: run `make architecture`\n" + result.stdout
    )


def test_no_module_imports_another_packages_private_names():
    """ruff's PLC2701 (a preview rule, on in pyproject.toml) catches
    `from generator.views import _client_ip` in evaluation, and the site has none."""
    ruff = BIN / "ruff"
    probe = "from generator.views.helpers import _private  # noqa: F401\n"
    caught = subprocess.run(
        [str(ruff), "check", "--select", "PLC2701", "--stdin-filename", "evaluation/probe.py", "-"],
        cwd=ROOT,
        input=probe,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert caught.returncode == 1 and "import-private-name" in caught.stdout, caught.stdout
    site = subprocess.run(
        [str(ruff), "check", "--select", "PLC2701", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert site.returncode == 0, site.stdout[-4000:]


def test_services_queue_tasks_by_registered_names():
    """Services send tasks by name (common/tasks.py): every name they use is registered in
    this process, and a wrong one fails at once instead of sending a message nobody reads."""
    import pytest
    from celery import current_app

    from common.tasks import send_on_commit
    from evaluation import task_names as evaluation_names
    from generator import task_names as generator_names

    names = [
        value
        for module in (generator_names, evaluation_names)
        for key, value in vars(module).items()
        if key.endswith("_TASK")
    ]
    assert len(names) == 10
    assert all(name in current_app.tasks for name in names)
    with pytest.raises(KeyError):
        send_on_commit("generator.tasks.no_such_task", 1)
