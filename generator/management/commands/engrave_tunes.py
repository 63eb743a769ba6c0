"""Queue the engraving of every tune of the corpora (or of one), for corpora imported before
imports queued it themselves: their tune pages then show scores without a wait."""

from django.core.management.base import BaseCommand, CommandError

from generator.models import Corpus
from generator.services import corpus_tunes_render_queue


class Command(BaseCommand):
    help = "Queue the engraving of the corpora's tune scores on the `default` queue."

    def add_arguments(self, parser):
        parser.add_argument("--corpus", help="the name of one corpus (default: every corpus)")

    def handle(self, *args, **options):
        corpora = Corpus.objects.order_by("pk")
        if options["corpus"]:
            corpora = corpora.filter(name=options["corpus"])
            if not corpora.exists():
                raise CommandError(f"There is no corpus named {options['corpus']!r}.")
        for corpus in corpora:
            corpus_tunes_render_queue(corpus=corpus, after=0)
            self.stdout.write(f"{corpus.name}: engraving of its tunes queued")
