from django.apps import AppConfig


class GeneratorConfig(AppConfig):
    name = "generator"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from pathlib import Path

        from django.conf import settings

        import musiclib.config
        from common.storage import SiteFileStore

        # The library reads these lazily, so tests that override the settings are seen; its
        # files (the audio way's recordings) go through the site's storage.
        musiclib.config.configure(
            media_root=lambda: Path(settings.MEDIA_ROOT),
            soundfont=lambda: Path(settings.SOUNDFONT_PATH),
            files=SiteFileStore(),
        )

        # Registers the Celery tasks in every process (services send them by name: see
        # common/tasks.py) and connects the worker_ready recovery hooks.
        from . import receivers, tasks  # noqa: F401
