"""The Celery application. Workers start with `celery -A musicsite worker`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicsite.settings")

app = Celery("musicsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
