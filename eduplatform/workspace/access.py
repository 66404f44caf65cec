"""Who may open a workspace page: derived from the course's current enrolments, nothing else.

* staff pages: instructors and TAs of the course (current enrolment) - no superuser
  flag, no hand-set model permissions; a student of the course gets 403, anybody
  else 404 (so ids of other courses do not leak);
* student pages: the student's own work only (404 for anybody else's).

The rules themselves live in the core app (``eduplatform.core.api``); this module only
turns them into HTTP answers.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.views.decorators.clickjacking import xframe_options_exempt

from eduplatform.core.api import Course, NotFound, course_get, is_course_student


def staff_course(request, course_id: int) -> Course:
    """The course if the user teaches it now; 403 for its students, 404 for everybody else."""
    try:
        return course_get(user=request.user, course_id=course_id, staff=True)
    except NotFound:
        if is_course_student(request.user, course_id):
            raise PermissionDenied("This page is for the course's teachers.") from None
        raise Http404("Course not found.") from None


def not_found_as_404(view):
    """Every workspace view: login required; domain NotFound (raised by selectors) becomes Django's 404 page;
    frameable by the registered LTI platforms (an LTI launch opens the workspace inside the LMS iframe; the
    Content-Security-Policy's frame-ancestors lists those platforms and nobody else)."""

    @xframe_options_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(str(exc)) from None

    return login_required(wrapper)
