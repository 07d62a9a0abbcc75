"""The rules of ListOps as Long Range Arena (LRA) generates it, and an evaluator.

A ListOps expression is a digit 0-9 or a list ``[OP a1 a2 ... ]`` whose
arguments are expressions. The text form is LRA's: the operator token carries
its opening bracket (``[MAX``), the closing bracket is its own token, tokens
are separated by single spaces: ``[MAX 2 9 [MIN 4 7 ] 0 ]``. LRA's released
TSV files wrap every subtree in extra parentheses
(``( ( ( [MAX 2 ) 9 ) ] )``); parentheses are not tokens, so they are simply
dropped when reading.

This module is the single source of the operator set, the token spellings, the
length accounting and the semantics; the vectorised sampler uses the same
tables (by operator index) so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from lolameme.errors import ParseError

#: Probability that a node above ``max_depth`` is a list rather than a digit
#: (LRA's ``VALUE_P``: a draw ``r > 0.25`` makes a digit).
LIST_PROBABILITY = 0.25
#: Operator names, in the order the sampler indexes them (0..3).
OPERATORS = ("MIN", "MAX", "MED", "SM")
OPEN_TOKENS = tuple(f"[{name}" for name in OPERATORS)
CLOSE_TOKEN = "]"
DIGITS = tuple(str(d) for d in range(10))
_OPERATOR_INDEX = {token: i for i, token in enumerate(OPEN_TOKENS)}
_ACCEPTED = ", ".join((*OPEN_TOKENS, CLOSE_TOKEN, "digits 0-9"))


def apply_operator(name: str, values: list[int]) -> int:
    """Value of ``[name values... ]``.

    MED is ``int(numpy.median(values))``: the middle value of an odd count, the
    mean of the two middle values truncated toward zero for an even count (so
    ``MED[2 5] = 3``: neither the lower nor the upper median). SM is the sum
    mod 10. Values are digits, so every result is a digit again.
    """
    if name == "MIN":
        return min(values)
    if name == "MAX":
        return max(values)
    if name == "SM":
        return sum(values) % 10
    if name == "MED":
        ordered = sorted(values)
        n = len(ordered)
        return (ordered[(n - 1) // 2] + ordered[n // 2]) // 2  # values >= 0: floor == trunc
    raise ParseError(f"unknown operator {name!r}; accepted: {', '.join(OPERATORS)}")


def tokenize(text: str) -> list[str]:
    """Tokens of LRA text, with or without LRA's file parentheses."""
    return text.replace("(", " ").replace(")", " ").split()


def normalize(text: str) -> str:
    """The canonical text form: no parentheses, tokens separated by one space."""
    return " ".join(tokenize(text))


@dataclass(frozen=True)
class Analysis:
    """What :func:`analyze` learns about one expression in one pass."""

    value: int  # the label
    depth: int  # deepest operator nesting: 1 for a flat list, 0 for a bare digit
    n_ops: int  # number of operators (lists)
    lra_length: int  # LRA's length: 1 per digit + 2 per operator
    list_values: tuple[int, ...] = ()  # every list's value in the order the lists close (innermost first)


def analyze(text: str) -> Analysis:
    """Evaluate a ListOps expression and measure it, rejecting malformed text.

    Iterative (an explicit stack), so arbitrarily deep input cannot exhaust
    Python's recursion limit. Raises :class:`ParseError` for an unbalanced
    bracket, an unknown token or operator, an empty list, several top-level
    expressions or empty input, naming the token position.
    """
    tokens = tokenize(text)
    if not tokens:
        raise ParseError("empty ListOps expression; expected a digit or a list such as '[MAX 2 9 ]'")
    stack: list[tuple[str, list[int]]] = []  # open lists: (operator, argument values so far)
    result: int | None = None
    closed: list[int] = []  # values of the lists closed so far, in closing order
    depth = n_ops = 0
    for position, token in enumerate(tokens):
        if result is not None:
            raise ParseError(f"token {position} {token!r}: text continues after the expression is complete "
                             f"(one expression per input)")
        if token in _OPERATOR_INDEX:
            stack.append((token[1:], []))
            n_ops += 1
            depth = max(depth, len(stack))
            continue
        if token == CLOSE_TOKEN:
            if not stack:
                raise ParseError(f"token {position}: unbalanced ']' closes no list")
            name, values = stack.pop()
            if not values:
                raise ParseError(f"token {position}: empty list '[{name} ]'; a list needs at least one argument")
            value = apply_operator(name, values)
            closed.append(value)
        elif len(token) == 1 and token.isdigit():
            value = int(token)
        elif token.startswith("["):
            raise ParseError(f"token {position}: unknown operator {token!r}; accepted: {_ACCEPTED}")
        else:
            raise ParseError(f"token {position}: unknown token {token!r}; accepted: {_ACCEPTED}")
        if stack:
            stack[-1][1].append(value)
        else:
            result = value
    if stack:
        raise ParseError(f"unbalanced '[': {len(stack)} list(s) still open at the end of the input "
                         f"(innermost '[{stack[-1][0]}')")
    return Analysis(value=result, depth=depth, n_ops=n_ops, lra_length=len(tokens), list_values=tuple(closed))


def evaluate(text: str) -> int:
    """The label (a digit) of a ListOps expression; :class:`ParseError` if malformed."""
    return analyze(text).value


def lra_length(text: str) -> int:
    """LRA's length of a well-formed expression: its token count (digit 1, list 2 + its arguments)."""
    return len(tokenize(text))
