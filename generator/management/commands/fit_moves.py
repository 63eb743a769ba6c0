from django.core.management.base import BaseCommand, CommandError

from generator.models import TrainingRun
from generator.services import run_moves_fit
from generator.services.moves import checkpoint_moves
from musiclib.ways import get_way
from musiclib.ways.base import COMMON_DEFAULTS


class Command(BaseCommand):
    help = (
        "Fit the moves of a run's chosen checkpoint (the weights that make its pieces step, "
        "leap, turn and end the corpus's phrases as often as its training pieces), for a run "
        "that ended without them: "
        "trained before them, or whose chosen checkpoint staff changed. A checkpoint that "
        "has them keeps them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--run", type=int, required=True, help="run id")
        parser.add_argument(
            "--pieces",
            type=int,
            default=COMMON_DEFAULTS["moves_pieces"],
            help="pieces the checkpoint draws in each round (about a minute a round for "
            "600 from a `quick` model on one core)",
        )
        parser.add_argument(
            "--rounds", type=int, default=COMMON_DEFAULTS["moves_rounds"], help="rounds, 1..10"
        )

    def handle(self, *args, **o):
        run = TrainingRun.objects.filter(pk=o["run"]).first()
        if run is None:
            raise CommandError(f"--run: there is no run {o['run']}")
        if not 1 <= o["pieces"] <= 5000:
            raise CommandError("--pieces: 1..5000 pieces a round")
        if not 1 <= o["rounds"] <= 10:
            raise CommandError("--rounds: 1..10")
        if not get_way(run.way).capabilities.moves:
            raise CommandError(f"--run: run {run.pk}'s way has no notes to weigh by their moves")
        if run.chosen_checkpoint is None:
            raise CommandError(f"--run: run {run.pk} has no checkpoint yet")
        had = checkpoint_moves(run.chosen_checkpoint) is not None
        fit = run_moves_fit(run=run, pieces=o["pieces"], rounds=o["rounds"])
        shares = ", ".join(
            f"{name} {fit.before[name]:.0%} -> {fit.after[name]:.0%} ({fit.target[name]:.0%})"
            for name in ("turns", "steps", "fourths_fifths", "wider")
        )
        self.stdout.write(
            f"run {run.pk}, epoch {run.chosen_checkpoint.epoch}: "
            f"{'it already had its moves; ' if had else ''}without -> with them "
            f"(the training pieces): {shares}"
        )
