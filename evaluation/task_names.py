"""The names evaluation's Celery tasks are registered under (evaluation/tasks.py).

Services and receivers queue tasks by name (`common.tasks.send_on_commit`) and never import
the tasks module, which imports the services.
"""

PIECE_EVALUATE_TASK = "evaluation.tasks.piece_evaluate_task"
JOB_EVALUATE_TASK = "evaluation.tasks.job_evaluate_task"
SURVEY_BUILD_TASK = "evaluation.tasks.survey_build_clips_task"
EVALUATIONS_RECOVER_TASK = "evaluation.tasks.evaluations_recover_task"
RUN_REPORT_TASK = "evaluation.tasks.run_report_task"
CORPUS_CALIBRATE_TASK = "evaluation.tasks.corpus_calibrate_task"
