from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the Celery tasks in every process (services send them by name: see
        # common/tasks.py), and connects the receiver that evaluates the pieces of every
        # generation job that succeeds (generator sends a signal; it never imports evaluation).
        from generator.sections import register_piece_section

        from . import receivers, tasks  # noqa: F401
        from .survey.services import piece_survey_summary

        # A generated piece's survey results appear in its API detail (generator declares
        # the section; it does not import this app).
        register_piece_section("survey", lambda piece: piece_survey_summary(piece=piece))
