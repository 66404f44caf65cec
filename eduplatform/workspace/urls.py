"""Workspace pages. The standalone project mounts them under ``workspace/``; a host, under any prefix."""

from django.urls import path

from eduplatform.workspace.views import analytics, staff, student

app_name = "eduplatform_workspace"

urlpatterns = [
    path("", staff.home, name="home"),
    path("courses/<int:course_id>/", staff.course, name="course"),
    path("courses/<int:course_id>/gradebook/", staff.gradebook, name="gradebook"),
    path("courses/<int:course_id>/assignments/new/", staff.assignment_edit, name="assignment-new"),
    path("courses/<int:course_id>/behaviour/", analytics.behaviour, name="behaviour"),
    path("courses/<int:course_id>/alerts/", analytics.alerts, name="alerts"),
    path("courses/<int:course_id>/alerts/<int:alert_id>/seen/", analytics.alert_acknowledge, name="alert-ack"),
    path("courses/<int:course_id>/mastery/", analytics.mastery, name="mastery"),
    path("assignments/<int:assignment_id>/", staff.queue, name="queue"),
    path("assignments/<int:assignment_id>/edit/", staff.assignment_edit, name="assignment-edit"),
    path("assignments/<int:assignment_id>/release/", staff.release_assignment, name="release"),
    path("assignments/<int:assignment_id>/regrade/", staff.regrade_assignment, name="regrade"),
    path("assignments/<int:assignment_id>/groups/", staff.answer_groups, name="groups"),
    path("groups/<int:group_id>/", staff.group_action, name="group-action"),
    path("grades/<int:grade_id>/", staff.review, name="review"),
    path("files/<int:file_id>/", staff.file, name="file"),
    # students
    path("me/", student.home, name="student-home"),
    path("me/submissions/<int:submission_id>/", student.submission, name="student-submission"),
    path("me/courses/<int:course_id>/", student.course, name="student-course"),
    path("me/courses/<int:course_id>/steps/<int:step_id>/", student.step_mark, name="student-step"),
]
