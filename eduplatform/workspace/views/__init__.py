"""Views of the workspace: ``staff`` (instructors and TAs) and ``student`` (a student's own work)."""
