"""Mastery: skills and their prerequisites, graded attempts as evidence, P(mastered) per
student and skill (online BKT in any process; the deep model only on workers)."""
