from django.urls import path

from recommendations import views

urlpatterns = [
    path("courses/<int:pk>/behaviour/", views.CourseBehaviour.as_view(), name="course-behaviour"),
    path("courses/<int:pk>/students/<int:student_id>/risk/", views.StudentRisk.as_view(), name="student-risk"),
    path("risk-alerts/", views.RiskAlertList.as_view(), name="risk-alert-list"),
    path("risk-alerts/<int:pk>/acknowledge/", views.RiskAlertAcknowledge.as_view(), name="risk-alert-acknowledge"),
]
