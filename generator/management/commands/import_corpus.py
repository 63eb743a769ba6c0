from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from generator.services import ServiceError, corpus_get_or_create, corpus_import, import_job_create
from musiclib.ways import way_for_source, way_names


class Command(BaseCommand):
    help = "Import a folder or file of ABC (or MIDI) tunes, or music21:<name>, into a corpus."

    def add_arguments(self, parser):
        parser.add_argument("source", help="folder, file, or music21:<name>")
        parser.add_argument("--corpus", help="corpus name (default: the source's name)")
        parser.add_argument("--way", default=None, choices=way_names())

    def handle(self, *args, source, corpus, way, **options):
        # A source only one way reads (music21:bach-audio: chorales rendered with FluidSynth,
        # an audio corpus) names its way; any other is ABC unless --way says otherwise.
        way = way or way_for_source(source)
        source_name = source.split("#", 1)[0] if source.startswith("music21:") else source
        name = corpus or source_name.rstrip("/").rsplit("/", 1)[-1].replace("music21:", "")
        target = corpus_get_or_create(name=name, way=way, source=source)
        try:  # the checks of every import (the server's shell may name any folder)
            job = import_job_create(corpus=target, source=source, user=None, way=way, enqueue=False)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        bar = tqdm(total=0, unit="tune", desc=f"checking {name}", disable=None)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        job = corpus_import(corpus=target, source=source, job=job, progress=progress)
        bar.close()
        if job.error and not job.imported:
            raise CommandError(job.error)
        self.stdout.write(
            f"{target.name}: imported {job.imported}, duplicates skipped {job.duplicates}, "
            f"failures {len(job.failures)}"
        )
        for failure in job.failures[:50]:
            self.stdout.write(f"  {failure['file']} tune {failure['tune']}: {failure['reason']}")
        if len(job.failures) > 50:
            self.stdout.write(f"  ... and {len(job.failures) - 50} more (see the admin)")
