"""The listener survey (issue 7): blind ratings of generated pieces beside human tunes.

A subpackage of the `evaluation` app, layered like an app of its own: `views`, `api`, `urls`,
`api_urls` and `admin` (the interfaces) call `services` (build clips, enrol listeners, record
answers, results), which use `audio` (clip rendering), `stats` (pure statistics) and `models`.
The models keep the app label `evaluation` (evaluation/models.py imports them), so moving
them here needed no migration. The Celery task that builds a survey's clips stays in
`evaluation.tasks`, under its registered name.
"""
