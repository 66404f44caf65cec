from django.urls import path

from grading import views

urlpatterns = [
    path("review-queue/", views.ReviewQueue.as_view(), name="review-queue"),
    path("grades/<int:pk>/review/", views.GradeReview.as_view(), name="grade-review"),
    path("grades/<int:pk>/release/", views.GradeRelease.as_view(), name="grade-release"),
    path("grades/<int:pk>/withdraw/", views.GradeWithdraw.as_view(), name="grade-withdraw"),
    path("grades/<int:pk>/recheck/", views.GradeRecheck.as_view(), name="grade-recheck"),
    path("assignments/<int:pk>/release/", views.AssignmentRelease.as_view(), name="assignment-release"),
    path("assignments/<int:pk>/regrade/", views.AssignmentRegrade.as_view(), name="assignment-regrade"),
    path("assignments/<int:pk>/answer-groups/", views.AnswerGroupList.as_view(), name="answer-group-list"),
    path("answer-groups/<int:pk>/grade/", views.AnswerGroupGrade.as_view(), name="answer-group-grade"),
]
