"""Learning paths: the next-best resources for one student in one course, each step with
the reason it was chosen, recomputed when mastery, resources or pins change."""
