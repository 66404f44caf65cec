from django.urls import path

from grading import views

urlpatterns = [
    path("review-queue/", views.ReviewQueue.as_view(), name="review-queue"),
    path("grades/<int:pk>/review/", views.GradeReview.as_view(), name="grade-review"),
    path("assignments/<int:pk>/regrade/", views.AssignmentRegrade.as_view(), name="assignment-regrade"),
]
