"""Learner model: skills, mastery, behaviour/risk estimates, resources, learning paths."""
