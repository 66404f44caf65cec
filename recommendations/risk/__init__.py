"""Behaviour and risk: features from learning events, engagement, patterns, at-risk
estimates (the estimator is ``multimodal.risk``) and alerts for instructors."""
