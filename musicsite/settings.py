"""Settings read from the environment, with safe development defaults.

Every variable is listed in `.env.example`. Without any, the site runs on SQLite, a
Celery broker in the Redis `make run` starts, media under ./var: nothing to set up.
"""

import os
import subprocess
from pathlib import Path

import dj_database_url

from musiclib.config import sample_threads_asked

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


VAR_DIR = Path(os.environ.get("MUSICSITE_VAR_DIR", BASE_DIR / "var"))

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "generator",
    "evaluation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "musicsite.security.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "musicsite.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "musicsite.wsgi.application"

# DATABASE_URL: postgres://user:pass@host:5432/name in production; SQLite by default.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write concurrently: wait for locks instead of failing.
    # Write-ahead logging: a read no longer holds off other processes' commits (in the
    # default journal a corpus render's open cursor held a visitor's job for seconds; WAL
    # lets one writer commit beside any readers).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,  # seconds a write waits for another writer's lock
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Every file (corpora, checkpoints, sampler files, pieces' MIDI and audio, rendered scores
# and audio, the novelty index, uploads) is read and written through Django's `default`
# storage (common/storage.py): MEDIA_ROOT on the local disk unless AWS_STORAGE_BUCKET_NAME
# names a bucket of an S3-compatible object store (django-storages' S3Storage), which every
# machine of a deployment then shares. django-storages reads the AWS_* settings below.
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None  # None: Amazon S3
AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME") or None
AWS_S3_ACCESS_KEY_ID = os.environ.get("AWS_S3_ACCESS_KEY_ID") or None  # None: boto3's own
AWS_S3_SECRET_ACCESS_KEY = os.environ.get("AWS_S3_SECRET_ACCESS_KEY") or None  # lookup
AWS_S3_ADDRESSING_STYLE = os.environ.get("AWS_S3_ADDRESSING_STYLE") or None  # path | virtual
AWS_LOCATION = os.environ.get("AWS_LOCATION", "")  # a prefix for every key in the bucket
AWS_S3_FILE_OVERWRITE = True  # names are chosen by the site (content-hashed or one per row)
AWS_DEFAULT_ACL = None  # the bucket's own policy; files are served by the site, not by URL
# Code that needs a file on the local disk (TensorFlow loading a checkpoint, the audio way
# reading a recording) copies it from the object store into this folder, one copy per
# content (common.storage.local_copy). Deleting it is always safe: it refills on demand.
FILE_CACHE_DIR = Path(os.environ.get("FILE_CACHE_DIR", VAR_DIR / "filecache"))
# Mebibytes those copies may take on each machine (0: no bound; else 16 to 10,000,000, and
# more than the largest few checkpoints a machine uses at once). Past it the copies used
# longest ago are deleted (common.storage.file_cache_prune) by the process that adds a copy
# and every FILE_CACHE_PRUNE_EVERY_S seconds (60-86,400) by the beat's task on `default`.
# A copy used in the last FILE_CACHE_KEEP_S seconds (60-86,400; longer than loading a
# checkpoint takes) is never deleted, so the folder may pass the bound by what is in use.
FILE_CACHE_MAX_MB = env_int("FILE_CACHE_MAX_MB", 4096)
FILE_CACHE_KEEP_S = env_int("FILE_CACHE_KEEP_S", 600)
FILE_CACHE_PRUNE_EVERY_S = env_int("FILE_CACHE_PRUNE_EVERY_S", 3600)
if FILE_CACHE_MAX_MB != 0 and not 16 <= FILE_CACHE_MAX_MB <= 10_000_000:
    raise RuntimeError("FILE_CACHE_MAX_MB must be 0 (no bound) or 16..10000000 (MiB)")
if not (60 <= FILE_CACHE_KEEP_S <= 86_400 and 60 <= FILE_CACHE_PRUNE_EVERY_S <= 86_400):
    raise RuntimeError("FILE_CACHE_KEEP_S and FILE_CACHE_PRUNE_EVERY_S must be 60..86400 (s)")
STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage"
        if AWS_STORAGE_BUCKET_NAME
        else "django.core.files.storage.FileSystemStorage"
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Uploads: in bytes. Corpus uploads larger than this are refused with a message.
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- cache ------------------------------------------------------------------------------
# The API's and the survey's throttles count in this cache, so every process on every host
# enforces one limit. CACHE_URL: redis://host:6379/1 in production (a Redis database of its
# own: clearing the cache empties that database); default: files under <var>/cache, shared
# by the processes of one machine only.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
elif CACHE_URL:
    raise RuntimeError("CACHE_URL must be a redis:// URL (or unset for the file cache)")
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            # Its increments rewrite the entry with this timeout (seconds): longer than the
            # longest throttle window (an hour), so a counter outlives its window.
            "TIMEOUT": 7200,
        }
    }

