"""The signals generator sends, so that other apps can react to its work without generator
importing them.

evaluation depends on generator (it evaluates generator's pieces), never the reverse. When a
generation job has stored its pieces, generator sends `generation_job_succeeded` once the
transaction commits; evaluation's AppConfig.ready connects a receiver that queues the job's
evaluation (evaluation/receivers.py). A new consumer connects its own receiver the same way.
"""

from django.dispatch import Signal

# Sent with sender=GenerationJob and job=<the GenerationJob>, after the transaction that
# stored its pieces commits (so receivers, and the tasks they queue, see the pieces).
generation_job_succeeded = Signal()

# Sent with sender=TrainingRun and run=<the TrainingRun>, after the transaction that marked
# the run finished (succeeded or cancelled) commits: evaluation measures its report then.
training_run_finished = Signal()
