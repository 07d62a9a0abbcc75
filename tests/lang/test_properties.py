"""Property tests: dialects agree, the fast path agrees with parse+run_program,
evaluation agrees with an independent reference (Python's own arithmetic on
the rendered LoLa text), and no input string raises anything but LolamemeError."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lolameme import LolamemeError
from lolameme.lang import (
    OPS,
    Assign,
    BinOp,
    LatentRules,
    Num,
    Program,
    Var,
    evaluate,
    parse,
    render,
    run_program,
    trace,
)
from lolameme.lang.trace import chain_operators

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMES = st.from_regex(r"[a-z][a-zA-Z]{0,4}", fullmatch=True).filter(lambda s: s != "print")
MODIFICATIONS = st.sampled_from(["", "*2", "/2", "*3", "/3"])


@st.composite
def latent_rules(draw):
    a = draw(st.integers(0, 26))
    b = draw(st.integers(a, 26))
    return LatentRules(a, b, draw(MODIFICATIONS), draw(MODIFICATIONS), draw(MODIFICATIONS))


@st.composite
def cases(draw):
    """(program, globals with keys in random spelling, latent rules or None)."""
    pool = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
    name = st.sampled_from(pool)
    leaf = st.one_of(st.builds(Num, st.integers(0, 60)), st.builds(Var, name))
    expr = st.recursive(leaf, lambda inner: st.builds(BinOp, st.sampled_from(OPS), inner, inner), max_leaves=6)
    statements = draw(st.lists(st.builds(Assign, name, expr), max_size=6))
    program = Program(tuple(statements), draw(name))
    table = draw(st.dictionaries(name, st.integers(-50, 60)))
    snake = draw(st.booleans())
    spelled = {_snake(k) if snake else k: v for k, v in table.items()}
    return program, spelled, draw(st.none() | latent_rules())


def _snake(camel: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), camel)


@dataclass(frozen=True)
class Failure:
    kind: str
    message: str


def _outcome(fn, *args):
    """The result, or a Failure(error class name, message), so two paths can be compared."""
    try:
        return fn(*args)
    except LolamemeError as exc:
        return Failure(type(exc).__name__, str(exc))


# --- an independent reference ---------------------------------------------------
LIMIT = 1 << 4096


class Checked(int):
    """Python int arithmetic, failing like the spec when a result reaches 2**4096."""

    def _wrap(value):
        if not -LIMIT < value < LIMIT:
            raise OverflowError
        return Checked(value)

    def __add__(self, other):
        return Checked._wrap(int(self) + int(other))

    def __sub__(self, other):
        return Checked._wrap(int(self) - int(other))

    def __mul__(self, other):
        return Checked._wrap(int(self) * int(other))

    def __mod__(self, other):
        return Checked._wrap(int(self) % int(other))


def reference(program: Program, table: dict[str, int], latent: LatentRules | None):
    """Output via exec() of the LoLa text; 'error' for any failure."""
    lines = render(program, "lola").split(";")
    printed = lines.pop()[len("print("):-1]
    source = []
    for line in lines:
        target, expression = line.split(" = ", 1)
        expression = re.sub(r"[0-9]+", r"Checked(\g<0>)", expression)
        expression = re.sub(r"\b[a-z][A-Za-z]*\b", r"v_\g<0>", expression)
        if latent is not None:
            expression = re.sub(
                r"\((v_([a-z])[A-Za-z]*) ([-+*%]) (v_([a-z])[A-Za-z]*)\)",
                lambda m: _latent_pair(m, latent),
                expression,
            )
        source.append(f"v_{target} = {expression}")
    namespace = {f"v_{re.sub(r'_([a-z])', lambda m: m.group(1).upper(), k)}": Checked(v) for k, v in table.items()}
    scope = {"__builtins__": {}, "Checked": Checked, "modify": _modify}
    try:
        exec("\n".join(source), scope, namespace)
        return int(namespace[f"v_{printed}"])
    except (NameError, KeyError, ZeroDivisionError, OverflowError):
        return "error"


def _type(letter: str, latent: LatentRules) -> str:
    index = ord(letter) - ord("a")
    return "A" if index < latent.boundary_a else "B" if index < latent.boundary_b else "C"


def _latent_pair(match: re.Match, latent: LatentRules) -> str:
    left, left_letter, op, right, right_letter = match.groups()
    if _type(left_letter, latent) == "A" and _type(right_letter, latent) != "A":
        right_mod = latent.modification_b if _type(right_letter, latent) == "B" else latent.modification_c
        return f"(modify({left}, {latent.modification_a!r}) {op} modify({right}, {right_mod!r}))"
    return match.group(0)


def _modify(value: int, modification: str) -> int:
    if not modification:
        return value
    k = int(modification[1:])
    return Checked(value * k if modification[0] == "*" else value // k)


# --- properties -----------------------------------------------------------------
@SETTINGS
@given(cases())
def test_evaluation_matches_reference(case):
    program, table, latent = case
    expected = reference(program, table, latent)
    got = _outcome(run_program, program, table, latent)
    if expected == "error":
        assert isinstance(got, Failure) and got.kind == "EvalError"
    else:
        assert got == expected


@SETTINGS
@given(cases(), st.integers(0, 2**32))
def test_all_paths_and_dialects_agree(case, seed):
    program, table, latent = case
    expected = _outcome(run_program, program, table, latent)
    traced = _outcome(trace, program, table, latent)
    assert (traced if isinstance(traced, Failure) else traced.output) == expected
    rng = random.Random(seed)
    for dialect in ("lola", "meme", "mixed"):
        text = render(program, dialect, rng)
        assert parse(text) == program
        assert _outcome(evaluate, text, table, latent) == expected


@SETTINGS
@given(cases())
def test_trace_slice_is_consistent(case):
    program, table, latent = case
    try:
        t = trace(program, table, latent)
    except LolamemeError:
        return
    # dropping the noise statements never changes the output
    kept = tuple(s for s, st_ in zip(program.statements, t.statements) if st_.relevant)
    assert run_program(Program(kept, program.printed), table, latent) == t.output
    assert t.n_relevant + t.n_noise == len(program.statements)
    assert t.hops <= t.n_relevant
    assert (t.hops == 0) == t.printed_global
    # the static chain (no values, no globals) has exactly the operators of the traced slice
    assert chain_operators(program) == {op for s in kept for op in _operators(s.value)}


def _operators(expr):
    return [expr.op, *_operators(expr.left), *_operators(expr.right)] if isinstance(expr, BinOp) else []


PIECES = list("()[]{}+-*%|!@/=;_ \t\n") + ["a", "Z", "0", "9", "print", "x_y", "\x00", "é", "٣", "²"]


@SETTINGS
@given(cases(), st.integers(0, 2**32), st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["del", "ins", "rep"]), st.sampled_from(PIECES)), max_size=4))
def test_mutated_programs_fail_cleanly_and_paths_agree(case, seed, mutations):
    program, table, latent = case
    text = render(program, "mixed", random.Random(seed))
    for position, action, piece in mutations:
        k = position % (len(text) + 1)
        if action == "del":
            text = text[:k] + text[k + 1:]
        elif action == "ins":
            text = text[:k] + piece + text[k:]
        else:
            text = text[:k] + piece + text[k + 1:]
    slow = _outcome(lambda: run_program(parse(text), table, latent))
    assert _outcome(evaluate, text, table, latent) == slow


@SETTINGS
@given(st.one_of(st.text(max_size=80), st.binary(max_size=80).map(lambda b: b.decode("latin-1"))))
def test_random_text_only_raises_lolameme_errors(text):
    for fn in (evaluate, parse, trace):
        try:
            fn(text)
        except LolamemeError:
            pass
