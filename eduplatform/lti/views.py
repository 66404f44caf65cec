"""LTI 1.3 endpoints: OIDC login, launch, deep-link response, JWKS, tool configuration, submit.

Pages shown inside the LMS are frame-exempt. Their forms carry a signed token
(user + launch), not only a session cookie, because browsers often withhold cookies
from a tool framed by another site.
"""

from __future__ import annotations

import logging

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model, login
from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from lti_tool.constants import SESSION_KEY
from lti_tool.models import LtiRegistration
from lti_tool.utils import DjangoToolConfig
from lti_tool.views import OIDCLoginInitView
from pylti1p3.exception import OIDCException

from eduplatform.core import api as core_services
from eduplatform.core.api import ApplicationError, Assignment, Course, Enrollment, Student, Submission
from eduplatform.lti import services, tool
from eduplatform.lti.conf import settings
from grading.api import grade_view_for

log = logging.getLogger(__name__)
# One salt per purpose: a token signed for the deep-link picker is refused by the submit
# form and the other way round, and neither is valid for any other signed value of the site.
FORM_SALT = "eduplatform.lti.form"
SUBMIT_FORM = "submit"
DEEP_LINK_FORM = "deep-link"


def _error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return render(
        request, "eduplatform_lti/error.html", {"message": exc.message, "code": exc.code}, status=exc.status_code
    )


def _absolute(request: HttpRequest, name: str, **kwargs) -> str:
    return request.build_absolute_uri(reverse(f"eduplatform_lti:{name}", kwargs=kwargs or None))


def _salt(purpose: str) -> str:
    return f"{FORM_SALT}.{purpose}"


def _form_token(*, purpose: str, user_id: int, launch_id: str, **extra) -> str:
    return signing.dumps({"u": user_id, "l": launch_id, **extra}, salt=_salt(purpose))


def _form_token_read(request: HttpRequest, *, purpose: str) -> dict:
    try:
        data = signing.loads(request.POST.get("token", ""), salt=_salt(purpose), max_age=settings.FORM_MAX_AGE_SECONDS)
    except signing.SignatureExpired as exc:
        raise ApplicationError(
            "This page has expired; open the tool again from the LMS.", code="lti_form_expired", status_code=400
        ) from exc
    except signing.BadSignature as exc:
        raise ApplicationError(
            "This form was not issued by the tool.", code="lti_form_invalid", status_code=403
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("l"), str):
        raise ApplicationError("This form was not issued by the tool.", code="lti_form_invalid", status_code=403)
    return data


@method_decorator((csrf_exempt, xframe_options_exempt), name="dispatch")
class LoginView(OIDCLoginInitView):
    """OIDC third-party login initiation (step 1 of a launch), with clear errors.

    The redirect_uri sent to the platform is always our launch URL, whatever
    target_link_uri says: platforms accept only registered redirect URIs.
    """

    def get_oidc_response(self, request, registration_uuid, params):
        if not params.get("iss") or not params.get("login_hint"):
            return _error(
                request,
                ApplicationError(
                    "LTI login needs the platform's 'iss' and 'login_hint' parameters; start from the LMS.",
                    code="lti_login_invalid",
                ),
            )
        tool.key_ensure_active()
        oidc_login = tool.ToolOIDCLogin(
            request, DjangoToolConfig(registration_uuid), launch_data_storage=tool.launch_data_storage()
        )
        try:
            return oidc_login.enable_check_cookies(self.main_msg, self.click_msg, self.loading_msg).redirect(
                _absolute(request, "launch")
            )
        except OIDCException as exc:
            log.warning("LTI login refused: %s (iss=%s client_id=%s)", exc, params.get("iss"), params.get("client_id"))
            return _error(
                request,
                ApplicationError(
                    f"LTI login refused: {exc}. No active registration matches issuer {params.get('iss')!r} and "
                    f"client_id {params.get('client_id')!r}.",
                    code="lti_unknown_registration",
                    status_code=403,
                ),
            )


