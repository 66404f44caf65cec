from django.urls import path

from grading import views

urlpatterns = [
    path("review-queue/", views.ReviewQueue.as_view(), name="review-queue"),
    path("grades/<int:pk>/review/", views.GradeReview.as_view(), name="grade-review"),
    path("assignments/<int:pk>/regrade/", views.AssignmentRegrade.as_view(), name="assignment-regrade"),
    path("assignments/<int:pk>/answer-groups/", views.AnswerGroupList.as_view(), name="answer-group-list"),
    path("answer-groups/<int:pk>/grade/", views.AnswerGroupGrade.as_view(), name="answer-group-grade"),
]
