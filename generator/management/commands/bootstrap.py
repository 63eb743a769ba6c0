"""First-start setup for `make run`: a staff login, the default corpus, a first quick run.

Every step is skipped when already done, so a second start costs a few queries.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from generator.models import Corpus, TrainingRun
from generator.services import training_run_create, training_run_start

DEFAULT_CORPUS = ("oneills1850", "music21:oneills1850")


class Command(BaseCommand):
    help = "Create a dev superuser, import the default corpus and start a first quick run."

    def handle(self, *args, **options):
        self._superuser()
        corpus = Corpus.objects.filter(name=DEFAULT_CORPUS[0]).first()
        if corpus is None or not corpus.tunes.exists():
            self.stdout.write(
                "Importing the default corpus (O'Neill's 1850, bundled with music21)..."
            )
            call_command("import_corpus", DEFAULT_CORPUS[1], corpus=DEFAULT_CORPUS[0])
            corpus = Corpus.objects.get(name=DEFAULT_CORPUS[0])
        if settings.AUTOSTART_QUICK_RUN and not TrainingRun.objects.exists():
            run = training_run_create(
                corpus=corpus, preset="quick", epochs=10, seed=1, name="First quick run"
            )
            training_run_start(run=run)
            self.stdout.write(
                f"Started a quick ABC run: http://127.0.0.1:8000{run.get_absolute_url()}"
            )

    def _superuser(self) -> None:
        User = get_user_model()
        path = settings.VAR_DIR / "dev-superuser.txt"
        if User.objects.filter(is_superuser=True).exists():
            if path.exists():
                self.stdout.write(f"Staff login: {path.read_text().strip()}")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "admin@example.org", password)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"user admin, password {password}\n")
        path.chmod(0o600)
        self.stdout.write(f"Created staff login: user admin, password {password} (saved in {path})")
