"""The plugin's REST API, versioned under v1/. Include it under any prefix."""

from django.urls import include, path

from eduplatform.rest import views

v1 = [
    path("auth/token/", views.AuthToken.as_view(), name="api-token"),
    path("courses/", views.CourseList.as_view(), name="course-list"),
    path("courses/<int:pk>/", views.CourseDetail.as_view(), name="course-detail"),
    path("assignments/", views.AssignmentList.as_view(), name="assignment-list"),
    path("assignments/<int:pk>/", views.AssignmentDetail.as_view(), name="assignment-detail"),
    path("submissions/", views.SubmissionListCreate.as_view(), name="submission-list"),
    path("submissions/<int:pk>/", views.SubmissionDetail.as_view(), name="submission-detail"),
    path("submissions/<int:pk>/files/<int:file_id>/", views.SubmissionFileDownload.as_view(), name="submission-file"),
    path("events/", views.EventListCreate.as_view(), name="event-list"),
    path("", include("grading.urls")),
    path("", include("recommendations.urls")),
]

urlpatterns = [path("v1/", include((v1, "eduplatform"), namespace="v1"))]
