"""The names generator's Celery tasks are registered under (generator/tasks.py).

Services queue tasks by name (`common.tasks.send_on_commit`) and never import the tasks
module, which imports the services. The same names appear in CELERY_TASK_ROUTES and the beat
schedule (musicsite/settings.py) and in the log context (musicsite/logs.py).
"""

RUN_TASK = "generator.tasks.training_run_task"
GENERATION_TASK = "generator.tasks.generation_job_task"
RENDER_TASK = "generator.tasks.piece_render_task"
TUNE_RENDER_TASK = "generator.tasks.tune_render_task"
CORPUS_RENDER_TASK = "generator.tasks.corpus_tunes_render_task"
IMPORT_TASK = "generator.tasks.corpus_import_task"
RUNS_RECOVER_TASK = "generator.tasks.training_runs_recover_task"
JOBS_RECOVER_TASK = "generator.tasks.jobs_recover_task"
FILE_CACHE_PRUNE_TASK = "generator.tasks.file_cache_prune_task"
REQUESTERS_PRUNE_TASK = "generator.tasks.generation_requesters_prune_task"
