#!/usr/bin/env python3
"""Run the Celery workers and the beat of `make run`, and restart any that dies.

    .venv/bin/python scripts/supervise.py [--var DIR] [--only NAME ...]

Programs (one process group each, output appended to DIR/log/celery-NAME.log, pid of the
group leader in DIR/run/celery-NAME.pid):

  train    celery worker -Q train -c 1              training, one model at a time, at
           CPU priority nice $TRAIN_NICE (10): on a machine that also serves, a visitor's
           sampling takes the cores first and training uses what is left
  sample   celery worker -Q sample -c $SAMPLE_CONCURRENCY (one per core), a visitor's generations
  default  celery worker -Q default -c $CELERY_CONCURRENCY (2): imports, rendering, evaluation
  beat     celery beat: the recovery sweeps (exactly one)

A program that exits while the supervisor runs is started again, and the supervisor's own
output (scripts/run.sh prints it) and the program's log both say so, with its exit status.
A program that keeps dying soon after each start is restarted after a growing pause (1 s,
doubling up to RESTART_MAX_DELAY_S), so a broken setting does not spin the CPU.

SIGTERM or SIGINT stops everything: SIGTERM to each group (a warm shutdown lets running tasks
finish), SIGKILL after STOP_GRACE_S. The supervisor uses only the standard library, so it
starts before and without Django.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Seconds a program must stay up for its next death to count as a fresh one (pause 1 s).
STABLE_AFTER_S = 30.0
# Longest pause (seconds) before restarting a program that keeps dying at start.
RESTART_MAX_DELAY_S = 30.0
# Seconds between SIGTERM and SIGKILL when stopping.
STOP_GRACE_S = 10.0


def programs(var: Path) -> dict[str, list[str]]:
    """The argv of each supervised program, by name."""
    celery = [sys.executable, "-m", "celery", "-A", "musicsite"]
    sample_c = os.environ.get("SAMPLE_CONCURRENCY") or str(os.cpu_count() or 1)
    default_c = os.environ.get("CELERY_CONCURRENCY") or "2"
    # 0..19; 10 gives a process at nice 0 about ten times the CPU share of the trainer.
    train_nice = os.environ.get("TRAIN_NICE") or "10"

    def worker(name: str, queue: str, concurrency: str) -> list[str]:
        return [*celery, "worker", "-Q", queue, "-c", concurrency, "-n", f"{name}@%h", "-l", "info"]

    return {
        "train": ["nice", "-n", train_nice, *worker("train", "train", "1")],
        # One BLAS thread per process: the worker runs one process per core already, and two
        # threads each thrash (bench/sampler.py: a batch of 64 in 0.85 s against 6.1 s).
        "sample": ["env", "OPENBLAS_NUM_THREADS=1", *worker("sample", "sample", sample_c)],
        "default": worker("default", "default", default_c),
        "beat": [*celery, "beat", "-l", "info", "-s", str(var / "celerybeat-schedule")],
    }


LOG_FILE: Path | None = None  # var/log/supervisor.log, set by Supervisor


def say(message: str) -> None:
    line = f"[supervisor {time.strftime('%Y-%m-%d %H:%M:%S')}] {message}"
    print(line, flush=True)
    if LOG_FILE is not None:
        with open(LOG_FILE, "a") as log:
            log.write(line + "\n")


@dataclass
class Program:
    name: str
    argv: list[str]
    log_path: Path
    pid_path: Path
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    delay: float = 1.0
    restart_at: float | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill reaches the pool too
            )
        if self.argv[:2] == ["nice", "-n"]:
            # With the kernel's autogroups (sched_autogroup_enabled), CPU is shared between
            # sessions first and a process's nice counts only within its own session: the
            # new session gets the same nice as a whole, or the nice above changes nothing.
            try:
                Path(f"/proc/{self.proc.pid}/autogroup").write_text(self.argv[2])
            except OSError:  # no autogroups (the plain nice applies) or not allowed
                pass
        self.started_at = time.monotonic()
        self.restart_at = None
        self.pid_path.write_text(f"{self.proc.pid}\n")

    def note(self, message: str) -> None:
        say(message)
        with open(self.log_path, "a") as log:
            log.write(f"[supervisor] {message}\n")

    def signal_group(self, sig: int) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass


class Supervisor:
    def __init__(self, var: Path, only: list[str] | None = None) -> None:
        global LOG_FILE
        (var / "log").mkdir(parents=True, exist_ok=True)
        (var / "run").mkdir(parents=True, exist_ok=True)
        LOG_FILE = var / "log" / "supervisor.log"
        self.pid_path = var / "run" / "supervisor.pid"
        self.programs = [
            Program(
                name, argv, var / "log" / f"celery-{name}.log", var / "run" / f"celery-{name}.pid"
            )
            for name, argv in programs(var).items()
            if not only or name in only
        ]
        self.stopping = False

    def kill_stale(self) -> None:
        """Stop a previous supervisor killed without cleaning up (its `make run` was killed),
        then kill the groups it left behind."""
        try:
            pid = int(self.pid_path.read_text())
            alive = b"supervise.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            alive = False
        if alive and pid != os.getpid():
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S + 5
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.1)
        self.pid_path.write_text(f"{os.getpid()}\n")
        for program in self.programs:
            try:
                pid = int(program.pid_path.read_text())
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except (OSError, ValueError):
                continue
            if b"celery" in cmdline:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def start(self) -> None:
        for program in self.programs:
            program.start()
            say(f"started {program.name} (pid {program.proc.pid}): log {program.log_path}")

    def step(self) -> None:
        now = time.monotonic()
        for program in self.programs:
            if program.restart_at is not None:
                if now >= program.restart_at:
                    program.start()
                    program.note(
                        f"restarted {program.name} (pid {program.proc.pid}, "
                        f"restart {program.restarts})"
                    )
                continue
            code = program.proc.poll() if program.proc else None
            if code is None:
                continue
            # The pool children of a killed worker may outlive it: end the whole group.
            program.signal_group(signal.SIGKILL)
            up = now - program.started_at
            if up >= STABLE_AFTER_S:  # it had been running well: restart at once
                program.delay = 1.0
            else:  # it dies as it starts: wait longer each time
                program.delay = min(program.delay * 2, RESTART_MAX_DELAY_S)
            program.restarts += 1
            program.restart_at = now + program.delay
            how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
            program.note(
                f"{program.name} (pid {program.proc.pid}) died ({how}) after {up:.0f} s; "
                f"restarting in {program.restart_at - now:.0f} s"
            )

    def stop(self) -> None:
        say("stopping the workers and the beat...")
        live = [p for p in self.programs if p.proc is not None and p.proc.poll() is None]
        for program in live:
            program.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and any(p.proc.poll() is None for p in live):
            time.sleep(0.1)
        for program in self.programs:
            program.signal_group(signal.SIGKILL)
            if program.proc is not None:
                program.proc.wait()
            program.pid_path.unlink(missing_ok=True)
        self.pid_path.unlink(missing_ok=True)
        say("stopped")

    def run(self) -> None:
        def on_signal(signum, frame) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.kill_stale()
        self.start()
        try:
            while not self.stopping:
                self.step()
                time.sleep(0.2)
        finally:
            self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--var", type=Path, default=Path(os.environ.get("MUSICSITE_VAR_DIR") or ROOT / "var")
    )
    parser.add_argument("--only", nargs="*", help="supervise only these programs")
    args = parser.parse_args(argv)
    Supervisor(args.var.resolve(), args.only).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
