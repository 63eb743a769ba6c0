"""The Celery application. Workers start with `celery -A musicsite worker`."""

import os

from celery import Celery

from musicsite.logs import connect_celery_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicsite.settings")

app = Celery("musicsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every log line a task writes carries the task and the run or job it works on.
connect_celery_signals()
