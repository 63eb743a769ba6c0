from django.core.management.base import BaseCommand, CommandError

from generator.models import TrainingRun
from generator.services import run_critic_fit
from generator.services.critics import checkpoint_critic
from musiclib.metrics.judge import MIN_PER_SIDE
from musiclib.ways import get_way
from musiclib.ways.base import COMMON_DEFAULTS


class Command(BaseCommand):
    help = (
        "Fit the critic of a run's chosen checkpoint (the ear that keeps the take most like "
        "the corpus), for a run that ended without one: trained before critics, or whose "
        "chosen checkpoint staff changed. A checkpoint that has one keeps it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--run", type=int, required=True, help="run id")
        parser.add_argument(
            "--pieces",
            type=int,
            default=COMMON_DEFAULTS["critic_pieces"],
            help=f"pieces the checkpoint draws for it, at least {MIN_PER_SIDE} "
            "(about half a minute for 400 from a `quick` model on one core)",
        )

    def handle(self, *args, **o):
        run = TrainingRun.objects.filter(pk=o["run"]).first()
        if run is None:
            raise CommandError(f"--run: there is no run {o['run']}")
        if o["pieces"] < MIN_PER_SIDE:
            raise CommandError(f"--pieces: a critic needs at least {MIN_PER_SIDE} pieces")
        if not get_way(run.way).capabilities.melody:
            raise CommandError(f"--run: run {run.pk}'s pieces have no melody for a critic")
        if run.chosen_checkpoint is None:
            raise CommandError(f"--run: run {run.pk} has no checkpoint yet")
        had = checkpoint_critic(run.chosen_checkpoint) is not None
        critic = run_critic_fit(run=run, pieces=o["pieces"])
        if critic is None:
            raise CommandError(f"run {run.pk}: too few tunes a side to fit a critic")
        self.stdout.write(
            f"run {run.pk}, epoch {run.chosen_checkpoint.epoch}: "
            f"{'it already had a critic, ' if had else ''}critic fitted on "
            f"{critic.n_machine} of its pieces and {critic.n_human} training tunes "
            f"(it tells them apart at {critic.accuracy:.2f})"
        )
