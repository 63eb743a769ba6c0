from django.apps import AppConfig


class GeneratorConfig(AppConfig):
    name = "generator"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from pathlib import Path

        from django.conf import settings

        import musiclib.config

        from . import signals  # noqa: F401  (connects the worker_ready recovery hook)

        # The library reads these lazily, so tests that override the settings are seen.
        musiclib.config.configure(
            media_root=lambda: Path(settings.MEDIA_ROOT),
            soundfont=lambda: Path(settings.SOUNDFONT_PATH),
        )
