"""Maths answers: safe parsing, equivalence with the expected value, handwritten final answers.

Why our own parser: a student's answer ("3/4", "0.75", "x = 3", "\\frac{6}{8}") must be
compared with the teacher's expected value by *value*, not by spelling, and the text
comes from a student or an OCR model, so it is never handed to ``eval`` (sympy's
``parse_expr`` evaluates Python code). A small recursive-descent parser builds sympy
objects directly from a whitelist of tokens (numbers, one-letter variables, ``pi``,
``sqrt``, + - * / ^, parentheses, implicit multiplication) with bounds on length,
nesting, digits and exponents, so no input can make it run long or allocate much.

Equivalence: numbers are compared exactly (``3/4 == 0.75 == 6/8``); expressions with
variables by evaluating the difference at fixed random points (probabilistic identity
testing; bounded time, unlike ``simplify``). ``x = 3`` as an answer means 3.

Handwritten answers are read by ``multimodal.image.MathsReader`` (the pmsh-ocr model);
this module stays free of model packages so the web process can validate an expected
answer with it. A read that does not parse, or that the reader is unsure of, is not
judged (the answer goes to review).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Any

MAX_CHARS = 200  # longer "answers" are not short answers: not parsed
MAX_TOKENS = 120
MAX_DEPTH = 24  # nested parentheses / powers
MAX_DIGITS = 30  # digits in one number literal
MAX_EXPONENT = 64  # |n| for numeric powers (9^9^9 is refused, not computed)
REL_TOL = 1e-9
N_POINTS = 6  # random points for identity testing of expressions with variables
#: below this recogniser confidence a handwritten read is not judged (CROHME 2014, the
#: 102 images whose final answer is a number: at 0.8, 81 judged, 67 right; at 0.9, 60 / 51)
MIN_READ_CONFIDENCE = 0.8


class ParseError(ValueError):
    """The text is not a short maths answer this parser accepts."""


# -- LaTeX -> plain ------------------------------------------------------------------

_LATEX_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\S")
_LATEX_DROP = {"\\left", "\\right", "\\,", "\\!", "\\;", "\\:", "\\ ", "\\limits", "\\displaystyle", "$"}
_LATEX_MAP = {
    "\\times": "*",
    "\\cdot": "*",
    "\\ast": "*",
    "\\div": "/",
    "\\pi": "pi",
    "\\le": "<=",
    "\\leq": "<=",
    "\\ge": ">=",
    "\\geq": ">=",
    "\\neq": "!=",
    "\\ne": "!=",
    "\\lt": "<",
    "\\gt": ">",
    "\\{": "(",
    "\\}": ")",
    "\\%": "%",
}


def latex_tokens(latex: str) -> list[str]:
    """LaTeX split into commands and single characters, spacing commands and
    ``\\left``/``\\right`` dropped: the unit of the expression recognition rate."""
    return [t for t in _LATEX_TOKEN.findall(latex or "") if t not in _LATEX_DROP]


def latex_to_plain(latex: str) -> str:
    """``\\frac{3}{4}`` -> ``((3)/(4))``, ``x^{2}`` -> ``x^(2)``, ``\\sqrt{2}`` -> ``sqrt(2)``.

    Only the commands a short answer uses are translated; anything else stays as a
    backslash word, which the parser then refuses.
    """
    tokens = latex_tokens(latex)
    out: list[str] = []
    i = 0

    def group(j: int) -> tuple[str, int]:
        """The braced group (or single token) starting at ``j`` as plain text, and the next index."""
        if j >= len(tokens):
            raise ParseError("\\frac or \\sqrt without an argument")
        if tokens[j] != "{":
            return _LATEX_MAP.get(tokens[j], tokens[j]), j + 1
        depth, k = 0, j
        while k < len(tokens):
            depth += tokens[k] == "{"
            depth -= tokens[k] == "}"
            if depth == 0:
                return latex_to_plain("".join(_join(tokens[j + 1 : k]))), k + 1
            k += 1
        raise ParseError("unbalanced braces")

    while i < len(tokens):
        t = tokens[i]
        if t in ("\\frac", "\\dfrac", "\\tfrac"):
            num, i = group(i + 1)
            den, i = group(i)
            out.append(f"(({num})/({den}))")
        elif t == "\\sqrt":
            arg, i = group(i + 1)
            out.append(f"sqrt({arg})")
        elif t == "{":
            out.append("(")
            i += 1
        elif t == "}":
            out.append(")")
            i += 1
        else:
            out.append(_LATEX_MAP.get(t, t))
            i += 1
    return "".join(out)


def _join(tokens: list[str]) -> list[str]:
    # keep commands separated from following letters (\\pi x) when re-joined
    return [t + " " if t.startswith("\\") and t[1:].isalpha() else t for t in tokens]


def looks_like_latex(text: str) -> bool:
    return "\\" in text or "{" in text


# -- the parser ------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|(sqrt|pi)|([A-Za-z])|(<=|>=|!=|[-+*/^()=<>%,]))")
_UNICODE = {
    "\u00d7": "*",
    "\u00b7": "*",
    "\u22c5": "*",
    "\u00f7": "/",
    "\u2212": "-",
    "\u2013": "-",
    "\u03c0": "pi",
    "\u221a": "sqrt",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2260": "!=",
    ":": "/",
}


@dataclass(frozen=True)
class Parsed:
    """A parsed answer: the sympy value, and the relation when the text was one."""

    expr: Any  # sympy.Expr
    relation: str = ""  # "", "=", "<", ... (then ``expr`` is lhs - rhs for "=")
    lhs: Any = None
    rhs: Any = None


def _tokens(text: str) -> list[tuple[str, str]]:
    for u, a in _UNICODE.items():
        text = text.replace(u, a)
    text = text.strip().rstrip(".")
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ParseError(f"unexpected character {text[pos]!r}")
        pos = m.end()
        number, word, letter, op = m.groups()
        if number is not None:
            if len(number.replace(".", "")) > MAX_DIGITS:
                raise ParseError("number too long")
            out.append(("num", number))
        elif word is not None:
            out.append((word, word))
        elif letter is not None:
            out.append(("var", letter))
        else:
            out.append(("op", op))
        if len(out) > MAX_TOKENS:
            raise ParseError("answer too long")
    return out


class _Parser:
    """expr := term (('+'|'-') term)* ; term := unary (('*'|'/'|implicit) unary)* ;
    unary := ('-'|'+') unary | power ; power := atom ('^' unary)? ; atom := number ['%'] |
    var | pi | sqrt '(' expr ')' | '(' expr ')'"""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        import sympy

        self.sp = sympy
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ParseError(f"expected {value or 'more'}")
        self.i += 1
        return tok

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("expression nested too deeply")

    def expr(self):
        self._enter()
        value = self.term()
        while (tok := self.peek()) is not None and tok[1] in ("+", "-"):
            self.take()
            rhs = self.term()
            value = value + rhs if tok[1] == "+" else value - rhs
        self.depth -= 1
        return value

    def term(self):
        value = self.unary()
        while (tok := self.peek()) is not None:
            if tok[1] in ("*", "/"):
                self.take()
                rhs = self.unary()
                if tok[1] == "/":
                    if rhs == 0:
                        raise ParseError("division by zero")
                    value = value / rhs
                else:
                    value = value * rhs
            elif tok[0] in ("num", "var", "pi", "sqrt") or tok[1] == "(":
                value = value * self.unary()  # implicit: 2x, 3(x+1), (a)(b)
            else:
                break
        return value

    def unary(self):
        tok = self.peek()
        if tok is not None and tok[1] in ("-", "+"):
            self.take()
            self._enter()
            value = self.unary()
            self.depth -= 1
            return -value if tok[1] == "-" else value
        return self.power()

    def power(self):
        base = self.atom()
        tok = self.peek()
        if tok is not None and tok[1] == "^":
            self.take()
            self._enter()
            exponent = self.unary()
            self.depth -= 1
            if exponent.is_number:
                if abs(float(exponent)) > MAX_EXPONENT:
                    raise ParseError("exponent too large")
                if base == 0 and exponent.is_negative:
                    raise ParseError("division by zero")
            elif base.is_number and abs(float(base)) > 1:
                raise ParseError("symbolic exponent")
            return self.sp.Pow(base, exponent)
        return base

    def atom(self):
        sp = self.sp
        kind, value = self.take()
        if kind == "num":
            number = sp.Rational(value) if "." in value else sp.Integer(value)
            nxt = self.peek()
            if nxt is not None and nxt[1] == "%":
                self.take()
                number = number / 100
            return number
        if kind == "var":
            return sp.Symbol(value)
        if kind == "pi":
            return sp.pi
        if kind == "sqrt":
            self.take("(")
            inner = self.expr()
            self.take(")")
            if inner.is_number and inner.is_negative:
                raise ParseError("square root of a negative number")
            return sp.sqrt(inner)
        if value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        raise ParseError(f"unexpected {value!r}")


_RELATIONS = ("<=", ">=", "!=", "=", "<", ">")
_KNOWN_WORDS = re.compile(r"sqrt|pi")
_WORDS = re.compile(r"[A-Za-z]{3,}")  # "hello" is a word, not h*e*l*l*o


def parse_answer(text: str) -> Parsed:
    """Parse a short maths answer (plain text or LaTeX) into sympy, safely (see module doc).

    ``"x = 3"``, ``"3"`` and ``"\\frac{6}{2}"`` all parse; a relation keeps both sides.
    Raises ``ParseError`` for anything else (words, long text, unsupported commands).
    """
    if not isinstance(text, str) or not text.strip():
        raise ParseError("empty answer")
    if len(text) > MAX_CHARS:
        raise ParseError("answer too long")
    plain = latex_to_plain(text) if looks_like_latex(text) else text
    if len(plain) > 2 * MAX_CHARS:
        raise ParseError("answer too long")
    if _WORDS.search(_KNOWN_WORDS.sub(" ", plain)):
        raise ParseError("words, not a maths answer")
    tokens = _tokens(plain)
    if not tokens:
        raise ParseError("empty answer")
    ops = [k for k, (kind, v) in enumerate(tokens) if kind == "op" and v in _RELATIONS]
    if len(ops) > 1:
        raise ParseError("more than one relation")
    try:
        if ops:
            k = ops[0]
            lhs, rhs = _parse_all(tokens[:k]), _parse_all(tokens[k + 1 :])
            return Parsed(expr=lhs - rhs, relation=tokens[k][1], lhs=lhs, rhs=rhs)
        return Parsed(expr=_parse_all(tokens))
    except (TypeError, ZeroDivisionError, OverflowError, RecursionError) as exc:
        raise ParseError(str(exc)) from exc


def _parse_all(tokens: list[tuple[str, str]]):
    if not tokens:
        raise ParseError("missing side of a relation")
    parser = _Parser(tokens)
    value = parser.expr()
    if parser.peek() is not None:
        raise ParseError(f"unexpected {parser.peek()[1]!r}")
    if value.has(parser.sp.zoo, parser.sp.nan, parser.sp.oo):
        raise ParseError("undefined value")
    return value


def _value(parsed: Parsed):
    """The value an answer stands for: ``x = 3`` (one variable alone on a side) means 3."""
    if parsed.relation == "=":
        if parsed.lhs.is_Symbol and parsed.rhs.is_number:
            return parsed.rhs
        if parsed.rhs.is_Symbol and parsed.lhs.is_number:
            return parsed.lhs
        return None
    if parsed.relation:
        return None
    return parsed.expr


def _close(a: complex, b: complex) -> bool:
    return abs(a - b) <= REL_TOL * max(1.0, abs(a), abs(b))


def equivalent(answer: str | Parsed, expected: str | Parsed) -> bool | None:
    """Whether two answers have the same mathematical value; ``None`` when either does not parse.

    ``"0.75"``, ``"3/4"`` and ``"x = 6/8"`` are equivalent to ``"3/4"``; ``"2(x+1)"`` to
    ``"2x+2"``. Relations other than ``var = value`` are compared as relations with the
    same symbol and an equivalent difference of sides.
    """
    try:
        a = answer if isinstance(answer, Parsed) else parse_answer(answer)
        b = expected if isinstance(expected, Parsed) else parse_answer(expected)
    except ParseError:
        return None
    va, vb = _value(a), _value(b)
    if va is None or vb is None:
        if a.relation and a.relation == b.relation:
            return _same_function(a.expr, b.expr) or (a.relation in ("=", "!=") and _same_function(a.expr, -b.expr))
        return False
    return _same_function(va, vb)


def _same_function(x, y) -> bool:
    diff_symbols = sorted(x.free_symbols | y.free_symbols, key=lambda s: s.name)
    if not diff_symbols:
        if x == y:
            return True
        try:
            return _close(complex(x.evalf(30)), complex(y.evalf(30)))
        except (TypeError, ValueError):
            return False
    rng = random.Random(1234)
    import sympy

    fx = sympy.lambdify(diff_symbols, x, modules="math")
    fy = sympy.lambdify(diff_symbols, y, modules="math")
    tried = 0
    for _ in range(4 * N_POINTS):
        point = [rng.uniform(0.5, 3.0) for _ in diff_symbols]
        try:
            vx, vy = complex(fx(*point)), complex(fy(*point))
        except (ValueError, ZeroDivisionError, OverflowError):
            continue
        if not (math.isfinite(abs(vx)) and math.isfinite(abs(vy))):
            continue
        if not _close(vx, vy):
            return False
        tried += 1
        if tried >= N_POINTS:
            return True
    return False


def final_answer(text: str) -> str:
    """The part after the last top-level ``=`` ("2+3 = 5" -> "5"): what a worked answer ends with."""
    text = (text or "").strip()
    depth = 0
    cut = -1
    for k, ch in enumerate(text):
        depth += ch in "({["
        depth -= ch in ")}]"
        if ch == "=" and depth == 0 and not (k and text[k - 1] in "<>!"):
            cut = k
    return text[cut + 1 :].strip() if cut >= 0 else text


def describe(text: str) -> str:
    """A plain rendering of an answer for the teacher ("\\frac{3}{4}" -> "3/4")."""
    try:
        parsed = parse_answer(text)
    except ParseError:
        return text
    import sympy

    if parsed.relation:
        return f"{sympy.sstr(parsed.lhs)} {parsed.relation} {sympy.sstr(parsed.rhs)}"
    return sympy.sstr(parsed.expr)


@dataclass
class MathsJudgement:
    """The outcome of checking one maths answer against the expected value."""

    status: str  # "equivalent", "different", "unreadable" (not parsed / not sure): then review
    answer: str  # what was compared (typed text, or the recognised final answer)
    shown: str  # a plain rendering for the teacher
    expected: str
    source: str  # "typed" or "handwriting"
    confidence: float = 1.0


def judge(answer: str, expected: str, *, source: str = "typed", confidence: float = 1.0) -> MathsJudgement:
    """Compare a final answer with the expected value (see ``equivalent``).

    An answer that does not parse, or a handwritten read below ``MIN_READ_CONFIDENCE``,
    is ``unreadable``: a person decides.
    """
    final = final_answer(answer)
    verdict = equivalent(final, expected) if final else None
    if verdict is None or (source == "handwriting" and confidence < MIN_READ_CONFIDENCE):
        status = "unreadable"
    else:
        status = "equivalent" if verdict else "different"
    return MathsJudgement(
        status=status,
        answer=final,
        shown=describe(final) if final else "",
        expected=expected,
        source=source,
        confidence=round(float(confidence), 4),
    )


__all__ = [
    "MathsJudgement",
    "ParseError",
    "Parsed",
    "describe",
    "equivalent",
    "final_answer",
    "judge",
    "latex_to_plain",
    "latex_tokens",
    "parse_answer",
]