@method_decorator((csrf_exempt, xframe_options_exempt), name="dispatch")
class LaunchView(View):
    """Receives the platform's signed id_token: resource-link and deep-linking launches."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            return self._launch(request)
        except ApplicationError as exc:
            return _error(request, exc)

    def _launch(self, request: HttpRequest) -> HttpResponse:
        request.session.flush()  # a launch starts a fresh session: no earlier user carries over
        lti_launch = tool.launch_validate(request)
        deployment = lti_launch.deployment
        if not deployment.is_active:
            raise tool.LaunchRejected(
                f"LTI launch rejected: deployment {deployment.deployment_id!r} of registration "
                f"{deployment.registration.name!r} is unknown or not active. An administrator activates it "
                f"under LTI registrations in the admin.",
                code="lti_inactive_deployment",
            )
        if not (lti_launch.is_resource_launch or lti_launch.is_deep_link_launch):
            raise tool.LaunchRejected(
                "This kind of LTI message is not supported by the tool.",
                code="lti_unsupported_message",
                status_code=400,
            )
        with transaction.atomic():
            provisioned = services.launch_provision(lti_launch=lti_launch)
        if provisioned.role is None:
            raise tool.LaunchRejected(
                "Your role in this LMS course gives no access to the tool "
                "(Instructor, Teaching assistant or Learner needed).",
                code="lti_no_role",
            )
        user = provisioned.user
        login(request, user, backend=django_settings.AUTHENTICATION_BACKENDS[0])
        request.session[SESSION_KEY] = lti_launch.get_launch_id()
        if lti_launch.is_deep_link_launch:
            return self._deep_link_picker(request, lti_launch, provisioned)
        return self._resource(request, lti_launch, provisioned)

    def _deep_link_picker(self, request, lti_launch, provisioned) -> HttpResponse:
        if provisioned.role == Enrollment.Role.STUDENT:
            raise tool.LaunchRejected(
                "Only instructors and teaching assistants can add assignments.", code="lti_not_staff"
            )
        token = _form_token(
            purpose=DEEP_LINK_FORM,
            user_id=provisioned.user.pk,
            launch_id=lti_launch.get_launch_id(),
            c=provisioned.course.pk,
        )
        return render(
            request,
            "eduplatform_lti/deep_link.html",
            {
                "course": provisioned.course,
                "assignments": provisioned.course.assignments.order_by("due_at", "id"),
                "token": token,
                "action": reverse("eduplatform_lti:deep-link"),
                "settings": lti_launch.get_claim("https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings")
                or {},
            },
        )

    def _resource(self, request, lti_launch, provisioned) -> HttpResponse:
        with transaction.atomic():
            assignment = services.assignment_for_launch(lti_launch=lti_launch, course=provisioned.course)
            if assignment is not None:
                services.line_item_from_launch(
                    lti_launch=lti_launch, assignment=assignment, context=provisioned.context
                )
        if assignment is None:
            raise tool.LaunchRejected(
                "This LMS link is not attached to an eduplatform assignment. Instructors: add the assignment "
                "with the LMS's 'select content' / Deep Linking option.",
                code="lti_no_assignment",
                status_code=404,
            )
        return _assignment_page(
            request,
            assignment=assignment,
            user=provisioned.user,
            role=provisioned.role,
            launch_id=lti_launch.get_launch_id(),
        )


def _assignment_page(
    request, *, assignment: Assignment, user, role: str, launch_id: str, message: str = "", status: int = 200
) -> HttpResponse:

    if role != Enrollment.Role.STUDENT:
        # Instructors and TAs work in the workspace: its review queue for this assignment, in the same
        # (LMS iframe) session. A host without the workspace mounted keeps the summary page below.
        try:
            return redirect(reverse("eduplatform_workspace:queue", kwargs={"assignment_id": assignment.pk}))
        except NoReverseMatch:
            pass
    student = Student.objects.filter(user=user).first() if role == Enrollment.Role.STUDENT else None
    attempts = []
    if student is not None:
        for sub in Submission.objects.filter(assignment=assignment, student=student).order_by("attempt"):
            attempts.append({"submission": sub, "grade": grade_view_for(submission=sub, user=user)})
    context = {
        "assignment": assignment,
        "role": role,
        "attempts": attempts,
        "message": message,
        "message_is_error": status >= 400,
        "is_student": student is not None,
        "attempts_left": max(0, assignment.max_attempts - len(attempts)) if student else 0,
        "token": _form_token(purpose=SUBMIT_FORM, user_id=user.pk, launch_id=launch_id, a=assignment.pk),
        "submit_url": reverse("eduplatform_lti:submit"),
        "submission_count": assignment.submissions.count() if student is None else None,
        # LMS users have no Django staff flag: the admin link only for those who can use it
        "admin_url": _admin_url() if student is None and user.is_staff else "",
        "my_work_url": _workspace_url("eduplatform_workspace:student-course", course_id=assignment.course_id)
        if student is not None
        else "",
    }
    return render(request, "eduplatform_lti/assignment.html", context, status=status)


def _workspace_url(name: str, **kwargs) -> str:
    """A workspace page (same session), or "" on a host that does not mount the workspace."""
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return ""


def _admin_url() -> str:
    try:
        return reverse("admin:index")
    except NoReverseMatch:  # a host without the Django admin mounted
        return ""


@method_decorator((csrf_exempt, xframe_options_exempt), name="dispatch")
class DeepLinkResponseView(View):
    """The instructor's choice from the picker, returned to the LMS as a signed Deep Linking response."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            data = _form_token_read(request, purpose=DEEP_LINK_FORM)
            lti_launch = tool.launch_restore(request, data["l"])
            if not lti_launch.is_deep_link_launch:
                raise ApplicationError("This session is not a Deep Linking request.", code="lti_not_deep_link")
            course_id = data.get("c")
            user = get_user_model().objects.filter(pk=data["u"]).first()
            if user is None or not isinstance(course_id, int) or not core_services.is_course_staff(user, course_id):
                raise ApplicationError(
                    "Only the course's instructors can add assignments.", code="lti_not_staff", status_code=403
                )
            ids = [int(i) for i in request.POST.getlist("assignment") if i.isascii() and i.isdigit() and len(i) < 18]
            assignments = list(Assignment.objects.filter(course_id=course_id, pk__in=ids).order_by("id"))
            title = request.POST.get("new_title", "").strip()
            instructions = request.POST.get("new_instructions", "").strip()
            if core_services.text_problem(title + instructions) or len(instructions) > 20_000:
                raise ApplicationError(
                    "The title or instructions contain characters that cannot be stored, or are too long.",
                    code="lti_invalid_text",
                )
            if title:
                assignments.append(
                    core_services.assignment_create(
                        course=Course.objects.get(pk=course_id),
                        title=title[:255],
                        instructions=instructions,
                    )
                )
            if not assignments:
                raise ApplicationError(
                    "Choose at least one assignment, or give a title for a new one.", code="lti_nothing_chosen"
                )
            html = services.deep_link_response_html(
                lti_launch=lti_launch, assignments=assignments, launch_url=_absolute(request, "launch")
            )
        except ApplicationError as exc:
            return _error(request, exc)
        return HttpResponse(html)


