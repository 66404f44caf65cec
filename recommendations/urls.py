from django.urls import path

from recommendations import views

urlpatterns = [
    path("courses/<int:pk>/behaviour/", views.CourseBehaviour.as_view(), name="course-behaviour"),
    path("courses/<int:pk>/students/<int:student_id>/risk/", views.StudentRisk.as_view(), name="student-risk"),
    path("risk-alerts/", views.RiskAlertList.as_view(), name="risk-alert-list"),
    path("risk-alerts/<int:pk>/acknowledge/", views.RiskAlertAcknowledge.as_view(), name="risk-alert-acknowledge"),
    # learner model and learning paths
    path("me/mastery/", views.MyMastery.as_view(), name="my-mastery"),
    path("me/learning-path/", views.MyLearningPath.as_view(), name="my-learning-path"),
    path("learning-path-steps/<int:pk>/", views.LearningPathStepMark.as_view(), name="learning-path-step"),
    path("courses/<int:pk>/mastery/", views.CourseMastery.as_view(), name="course-mastery"),
    path("courses/<int:pk>/resource-pins/", views.CourseResourcePins.as_view(), name="course-resource-pins"),
]
