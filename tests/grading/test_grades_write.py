"""The batched write: same outcomes as writing one result at a time, in one transaction."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from eduplatform.core.models import Submission
from grading import services
from grading.models import Grade, GradingPolicy
from grading.pipeline import EngineResult
from tests.factories import AssignmentFactory, StudentFactory

S = Submission.Status


def _result(sub, score=4.0, confidence=0.95, version="v1", flags=()):
    return EngineResult(sub.pk, version, "learned", score, confidence, flags=list(flags), feedback="ok")


@pytest.fixture
def claimed(db):
    assignment = AssignmentFactory()

    def make(n: int):
        subs = [Submission.objects.create(assignment=assignment, student=StudentFactory(), text="x") for _ in range(n)]
        token, ids = services.submissions_claim(limit=n)
        assert sorted(ids) == sorted(s.pk for s in subs)
        return assignment, token, subs

    return make


def test_batch_write_matches_single_writes(claimed):
    assignment, token, subs = claimed(4)
    GradingPolicy.objects.create(assignment=assignment, release=GradingPolicy.Release.AUTO, auto_release_confidence=0.9)
    results = [
        _result(subs[0]),  # confident: released by the policy
        _result(subs[1], confidence=0.3),  # unsure: review
        _result(subs[2], flags=["low_ocr_confidence"]),  # flagged: review
        _result(subs[3], score=None, confidence=0.0, flags=["no_speech"]),  # not scored: review
    ]
    assert services.grades_write(token=token, results=results) == 4
    grades = {g.submission_id: g for g in Grade.objects.filter(is_current=True)}
    states = {s.pk: s.status for s in Submission.objects.all()}
    assert grades[subs[0].pk].released_at is not None and states[subs[0].pk] == S.GRADED
    for sub, reason in [(subs[1], "confidence"), (subs[2], "flagged: low_ocr_confidence"), (subs[3], "not scored")]:
        assert states[sub.pk] == S.NEEDS_REVIEW and reason in grades[sub.pk].review_reason
        assert grades[sub.pk].released_at is None
    assert not Submission.objects.exclude(claim_token="").exists()


def test_batch_write_skips_rows_whose_claim_was_lost_and_keeps_human_decisions(claimed):
    _, token, subs = claimed(3)
    services.grades_write(token=token, results=[_result(s) for s in subs])
    reviewed = Grade.objects.get(submission=subs[0])
    reviewed.review_state, reviewed.final_score = Grade.Review.ADJUSTED, 3
    reviewed.save()
    # regrade by a new model version: rows go back to pending and are claimed again
    Submission.objects.filter(pk__in=[s.pk for s in subs]).update(status=S.PENDING)
    token2, _ = services.submissions_claim(limit=3)
    Submission.objects.filter(pk=subs[2].pk).update(claim_token="someone-else")  # lost to another worker
    assert services.grades_write(token=token2, results=[_result(s, score=2.0, version="v2") for s in subs]) == 2
    now = Grade.objects.get(submission=subs[0], is_current=True)
    assert now.model_version == "v2" and now.review_state == Grade.Review.ADJUSTED and float(now.final_score) == 3
    assert Grade.objects.get(submission=subs[2], is_current=True).model_version == "v1"
    assert Grade.objects.filter(submission=subs[1], is_current=True).get().model_version == "v2"


def test_batch_write_uses_a_fixed_number_of_queries(claimed):
    _, token, subs = claimed(20)
    with CaptureQueriesContext(connection) as queries:
        services.grades_write(token=token, results=[_result(s, confidence=0.3) for s in subs])
    assert len(queries) < 15  # not ~6 per row
