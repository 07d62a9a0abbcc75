"""Evaluation: ``run_program`` walks an AST; ``evaluate`` runs program text.

``evaluate`` first tries a fused tokenize-and-evaluate loop that builds no
tree (1.6x faster than parsing then walking, see benchmarks/lang.py). That loop only handles the
happy path: at the first thing it does not expect (a syntax error, an
undefined name, modulo by zero, a huge value) it gives up, and the text goes
through :func:`parse` and :func:`run_program`, which raise the precise error.
So error messages have one source, and tests check the two paths agree.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping

from lolameme.errors import ConfigError, EvalError, LolamemeError
from lolameme.lang.ast import Expr, Num, Program, Var
from lolameme.lang.latent import LatentPlan, LatentRules, plan_for
from lolameme.lang.names import canonical, canonical_cache, to_snake
from lolameme.lang.parser import parse
from lolameme.lang.syntax import (
    CLOSER_OF,
    MAX_LITERAL_DIGITS,
    MAX_NESTING,
    MAX_VALUE_BITS,
    OPERATOR_OF,
    TOKEN,
)

Globals = Mapping[str, int]

LIMIT = 1 << MAX_VALUE_BITS  # every operator result must satisfy -LIMIT < r < LIMIT

APPLY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "mod": operator.mod}
_APPLY_SYMBOL = {symbol: APPLY[op] for symbol, op in OPERATOR_OF.items()}


class Undefined(Exception):
    """Internal: a name is neither assigned nor global (becomes an EvalError)."""


class TooLarge(Exception):
    """Internal: an operator result is out of range (becomes an EvalError)."""


def read_global(name: str, globals: Globals | None) -> int:
    """Value of a name that the program has not assigned, from the global table.

    Table keys may be spelled either way; the camelCase key is tried first,
    then the snake_case one. Looking names up on demand (instead of
    re-keying the whole table per call) keeps big tables cheap.
    """
    if globals is not None:
        try:
            value = globals.get(name)
            if value is None and not name.islower():
                value = globals.get(to_snake(name))
        except AttributeError:
            raise ConfigError(f"globals must be a mapping of names to integers, got {type(globals).__name__}") from None
        if value is not None:
            if type(value) is int:
                return value
            if isinstance(value, bool):
                raise ConfigError(f"global {name!r} has value {value!r}; global values must be integers, not booleans")
            try:
                return operator.index(value)
            except TypeError:
                raise ConfigError(
                    f"global {name!r} has value {value!r}; global values must be integers"
                ) from None
    raise Undefined(name)


def eval_expr(expr: Expr, env: dict[str, int], globals: Globals | None, plan: LatentPlan | None) -> int:
    """Value of one expression (recursion depth is bounded by the parser's MAX_NESTING)."""
    kind = type(expr)
    if kind is Var:
        value = env.get(expr.name)
        return read_global(expr.name, globals) if value is None else value
    if kind is Num:
        return expr.value
    left, right = expr.left, expr.right
    lvalue = eval_expr(left, env, globals, plan)
    rvalue = eval_expr(right, env, globals, plan)
    if plan is not None and type(left) is Var and type(right) is Var:
        rtype = plan.type_of[right.name[0]]
        if rtype != "A" and plan.type_of[left.name[0]] == "A" and plan.fires[rtype]:
            lvalue = plan.modify_left.apply(lvalue)
            rvalue = plan.modify_right[rtype].apply(rvalue)
    result = APPLY[expr.op](lvalue, rvalue)
    if not -LIMIT < result < LIMIT:
        raise TooLarge
    return result


def statement_error(where: str, exc: Exception) -> EvalError:
    """The EvalError for an internal failure inside statement ``where``."""
    if isinstance(exc, Undefined):
        return EvalError(
            f"{where}: {exc.args[0]!r} is not defined (not assigned earlier and not in the global table)"
        )
    if isinstance(exc, ZeroDivisionError):
        return EvalError(f"{where}: modulo by zero")
    if isinstance(exc, TooLarge):
        return EvalError(f"{where}: a value reached 2**{MAX_VALUE_BITS} in magnitude, the accepted maximum")
    if isinstance(exc, RecursionError):
        return EvalError(f"{where}: expression nested too deeply")
    raise TypeError(exc)  # pragma: no cover - only the types above are passed


_FAILURES = (Undefined, ZeroDivisionError, TooLarge, RecursionError)


def run_program(program: Program, globals: Globals | None = None, latent: LatentRules | None = None) -> int:
    """Run a parsed (or generated) program; return the printed variable's value."""
    plan = plan_for(latent)
    env: dict[str, int] = {}
    for number, statement in enumerate(program.statements, 1):
        try:
            env[statement.target] = eval_expr(statement.value, env, globals, plan)
        except _FAILURES as exc:
            raise statement_error(f"statement {number}", exc) from None
    value = env.get(program.printed)
    if value is None:
        try:
            value = read_global(program.printed, globals)
        except Undefined as exc:
            raise statement_error("print statement", exc) from None
    return value


def evaluate(program: str, globals: Globals | None = None, latent: LatentRules | None = None) -> int:
    """Parse and run a LoLa, MeMe or mixed program; return its output as an int."""
    plan = plan_for(latent)
    if type(program) is str:
        try:
            value = _fast_evaluate(program, globals, plan)
        except (IndexError, ZeroDivisionError, Undefined, LolamemeError):
            value = None
        if value is not None:
            return value
    return run_program(parse(program), globals, latent)


def _fast_evaluate(text: str, globals: Globals | None, plan: LatentPlan | None) -> int | None:
    """Fused tokenize+evaluate for well-formed programs; None (or an exception) means 'ask the parser'."""
    tokens = TOKEN.findall(text)
    names = canonical_cache  # spelling -> canonical name; misses go through canonical()
    closer_of = CLOSER_OF
    env: dict[str, int] = {}
    i = 0
    while True:
        token = tokens[i]
        target = names.get(token) or canonical(token)
        if target is None:
            if token != "print":
                return None
            closer = closer_of.get(tokens[i + 1])
            printed = names.get(tokens[i + 2]) or canonical(tokens[i + 2])
            if closer is None or printed is None or tokens[i + 3] != closer:
                return None
            rest = len(tokens) - i - 4
            if rest and (rest > 1 or tokens[-1] != ";"):
                return None
            value = env.get(printed)
            return read_global(printed, globals) if value is None else value
        if tokens[i + 1] != "=":
            return None
        i += 2
        # Expression: a frame per open bracket, first its closer (str), then,
        # once the left operand is known, (closer, left value, left name, op).
        stack: list = []
        while True:
            token = tokens[i]
            i += 1
            closer = closer_of.get(token)
            if closer is not None:
                stack.append(closer)
                if len(stack) > MAX_NESTING:
                    return None
                continue
            if "0" <= token[0] <= "9":
                if len(token) > MAX_LITERAL_DIGITS:
                    return None
                value, name = int(token), None
            else:
                name = names.get(token) or canonical(token)
                if name is None:
                    return None
                value = env.get(name)
                if value is None:
                    value = read_global(name, globals)
            while stack:
                frame = stack[-1]
                if type(frame) is str:
                    apply = _APPLY_SYMBOL.get(tokens[i])
                    if apply is None:
                        return None
                    i += 1
                    stack[-1] = (frame, value, name, apply)
                    break
                closer, lvalue, lname, apply = stack.pop()
                if tokens[i] != closer:
                    return None
                i += 1
                if plan is not None and lname is not None and name is not None:
                    rtype = plan.type_of[name[0]]
                    if rtype != "A" and plan.type_of[lname[0]] == "A" and plan.fires[rtype]:
                        lvalue = plan.modify_left.apply(lvalue)
                        value = plan.modify_right[rtype].apply(value)
                value = apply(lvalue, value)
                if not -LIMIT < value < LIMIT:
                    return None
                name = None
            else:
                break
        if tokens[i] != ";":
            return None
        i += 1
        env[target] = value
