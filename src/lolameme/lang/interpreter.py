"""Evaluation: ``run_program`` walks an AST; ``evaluate`` runs program text.

``evaluate`` first tries a fused tokenize-and-evaluate loop that builds no
tree (see benchmarks/lang.py for what it saves over parsing then walking). That
loop only handles the happy path: at the first thing it does not expect (a
syntax error, an undefined name, modulo by zero, a huge value) it gives up, and
the text goes through :func:`parse` and :func:`run_program`, which raise the
precise error. So error messages have one source, and tests check the two
paths agree. Both apply operators through :func:`lolameme.lang.semantics.apply`.
"""

from __future__ import annotations

from lolameme.errors import LolamemeError
from lolameme.lang.ast import Expr, Num, Program, Var
from lolameme.lang.latent import LatentPlan, LatentRules, plan_for
from lolameme.lang.names import canonical, canonical_cache
from lolameme.lang.parser import parse
from lolameme.lang.semantics import FAILURES, Globals, Undefined, apply, read_global, statement_error
from lolameme.lang.syntax import CLOSER_OF, MAX_LITERAL_DIGITS, MAX_NESTING, OPERATOR_OF, TOKEN


def eval_expr(expr: Expr, env: dict[str, int], globals: Globals | None, plan: LatentPlan | None) -> int:
    """Value of one expression (recursion depth is bounded by the parser's MAX_NESTING)."""
    kind = type(expr)
    if kind is Var:
        value = env.get(expr.name)
        return read_global(expr.name, globals) if value is None else value
    if kind is Num:
        return expr.value
    left, right = expr.left, expr.right
    return apply(expr.op, eval_expr(left, env, globals, plan), eval_expr(right, env, globals, plan),
                 left.name if type(left) is Var else None, right.name if type(right) is Var else None, plan)


def run_program(program: Program, globals: Globals | None = None, latent: LatentRules | None = None) -> int:
    """Run a parsed (or generated) program; return the printed variable's value."""
    plan = plan_for(latent)
    env: dict[str, int] = {}
    for number, statement in enumerate(program.statements, 1):
        try:
            env[statement.target] = eval_expr(statement.value, env, globals, plan)
        except FAILURES as exc:
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
            value = _fast_evaluate(TOKEN.findall(program), globals, plan)
        except (IndexError, LolamemeError, *FAILURES):
            value = None
        if value is not None:
            return value
    return run_program(parse(program), globals, latent)


# --- the fused fast path: tokens in, value out, None (or an exception) for "ask the parser" ---

def _fast_evaluate(tokens: list[str], globals: Globals | None, plan: LatentPlan | None) -> int | None:
    """Run well-formed statements ``name = expr ;`` then ``print(name) [;]`` without building a tree.

    An expression keeps a frame per open bracket: first its closer (a str), then, once the
    left operand is known, (closer, left value, left name, operator).
    """
    names = canonical_cache  # spelling -> canonical name; misses go through canonical()
    closer_of, operator_of, combine = CLOSER_OF, OPERATOR_OF, apply  # locals: this loop is the hot path
    env: dict[str, int] = {}
    i = 0
    while True:
        target = names.get(tokens[i]) or canonical(tokens[i])
        if target is None:
            return _fast_print(tokens, i, env, globals)
        if tokens[i + 1] != "=":
            return None
        i += 2
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
                frame = stack.pop()
                if type(frame) is str:  # the left operand is done: an operator must follow
                    op = operator_of.get(tokens[i])
                    if op is None:
                        return None
                    stack.append((frame, value, name, op))
                    i += 1
                    break
                if tokens[i] != frame[0]:
                    return None
                i += 1
                value, name = combine(frame[3], frame[1], value, frame[2], name, plan), None
            else:
                break
        if tokens[i] != ";":
            return None
        env[target] = value
        i += 1


def _fast_print(tokens: list[str], i: int, env: dict[str, int], globals: Globals | None) -> int | None:
    """The value ``print(name) [;]`` at token ``i`` prints, if that is all that is left."""
    closer = CLOSER_OF.get(tokens[i + 1])
    printed = canonical_cache.get(tokens[i + 2]) or canonical(tokens[i + 2])
    if tokens[i] != "print" or closer is None or printed is None or tokens[i + 3] != closer:
        return None
    rest = len(tokens) - i - 4
    if rest and (rest > 1 or tokens[-1] != ";"):
        return None
    value = env.get(printed)
    return read_global(printed, globals) if value is None else value
