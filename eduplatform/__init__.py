"""eduplatform: Django apps for AI-assisted grading, learner modelling and learning paths.

Importing this package creates nothing: no Celery app, no models, no signal hooks, so
a host LMS can install the apps next to its own. The standalone project's Celery app
lives in ``eduplatform.celery`` and is loaded by the standalone settings only.

Layers, lowest first (import-linter contracts in ``.importlinter`` enforce them):
``multimodal`` -> ``eduplatform.core`` -> ``grading`` -> ``recommendations`` ->
``eduplatform.{rest, lti, workspace}`` -> project config (settings, urls, celery, demo).
"""
