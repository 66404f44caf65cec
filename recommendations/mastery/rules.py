"""Rules of the learner model on plain data (no ORM): the skill graph and how model
outputs become P(mastered)."""

from __future__ import annotations

from collections.abc import Iterable

from multimodal.knowledge_tracing import BKTParams

__all__ = ["MasteryState", "find_cycle", "mastery_from_p_correct", "mastery_state"]


def find_cycle(edges: Iterable[tuple[int, int]]) -> list[int] | None:
    """A cycle in the graph skill -> prerequisite as a list of nodes (first == last), or None."""
    graph: dict[int, list[int]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    state: dict[int, int] = {}  # 1 = on the stack, 2 = done
    for root in sorted(graph):
        if state.get(root):
            continue
        stack = [(root, iter(sorted(graph[root])))]
        path = [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            nxt = next(children, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(sorted(graph[nxt]))))
                path.append(nxt)
    return None


def mastery_from_p_correct(p_correct: float, params: BKTParams) -> float:
    """P(mastered) from a model's P(correct) on a next attempt at the skill, through the
    skill's guess/slip: P(correct) = p(1 - slip) + (1 - p) guess, solved for p, clipped."""
    g, s = params.guess, params.slip
    return min(1.0, max(0.0, (float(p_correct) - g) / max(1e-6, 1.0 - s - g)))


class MasteryState:
    """How a student stands on a skill, as students and teachers read it."""

    UNKNOWN = "unknown"  # no evidence yet: we do not show a number
    LEARNING = "learning"
    MASTERED = "mastered"
    CHOICES = (UNKNOWN, LEARNING, MASTERED)


def mastery_state(p_mastery: float | None, evidence_count: int, threshold: float) -> str:
    """``unknown`` without evidence (whatever the prior says), else mastered at or above
    the threshold, else learning."""
    if p_mastery is None or evidence_count <= 0:
        return MasteryState.UNKNOWN
    return MasteryState.MASTERED if p_mastery >= threshold else MasteryState.LEARNING
