"""Training runs: create, start, cancel, resume, execute (in the worker) and recover.

A run is claimed by a worker in a transaction, beats a heartbeat while it trains, and
writes a checkpoint (file first, renamed into place, then the row) at every epoch end. A
worker that dies leaves a run whose heartbeat goes stale; `training_runs_recover` puts it
back on the queue and the next worker continues from the last checkpoint.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
import traceback
from datetime import timedelta
from math import nan
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from threadpoolctl import threadpool_limits

from common.errors import ServiceError
from common.storage import file_put, is_local, local_copy, storage
from common.tasks import send_on_commit
from musiclib.metrics.critic import Critic
from musiclib.metrics.judge import MIN_PER_SIDE
from musiclib.ml.line import (
    LineFit,
    line_fit_rounds,
    phrase_counts,
    phrase_index,
    phrases_readable,
    text_counts,
    text_intervals,
)
from musiclib.ways import get_way

from .. import signals
from ..models import ACTIVE_STATUSES, Checkpoint, Corpus, JobStatus, TrainingRun
from ..selectors import run_split_texts
from ..task_names import RUN_TASK
from .checkpoint_files import sampler_name
from .corpora import iter_corpus_texts, run_prepare
from .critics import checkpoint_critic, checkpoint_critic_fit
from .moves import checkpoint_moves, moves_store

log = logging.getLogger(__name__)
# Database losses (restarts) a run survives before it fails: see training_run_execute.
MAX_DB_ATTEMPTS = 5


def _enqueue_training(run_id: int) -> None:
    send_on_commit(RUN_TASK, run_id)


def training_run_check(
    *,
    corpus: Corpus,
    way: str | None = None,
    preset: str = "quick",
    epochs: int = 10,
    config: dict[str, Any] | None = None,
    warmup_corpus: Corpus | None = None,
) -> dict[str, Any]:
    """What `training_run_create` would refuse, refused now; else the run's config: the
    preset's values with `config`'s overrides. Raises ServiceError naming `corpus`,
    `epochs`, `preset`, `config` or `warmup_corpus`."""
    way_name = way or corpus.way
    if way_name != corpus.way:
        raise ServiceError(
            f"the corpus {corpus} holds {corpus.way} pieces, not {way_name}", field="corpus"
        )
    if not (1 <= int(epochs) <= 10_000):
        raise ServiceError("epochs must be 1..10000", field="epochs")
    try:
        way_impl = get_way(way_name)
    except ValueError as exc:  # a row naming a way this server does not have
        raise ServiceError(str(exc), field="corpus") from exc
    try:
        resolved = way_impl.resolve_config(preset=preset, overrides=config)
    except (ValueError, TypeError) as exc:
        raise ServiceError(
            str(exc), field="preset" if preset not in way_impl.presets else "config"
        ) from exc
    if not corpus.tunes.exists():
        raise ServiceError(
            f"the corpus {corpus} is empty: import tunes before training", field="corpus"
        )
    _check_warmup(way_impl, corpus, warmup_corpus, int(epochs), resolved)
    return resolved


def _check_warmup(way, corpus: Corpus, other: Corpus | None, epochs: int, config: dict) -> None:
    """A warm-up corpus and warm-up epochs come together: another corpus of the run's way,
    not empty, for fewer epochs than the run has (the last ones are its own corpus's)."""
    warmup_epochs = int(config.get("warmup_epochs") or 0)
    if other is None:
        if warmup_epochs:
            raise ServiceError(
                "warm-up epochs need a corpus to learn from first", field="warmup_corpus"
            )
        return
    if not way.capabilities.warmup_corpus:
        raise ServiceError(
            f"{way.noun} runs cannot learn from a second corpus", field="warmup_corpus"
        )
    if other.pk == corpus.pk:
        raise ServiceError("the corpus to learn from first is the run's own", field="warmup_corpus")
    if other.way != corpus.way:
        raise ServiceError(
            f"the corpus {other} holds {other.way} pieces, not {corpus.way}",
            field="warmup_corpus",
        )
    if not other.tunes.exists():
        raise ServiceError(f"the corpus {other} is empty", field="warmup_corpus")
    if not 1 <= warmup_epochs < epochs:
        raise ServiceError(
            f"warm-up epochs must be 1..{epochs - 1}: fewer than the run's {epochs}, so that "
            "it ends on its own corpus",
            field="config",
        )


def training_run_create(
    *,
    corpus: Corpus,
    way: str | None = None,
    preset: str = "quick",
    epochs: int = 10,
    seed: int = 0,
    config: dict[str, Any] | None = None,
    name: str = "",
    user=None,
    warmup_corpus: Corpus | None = None,
) -> TrainingRun:
    """Validate the inputs (`training_run_check`) and store a draft run;
    `training_run_start` queues it."""
    resolved = training_run_check(
        corpus=corpus,
        way=way,
        preset=preset,
        epochs=epochs,
        config=config,
        warmup_corpus=warmup_corpus,
    )
    return TrainingRun.objects.create(
        corpus=corpus,
        warmup_corpus=warmup_corpus,
        warmup_tune_id_max=(
            warmup_corpus.tunes.aggregate(m=Max("pk"))["m"] if warmup_corpus else None
        ),
        name=name,
        way=way or corpus.way,
        preset=preset,
        config=resolved,
        epochs=int(epochs),
        seed=int(seed),
        status=JobStatus.DRAFT,
        code_version=settings.CODE_VERSION,
        tune_id_max=corpus.tunes.aggregate(m=Max("pk"))["m"],
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


def training_run_start(*, run: TrainingRun) -> TrainingRun:
    """Queue a draft run; the task is sent once the transaction commits."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.status != JobStatus.DRAFT:
            raise ServiceError(f"only a draft run can be started; this one is {run.status}")
        run.status = JobStatus.QUEUED
        run.save(update_fields=["status"])
        _enqueue_training(run.pk)
    return run


def training_run_cancel(*, run: TrainingRun) -> TrainingRun:
    """A queued run is cancelled at once; a running one stops within one epoch."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.status in (JobStatus.QUEUED, JobStatus.DRAFT):
            run.status, run.finished_at = JobStatus.CANCELLED, timezone.now()
        elif run.status == JobStatus.RUNNING:
            run.cancel_requested = True
        else:
            raise ServiceError(f"a {run.status} run cannot be cancelled")
        run.save()
    return run


def training_run_resume(*, run: TrainingRun, epochs: int | None = None) -> TrainingRun:
    """Queue a cancelled, failed or finished run again; it continues from its last checkpoint."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.status in (*ACTIVE_STATUSES, JobStatus.DRAFT):
            raise ServiceError(f"a {run.status} run cannot be resumed")
        if epochs is not None:
            run.epochs = int(epochs)
        if run.epochs_done >= run.epochs:
            raise ServiceError(
                "the run has finished all its epochs: raise the epoch count first", field="epochs"
            )
        run.status, run.cancel_requested, run.error = JobStatus.QUEUED, False, ""
        run.finished_at = None
        run.save()
        _enqueue_training(run.pk)
    return run


def _stale_before() -> Any:
    return timezone.now() - timedelta(seconds=settings.RUN_STALE_AFTER_S)


def training_runs_recover(*, dead_worker: str | None = None) -> list[int]:
    """Requeue runs whose worker died: heartbeat stale, or owned by `dead_worker` (a worker
    that has just started cannot be running anything yet, so what it owned was lost)."""
    recovered = []
    with transaction.atomic():
        running = TrainingRun.objects.select_for_update().filter(status=JobStatus.RUNNING)
        for run in running:
            lost = dead_worker and run.worker == dead_worker
            if lost or run.heartbeat_at is None or run.heartbeat_at < _stale_before():
                run.status = JobStatus.QUEUED
                run.save(update_fields=["status"])
                _enqueue_training(run.pk)
                recovered.append(run.pk)
    if recovered:
        log.warning("requeued runs %s after their worker was lost", recovered)
    return recovered


def _claim(run_id: int, worker: str) -> TrainingRun | None:
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return None
        stale = run.status == JobStatus.RUNNING and (
            run.heartbeat_at is None or run.heartbeat_at < _stale_before()
        )
        if run.status != JobStatus.QUEUED and not stale:
            return None  # done, cancelled, or alive on another worker: a duplicate message
        now = timezone.now()
        run.status, run.worker, run.heartbeat_at = JobStatus.RUNNING, worker, now
        run.attempts += 1
        run.started_at = run.started_at or now
        run.save()
        return run


def sampler_path(keras_path: Path) -> Path:
    return keras_path.with_suffix(".npz")


def checkpoint_name(run: TrainingRun, epoch: int) -> str:
    """The storage name of a run's checkpoint (its sampler file: `sampler_name` of it)."""
    return f"checkpoints/run_{run.pk}/epoch_{epoch:04d}.keras"


def checkpoint_dir(run: TrainingRun) -> Path:
    """Where the epoch files are written first: the media folder itself on the local disk
    (renamed into place there), else a scratch folder they are uploaded from."""
    if is_local():
        return Path(storage().path(checkpoint_name(run, 1))).parent
    return Path(tempfile.mkdtemp(prefix=f"run_{run.pk}-", dir=_scratch_dir()))


def _scratch_dir() -> Path:
    folder = Path(settings.FILE_CACHE_DIR) / "scratch"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class _RunHooks:
    """Trainer hooks that write to the run's row. Called in the worker process."""

    def __init__(
        self,
        run: TrainingRun,
        vocab: list[str],
        state: dict | None = None,
        held_out: list | None = None,
    ):
        self.run = run
        self.vocab = vocab
        self.state = state or {}
        # The validation pieces the memory's weights are fitted on (where the way has one).
        self.held_out = held_out if get_way(run.way).capabilities.memory else None

    def heartbeat(self, *, epoch: int, fraction: float) -> None:
        done = (epoch - 1 + fraction) / max(self.run.epochs, 1)
        TrainingRun.objects.filter(pk=self.run.pk).update(
            heartbeat_at=timezone.now(), progress=min(done, 1.0)
        )

    def should_stop(self) -> bool:
        return TrainingRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists()

    def epoch_end(self, *, epoch: int, logs: dict[str, float], model: Any, seconds: float) -> None:
        from musiclib.ml.memory import STATE_KEY as MEMORY_STATE
        from musiclib.ml.memory import memory_fit
        from musiclib.ml.sampler import net_from_keras, save_net
        from musiclib.ml.trainer import save_model
        from musiclib.ways.base import END_ID

        run = self.run
        name = checkpoint_name(run, epoch)
        folder = checkpoint_dir(run)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / Path(name).name
        tmp = folder / f".epoch_{epoch:04d}.{os.getpid()}.tmp.keras"
        # The sampler's numpy weights go beside the Keras file, so generation never
        # needs TensorFlow. Both are written under temporary names and renamed into
        # place before the row exists: no row ever points at a half-written file.
        net_tmp = folder / f".epoch_{epoch:04d}.{os.getpid()}.tmp.npz"
        net = net_from_keras(model)
        extra, fit = dict(self.state), None
        if self.held_out:
            # One BLAS thread: the fit's small products gain nothing from more, and spinning
            # threads would take the core training needs (Nottingham's 103 held-out tunes:
            # 1.6 s on one thread, 28 CPU s with two at rest-state defaults; with a look
            # back about 2.5 s).
            with threadpool_limits(limits=1, user_api="blas"):
                fit = memory_fit(net, self.held_out, end_id=END_ID)
            if fit is not None:
                extra[MEMORY_STATE] = fit.weights
        try:
            save_net(net, str(net_tmp), extra=extra)
            os.replace(net_tmp, sampler_path(final))
            save_model(model, str(tmp))
            os.replace(tmp, final)
        except BaseException:
            # A full disk (ENOSPC) fails the run: leave no half-written file behind either.
            tmp.unlink(missing_ok=True)
            net_tmp.unlink(missing_ok=True)
            if not is_local():
                shutil.rmtree(folder, ignore_errors=True)
            raise
        size = final.stat().st_size
        if not is_local():
            # To the object store, sampler file first: the row below points at both.
            try:
                file_put(sampler_name(name), sampler_path(final))
                file_put(name, final)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        entry = {
            "epoch": epoch,
            "loss": logs.get("loss"),
            "val_loss": logs.get("val_loss"),
            "seconds": round(seconds, 3),
        }
        if logs.get("learning_rate") is not None:
            entry["learning_rate"] = logs["learning_rate"]
        if "warmup" in logs:
            # Whether the epoch learned from the warm-up corpus too: a resumed run reads
            # where it switched to its own (`trainer.train`).
            entry["warmup"] = bool(logs["warmup"])
        if fit is not None:
            # Held-out loss of the model with the piece's memory (each half of the
            # validation pieces scored with weights fitted on the other half).
            entry["val_loss_memory"] = round(fit.loss_memory, 5)
        with transaction.atomic():
            Checkpoint.objects.filter(run=run, epoch=epoch).delete()
            ckpt = Checkpoint.objects.create(
                run=run,
                epoch=epoch,
                file=name,
                size_bytes=size,
                loss=entry["loss"],
                val_loss=entry["val_loss"],
            )
            run.history = [h for h in run.history if h["epoch"] < epoch] + [entry]
            run.epochs_done = epoch
            run.progress = min(epoch / max(run.epochs, 1), 1.0)
            run.heartbeat_at = timezone.now()
            run.save(update_fields=["history", "epochs_done", "progress", "heartbeat_at"])
        every = int(run.config.get("sample_every") or 0)
        if every and (epoch % every == 0 or epoch == run.epochs):
            from .pieces import epoch_sample

            try:
                epoch_sample(checkpoint=ckpt)
            except Exception:  # a failed sample must not stop training
                log.exception("epoch sample failed for run %s epoch %s", run.pk, epoch)


def training_run_execute(*, run_id: int, worker: str | None = None) -> TrainingRun | None:
    """Train a claimed run to its last epoch, from its last checkpoint if it has one."""
    worker = worker or socket.gethostname()
    run = _claim(run_id, worker)
    if run is None:
        return None
    try:
        return _train(run)
    except (OperationalError, InterfaceError):
        # The database went away (a restart, a failover): not the run's fault. Its heartbeat
        # goes stale and `training_runs_recover` resumes it from its last checkpoint; after
        # MAX_DB_ATTEMPTS such losses it fails like any other error.
        connection.close()  # the next task connects afresh
        if run.attempts < MAX_DB_ATTEMPTS:
            log.warning("run %s lost its database connection; it will resume", run.pk)
            return None
        log.exception("run %s failed", run.pk)
        TrainingRun.objects.filter(pk=run.pk).update(
            status=JobStatus.FAILED,
            error=f"the database connection was lost {run.attempts} times; last: "
            f"{traceback.format_exc()[-3000:]}",
            finished_at=timezone.now(),
        )
        return None
    except Exception as exc:
        log.exception("run %s failed", run.pk)
        TrainingRun.objects.filter(pk=run.pk).update(
            status=JobStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()[-4000:]}",
            finished_at=timezone.now(),
        )
        run.refresh_from_db()
        return run


def _train(run: TrainingRun) -> TrainingRun:
    from musiclib.ml import model as ml_model
    from musiclib.ml import trainer

    way = get_way(run.way)
    texts = list(iter_corpus_texts(run.corpus, tune_id_max=run.tune_id_max))
    last = run.checkpoints.order_by("-epoch").first()
    extra = {}
    if getattr(way, "has_state", False):
        # A resumed run keeps the state (the audio way's codebook) its checkpoints decode with.
        state = None
        if last is not None:
            from musiclib.ml.sampler import load_extra

            state = load_extra(str(local_copy(sampler_name(last.file.name))))
        extra["state"] = state
    prepared = run_prepare(way, texts=texts, run=run, **extra)
    if run.vocab and run.vocab != prepared.vocab:
        raise RuntimeError("the corpus changed under the run: its vocabulary differs")
    ml_model.configure_tensorflow()  # before the first operation touches a GPU
    if last is not None:
        model = trainer.load_model(str(local_copy(last.file.name)))
        initial_epoch = last.epoch
    else:
        model = ml_model.build_model(
            config=run.config,
            vocab_size=len(prepared.vocab),
            seed=run.seed,
            precision=settings.TRAIN_PRECISION,
        )
        initial_epoch = 0
    precision = ml_model.model_precision(model)
    TrainingRun.objects.filter(pk=run.pk).update(
        vocab=prepared.vocab,
        data_stats=prepared.stats,
        device=ml_model.device_name() + ("" if precision == "float32" else f", {precision}"),
        epochs_done=initial_epoch,
    )
    run.refresh_from_db()
    # Epochs after the last checkpoint were lost with their worker: they are trained again.
    run.history = [h for h in run.history if h["epoch"] <= initial_epoch]
    outcome = "finished"
    if initial_epoch < run.epochs:
        outcome = trainer.train(
            model=model,
            train_pieces=prepared.train,
            val_pieces=prepared.val,
            config=run.config,
            seed=run.seed,
            epochs=run.epochs,
            initial_epoch=initial_epoch,
            hooks=_RunHooks(run, prepared.vocab, prepared.state, held_out=prepared.val),
            history=run.history,
            warmup_pieces=prepared.warmup,
        )
    run.refresh_from_db()
    run.status = JobStatus.CANCELLED if outcome == "cancelled" else JobStatus.SUCCEEDED
    run.outcome = outcome
    run.cancel_requested = False
    run.finished_at = timezone.now()
    run.save()
    finished = run
    transaction.on_commit(
        lambda: signals.training_run_finished.send(sender=TrainingRun, run=finished)
    )
    log.info("run %s %s after %s epochs", run.pk, outcome, run.epochs_done)
    if outcome != "cancelled":
        _fit_quietly(run)
    return run


def _fit_quietly(run: TrainingRun) -> None:
    """On this training worker once the run is finished: its moves (`run_moves_fit`), then
    its critic (`run_critic_fit`, which hears the pieces the page's first values make, the
    moves included). A failure is logged, never the run's: until it has moves, its pieces
    are drawn without; until it has a critic, the model's own view keeps each piece's take."""
    for what, fit in (("moves", run_moves_fit), ("critic", run_critic_fit)):
        try:
            fit(run=run)
        except Exception:
            log.exception("run %s: fitting its %s failed", run.pk, what)


def run_critic_fit(*, run: TrainingRun, pieces: int | None = None) -> Critic | None:
    """Fit the critic of the run's chosen checkpoint (`critics`) from `pieces` pieces it
    draws (seeds 1..; default the run's `critic_pieces`), unless it has one. None where the
    way's pieces have no melody, the run has no checkpoint, or fewer pieces than a fit
    needs are asked for (0 in the tiny presets)."""
    from .pieces import pieces_draw

    count = int((run.config or {}).get("critic_pieces", 0) if pieces is None else pieces)
    checkpoint = run.chosen_checkpoint
    if count < MIN_PER_SIDE or checkpoint is None or not get_way(run.way).capabilities.melody:
        return None
    found = checkpoint_critic(checkpoint)
    if found is not None:
        return found
    t0 = time.perf_counter()
    machine = pieces_draw(checkpoint=checkpoint, seeds=list(range(1, count + 1)))
    critic = checkpoint_critic_fit(checkpoint=checkpoint, machine=machine)
    if critic is not None:
        log.info(
            "run %s: the critic of epoch %s fitted on %d of its pieces and %d training tunes "
            "in %.0f s (it tells them apart at %.2f)",
            run.pk, checkpoint.epoch, critic.n_machine, critic.n_human,
            time.perf_counter() - t0, critic.accuracy,
        )  # fmt: skip
    return critic


def run_moves_fit(
    *, run: TrainingRun, pieces: int | None = None, rounds: int | None = None
) -> LineFit | None:
    """Fit the moves of the run's chosen checkpoint from `pieces` pieces a round (seeds of
    each round's own; default the run's `moves_pieces`) in `rounds` rounds (default
    `moves_rounds`) and store them, unless it has them. None where the way has no such
    option, the run has no checkpoint, or no pieces are asked for (0 in the tiny presets)."""
    from .pieces import pieces_draw

    config = run.config or {}
    count = int(config.get("moves_pieces", 0) if pieces is None else pieces)
    rounds = int(config.get("moves_rounds", 3) if rounds is None else rounds)
    checkpoint = run.chosen_checkpoint
    if count < 1 or checkpoint is None or not get_way(run.way).capabilities.moves:
        return None
    found = checkpoint_moves(checkpoint)
    if found is not None:
        return found
    t0 = time.perf_counter()
    train, _ = run_split_texts(run=run)

    def draw(weights, k: int) -> list[str]:
        first = 1 + k * count  # (each round on seeds of its own)
        return pieces_draw(
            checkpoint=checkpoint, seeds=list(range(first, first + count)), moves=weights
        )

    # The phrases the lean reaches for are the training tunes'; how often a note ends one
    # is aimed at the training tunes' own rate, each judged by the others (as a held-out
    # tune would be), not at 100 %, each tune weighing as much as any other.
    # (a token vocabulary's notes are not read in semitones: no phrase lean for its models)
    phrases = aim = None
    if phrases_readable(run.vocab):
        intervals = text_intervals(train)
        phrases = phrase_index(intervals)
        aim = phrase_counts(intervals=intervals, index=phrases, own=True)
    fit = line_fit_rounds(
        target=text_counts(train), draw=draw, rounds=rounds, phrases=phrases, phrase_target=aim
    )
    moves_store(checkpoint, fit)
    log.info(
        "run %s: the moves of epoch %s fitted in %d rounds of %d pieces in %.0f s "
        "(turns %.3f -> %.3f, the training pieces' %.3f; notes ending an 8-note phrase of "
        "the corpus %.3f -> %.3f, the training pieces' %.3f)",
        run.pk, checkpoint.epoch, rounds, count, time.perf_counter() - t0,
        fit.before["turns"], fit.after["turns"], fit.target["turns"],
        *(fit.before.get("phrases_8", nan), fit.after.get("phrases_8", nan),
          fit.target.get("phrases_8", nan)),
    )  # fmt: skip
    return fit
