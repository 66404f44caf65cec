"""LTI 1.3 Advantage tool: launches, Deep Linking, grade passback (AGS) and roster sync (NRPS).

Built on django-lti (``lti_tool``), which stores platform registrations, deployments,
contexts and keys. This app maps those onto eduplatform's users, courses,
enrolments and assignments. Other apps import only ``eduplatform.lti.api``.
"""
