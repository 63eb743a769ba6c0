"""First-start setup for `make run`: a staff login, the default corpus, a first quick run.

Every step is skipped when already done, so a second start costs a few queries.
"""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from generator.models import Corpus, JobStatus, TrainingRun, Way
from generator.services import import_job_create, training_run_create, training_run_start

DEFAULT_CORPUS = ("oneills1850", "music21:oneills1850")
# The MIDI way's default corpus: music21's Bach chorales, imported by a worker in the
# background so the first start does not wait for it (about a minute and a half).
DEFAULT_MIDI_CORPUS = ("bach-chorales", "music21:bach")


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
        self._midi_corpus()
        if settings.AUTOSTART_QUICK_RUN and not TrainingRun.objects.exists():
            run = training_run_create(
                corpus=corpus, preset="quick", epochs=10, seed=1, name="First quick run"
            )
            training_run_start(run=run)
            self.stdout.write(
                f"Started a quick ABC run: http://127.0.0.1:{os.environ.get('PORT', '8000')}"
                f"{run.get_absolute_url()}"
            )

    def _midi_corpus(self) -> None:
        name, source = DEFAULT_MIDI_CORPUS
        corpus, _ = Corpus.objects.get_or_create(
            name=name, defaults={"way": Way.MIDI, "source": source}
        )
        if corpus.tunes.exists() or corpus.imports.exclude(status=JobStatus.FAILED).exists():
            return
        import_job_create(corpus=corpus, source=source, user=None)
        self.stdout.write("Queued the MIDI corpus import (Bach chorales) for a worker.")

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