# --- Celery -------------------------------------------------------------------------
# CELERY_BROKER_URL: redis://host:6379/0 in production. `make run` starts a Redis of its own
# (scripts/lib.sh, data under var/redis) and passes its URL; this default is that Redis's
# usual address, for commands run beside `make run` (manage.py generate). kombu's filesystem
# transport is not used: several processes sharing it read half-written messages.
EMBEDDED_REDIS_PORT = env_int("EMBEDDED_REDIS_PORT", 63790)
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or (
    f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
# Queues by kind of work, each consumed by its own worker (see scripts/prod.sh):
#   train   training runs (TensorFlow; the GPU host when there is one), concurrency 1 so one
#           device trains one model at a time;
#   sample  a visitor's generations (the compiled sampler, no TensorFlow), one process per core,
#           so a generation never waits behind a training run or an import;
#   default everything else: imports, evaluation, run reports and corpus calibrations (so
#           no page computes them), rendering (audio and scores), the recovery sweeps.
WORK_QUEUES = ("train", "sample", "default")
CELERY_TASK_ROUTES = {
    "generator.tasks.training_run_task": {"queue": "train"},
    "generator.tasks.generation_job_task": {"queue": "sample"},
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# How a new training run's model computes on the train role (musiclib.ml.model.PRECISIONS):
# "float32" (default), "mixed_float16" (GPUs with tensor cores; float16 arithmetic, float32
# weights, a scaled loss) or "mixed_bfloat16". A resumed run keeps the precision its
# checkpoint was built with; the run page's device line names any precision but float32.
TRAIN_PRECISION = os.environ.get("TRAIN_PRECISION", "float32")
# Every minute, runs whose worker died (stale heartbeat) go back on the queue, so no run is
# left "running" forever even when no worker restarts to claim it at start-up.
# RECOVER_EVERY_S: seconds between sweeps; a sweep not started by the next one is dropped.
RECOVER_EVERY_S = float(os.environ.get("RECOVER_EVERY_S", "60"))
CELERY_BEAT_SCHEDULE = {
    "recover-stale-runs": {
        "task": "generator.tasks.training_runs_recover_task",
        "schedule": RECOVER_EVERY_S,
        "options": {"expires": RECOVER_EVERY_S},
    },
    # Generation and import jobs whose worker was killed fail with a reason (not "running"
    # forever), and queued work whose broker message was lost is sent again; see
    # generator/services/recovery.py.
    "recover-lost-jobs": {
        "task": "generator.tasks.jobs_recover_task",
        "schedule": RECOVER_EVERY_S,
        "options": {"expires": RECOVER_EVERY_S},
    },
    # Pieces whose evaluation message was lost with a killed worker are evaluated after all,
    # and a lost corpus calibration or run report measure is sent again after
    # JOB_LOST_AFTER_S (evaluation/services.py, evaluation_work_recover).
    "recover-lost-evaluations": {
        "task": "evaluation.tasks.evaluations_recover_task",
        "schedule": RECOVER_EVERY_S,
        "options": {"expires": RECOVER_EVERY_S},
    },
    # The local copies of the `default` role's machine within FILE_CACHE_MAX_MB (every
    # machine also prunes its own after it adds a copy; this catches a lowered bound).
    "prune-file-cache": {
        "task": "generator.tasks.file_cache_prune_task",
        "schedule": FILE_CACHE_PRUNE_EVERY_S,
        "options": {"expires": FILE_CACHE_PRUNE_EVERY_S},
    },
    # Every hour, the lock rows of visitors who generated nothing within the hourly allowance's
    # window (generator/services/allowance.py), so the table holds only recent visitors.
    "prune-generation-requesters": {
        "task": "generator.tasks.generation_requesters_prune_task",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- musicsite behaviour -----------------------------------------------------------------
# Start a `quick` ABC run on the default corpus the first time `make run` starts the site.
AUTOSTART_QUICK_RUN = env_bool("AUTOSTART_QUICK_RUN", True)
# A run whose heartbeat is older than this (seconds) is taken to have lost its worker and is
# resumed from its last checkpoint. Heartbeats are written every few seconds while training.
RUN_STALE_AFTER_S = env_int("RUN_STALE_AFTER_S", 120)
# CPU seconds (0 to 120; 0: off) a sample worker process spends building a grammar's tables
# ahead of time along a model's training tunes, once per model and grammar, right after its
# first grammar-aware job of that model has stored its pieces (no visitor waits for it):
# later pieces find most table states built instead of building them in Python. About 2 s
# for a thousand character tunes; token tunes cost several times that, so the bound stops it.
GRAMMAR_REPLAY_CPU_S = env_int("GRAMMAR_REPLAY_CPU_S", 10)
if not 0 <= GRAMMAR_REPLAY_CPU_S <= 120:
    raise RuntimeError("GRAMMAR_REPLAY_CPU_S must be 0 (off) to 120 seconds")
# After each generation job (its pieces stored), a sample worker process collects its
# garbage once and freezes what is left (`musiclib.ml.automaton.tables_settle`), so that the
# collector no longer walks the grammar tables it keeps (0.2 s a full collection for 32 MB
# of tables, at a random point of a visitor's batch). Off in tests that run the generation
# task in the test process itself.
GENERATION_GC_FREEZE = env_bool("GENERATION_GC_FREEZE", True)
# Threads (1 to 64) each sample process splits a piece's matrix products among. The sampler
# reads SAMPLE_THREADS from the environment itself (`musiclib.config.sample_threads_asked`,
# whose rule this applies); it is checked here so that a wrong value stops the site at
# start, not a visitor's job. 1 (the default) where the sample processes fill the cores or
# share them with training, as `make run` does; 2 with SAMPLE_CONCURRENCY at half the cores
# on a sampling host of its own: a piece then takes less than half as long
# (docs/operations.md).
try:
    SAMPLE_THREADS = sample_threads_asked()
except ValueError:
    SAMPLE_THREADS = 0
if not 1 <= SAMPLE_THREADS <= 64:
    raise RuntimeError("SAMPLE_THREADS must be a whole number of threads from 1 to 64")
# Pieces an anonymous visitor may generate per hour (staff: no limit).
ANON_GENERATIONS_PER_HOUR = env_int("ANON_GENERATIONS_PER_HOUR", 12)
# Reverse proxies in front of the site (0 in development, usually 1 in production): the
# client address for per-visitor limits is taken that many hops back in X-Forwarded-For.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
SOUNDFONT_PATH = os.environ.get("SOUNDFONT_PATH", "/usr/share/sounds/sf2/FluidR3_GM.sf2")
NOTTINGHAM_DIR = Path(
    os.environ.get("NOTTINGHAM_DIR", BASE_DIR.parent / "shared" / "datasets" / "nottingham")
)


def _code_version() -> str:
    explicit = os.environ.get("CODE_VERSION")
    if explicit:
        return explicit
    try:
        out = subprocess.run(
            ["git", "-C", str(BASE_DIR), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


CODE_VERSION = _code_version()

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "common.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"api_anon": "120/min", "api_user": "600/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "musicsite API",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- production hardening (active when DEBUG is off) ------------------------------------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy and Permissions-Policy: musicsite/security.py. Paths whose pages
# need an inline script (Swagger UI) get the same policy with 'unsafe-inline' scripts.
CSP_RELAXED_PATHS = ("/api/docs/",)

# --- operations --------------------------------------------------------------------------------
# GET /health/ waits at most this long (seconds) for the broker and for a worker to answer.
HEALTH_TIMEOUT_S = float(os.environ.get("HEALTH_TIMEOUT_S", "1.0"))
# A generation or import job marked running that no live worker is executing (a worker was
# killed) fails with a clear reason once it is this old (seconds); see jobs_recover.
JOB_LOST_AFTER_S = env_int("JOB_LOST_AFTER_S", 30)

# LOG_FORMAT=json: one JSON object per line, with the Celery task, its id and the run or job
# it works on (musicsite/logs.py); `plain` (default) is for reading in a terminal.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise RuntimeError("LOG_FORMAT must be plain or json")
# Celery keeps Django's logging configuration (and so the JSON format) in the worker.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "musicsite.logs.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "musicsite.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
