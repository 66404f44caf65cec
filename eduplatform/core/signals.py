"""How the core app tells the apps above it that something happened (it never imports them).

It is sent after the transaction commits, with ids only.
"""

from django.dispatch import Signal

#: A submission was stored with status pending (kwargs: submission_ids). Grading wakes a worker.
submissions_pending = Signal()
