from django.core.management.base import BaseCommand, CommandError

from common.errors import ServiceError, sentence
from generator.models import Checkpoint, TrainingRun
from generator.services import generation_job_create, generation_job_execute
from generator.services.pieces import MAX_TAKES, TAKES_BY


class Command(BaseCommand):
    help = "Generate pieces from a checkpoint (queued to Celery, or --now in this process)."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--checkpoint", type=int, help="checkpoint id")
        group.add_argument("--run", type=int, help="run id: use its last checkpoint")
        parser.add_argument("--count", type=int, default=4)
        parser.add_argument("--temperature", type=float, default=1.0)
        parser.add_argument("--seed", type=int, default=None, help="blank: random")
        parser.add_argument("--top-k", type=int, default=0)
        parser.add_argument(
            "--top-p", type=float, default=1.0, help="nucleus sampling, 0 < p <= 1 (1: off)"
        )
        parser.add_argument("--max-length", type=int, default=1000)
        parser.add_argument("--prime", default="", help='e.g. "M:6/8\\nL:1/8\\nK:D\\n"')
        parser.add_argument(
            "--grammar", action="store_true", help="grammar-aware sampling (no invalid symbol)"
        )
        parser.add_argument(
            "--folk-form",
            action="store_true",
            help="with --grammar: each tune shaped as a training tune drawn by its seed "
            "(its parts, bars, repeat signs, last note)",
        )
        parser.add_argument(
            "--returns",
            action="store_true",
            help="with --folk-form: bars and phrases come back where the training tunes "
            "bring theirs back",
        )
        parser.add_argument(
            "--memory",
            action="store_true",
            help="each draw also looks back over the piece itself (ways that offer it)",
        )
        parser.add_argument(
            "--moves",
            action="store_true",
            help="each note weighed by its move from the last, as the checkpoint's fitted "
            "moves say, so that the pieces step, leap and turn as the training pieces do "
            "(ways that offer it)",
        )
        parser.add_argument(
            "--takes",
            type=int,
            default=1,
            help=f"draws of each piece, 1..{MAX_TAKES}; the least surprising to the model is kept",
        )
        parser.add_argument(
            "--takes-by",
            choices=TAKES_BY,
            default="model",
            help="which take is kept: the least surprising to the model, or one drawn by the "
            "checkpoint's critic as most like the corpus",
        )
        parser.add_argument("--now", action="store_true", help="run here instead of queueing")

    def handle(self, *args, **o):
        if o["checkpoint"]:
            ckpt = Checkpoint.objects.filter(pk=o["checkpoint"]).first()
        else:
            run = TrainingRun.objects.filter(pk=o["run"]).first()
            ckpt = run.last_checkpoint if run else None
        if ckpt is None:
            raise CommandError("no such checkpoint (or the run has none yet)")
        try:
            job = generation_job_create(
                checkpoint=ckpt,
                count=o["count"],
                temperature=o["temperature"],
                seed=o["seed"],
                top_k=o["top_k"],
                top_p=o["top_p"],
                max_length=o["max_length"],
                prime=o["prime"].encode().decode("unicode_escape"),
                grammar=o["grammar"],
                folk_form=o["folk_form"],
                returns=o["returns"],
                memory=o["memory"],
                moves=o["moves"],
                takes=o["takes"],
                takes_by=o["takes_by"],
                enqueue=not o["now"],
            )
        except ServiceError as exc:  # the option it is about (the service's keyword), then why
            where = f"--{exc.field.replace('_', '-')}: " if exc.field else ""
            raise CommandError(f"{where}{sentence(exc.message)}") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not o["now"]:
            self.stdout.write(f"queued generation job {job.pk} (seed {job.seed})")
            return
        job = generation_job_execute(job_id=job.pk)
        if job.status != "succeeded":
            raise CommandError(job.error)
        for piece in job.pieces.order_by("index"):
            self.stdout.write(
                f"piece {piece.pk} seed {piece.seed}: parses={piece.parses} plays={piece.plays} "
                f"bars={piece.bar_accuracy}\n{piece.text}"
            )
