"""Bounds for user-supplied JSON values, checked before they reach the database or a model.

PostgreSQL cannot store NUL characters or lone UTF-16 surrogates (a 500 at insert time,
after part of a batch may have been written), deep nesting overflows Python's stack in
``json`` (another 500), and ``float('inf')`` is not JSON at all. One walker says what is
wrong, so the JSON parser and the services give the same answer.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_JSON_DEPTH = 32


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored as text, or None."""
    if "\x00" in value:
        return "text contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "text contains a lone surrogate (invalid Unicode)"
    return None


def json_value_problem(value: Any, *, max_depth: int = MAX_JSON_DEPTH, path: str = "") -> str | None:
    """The first reason ``value`` is not a storable JSON value (depth, NUL, surrogates,
    non-finite numbers, non-string keys), naming where; None when it is fine. Iterative,
    so a 20,000-deep value costs no recursion."""
    stack: list[tuple[Any, int, str]] = [(value, 1, path)]
    while stack:
        item, depth, where = stack.pop()
        if depth > max_depth:
            return f"{where or 'value'} is nested deeper than {max_depth} levels"
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return f"{where or 'value'}: {problem}"
        elif isinstance(item, bool) or item is None or isinstance(item, int):
            continue
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{where or 'value'}: number is not finite"
        elif isinstance(item, dict):
            for k, v in item.items():
                if not isinstance(k, str):
                    return f"{where or 'value'}: object keys must be strings"
                problem = text_problem(k)
                if problem:
                    return f"{where or 'value'}: key {problem}"
                stack.append((v, depth + 1, f"{where}.{k[:40]}" if where else k[:40]))
        elif isinstance(item, (list, tuple)):
            for i, v in enumerate(item):
                stack.append((v, depth + 1, f"{where}[{i}]"))
        else:
            return f"{where or 'value'}: {type(item).__name__} is not a JSON type"
    return None


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON (what the database stores, near enough)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))