@method_decorator((csrf_exempt, xframe_options_exempt), name="dispatch")
class SubmitView(View):
    """A student's answer from the assignment page inside the LMS (text and files)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            data = _form_token_read(request, purpose=SUBMIT_FORM)
            user = get_user_model().objects.filter(pk=data["u"]).first()
            assignment = Assignment.objects.select_related("course").filter(pk=data.get("a")).first()
            student = Student.objects.filter(user=user).first() if user else None
            if assignment is None or student is None:
                raise ApplicationError(
                    "Only students can submit to an assignment opened from the LMS.",
                    code="not_a_student",
                    status_code=403,
                )
        except ApplicationError as exc:
            return _error(request, exc)
        page = {"assignment": assignment, "user": user, "role": Enrollment.Role.STUDENT, "launch_id": data["l"]}
        try:
            core_services.submission_create(
                assignment=assignment,
                student=student,
                text=request.POST.get("text", ""),
                files=request.FILES.getlist("files"),
            )
        except ApplicationError as exc:
            return _assignment_page(request, **page, message=exc.message, status=exc.status_code)
        return _assignment_page(
            request, **page, message="Your answer was received; it will be graded shortly.", status=201
        )


def jwks(request: HttpRequest) -> JsonResponse:
    """The tool's public keys (JWKS) that platforms use to check our signatures."""
    response = JsonResponse(tool.jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


def tool_configuration(request: HttpRequest, registration_uuid) -> JsonResponse:
    """The URLs and keys to enter in the LMS for one registration (public: nothing here is secret)."""
    registration = LtiRegistration.objects.filter(uuid=registration_uuid).first()
    if registration is None:
        return JsonResponse({"detail": "Unknown registration.", "code": "not_found"}, status=404)
    launch = _absolute(request, "launch")
    return JsonResponse(
        {
            "title": settings.TOOL_TITLE,
            "oidc_initiation_url": _absolute(request, "login-registration", registration_uuid=registration.uuid),
            "target_link_uri": launch,
            "redirect_uris": [launch],
            "deep_linking_url": launch,
            "jwks_url": _absolute(request, "jwks"),
            "public_jwk": tool.jwks()["keys"][0],
            "client_id": registration.client_id,
            "issuer": registration.issuer,
            "messages": ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"],
            "scopes": [
                services.AGS_LINEITEM,
                services.AGS_LINEITEM_READ,
                services.AGS_SCORE,
                "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
                "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
            ],
            "custom_parameters": {},
        }
    )
