"""Tracing: what each statement computed, read and depended on.

The dataset generator stores these as per-sample annotations: how many global
reads and latent firings a program has, which statements matter for the
printed value (the backward slice; the rest is noise) and how long the longest
chain of dependent statements leading to the printed value is ("hops").
"""

from __future__ import annotations

from typing import NamedTuple

from lolameme.lang.ast import Expr, Num, Program, Var
from lolameme.lang.interpreter import (
    APPLY,
    LIMIT,
    Globals,
    TooLarge,
    Undefined,
    read_global,
    statement_error,
)
from lolameme.lang.latent import LatentPlan, LatentRules, plan_for
from lolameme.lang.parser import parse


class StatementTrace(NamedTuple):
    """One executed statement ``target = expression``.

    Trace records are NamedTuples (immutable, and several times cheaper to
    build than frozen dataclasses; the generator traces every sample).
    """

    number: int                     # 1-based position in the program
    target: str                     # canonical name assigned
    value: int                      # value assigned
    reads: tuple[str, ...]          # names read, in order of occurrence (repeats kept)
    global_reads: tuple[str, ...]   # the reads answered by the global table
    latent: int                     # binary expressions where a latent rule fired
    depth: int                      # bracket nesting depth of the expression (0 for a leaf)
    depends_on: tuple[int, ...]     # numbers of the statements whose values it read
    hops: int                       # longest chain of statements ending here (>= 1)
    relevant: bool                  # in the backward slice of the printed variable


class Trace(NamedTuple):
    """The whole run: per-statement records plus the summary the generator stores."""

    statements: tuple[StatementTrace, ...]
    printed: str
    output: int
    printed_global: bool   # the printed name was never assigned; its value is a global
    hops: int              # longest dependency chain to the printed value (0 if printed_global)
    n_global_reads: int    # name reads answered by the global table, print included
    n_latent: int          # latent firings over all statements
    n_relevant: int
    n_noise: int
    max_depth: int


def trace(program: str | Program, globals: Globals | None = None, latent: LatentRules | None = None) -> Trace:
    """Run ``program`` (text or AST) and record how its output came about."""
    if not isinstance(program, Program):
        program = parse(program)
    plan = plan_for(latent)
    env: dict[str, int] = {}
    defined_by: dict[str, int] = {}  # name -> index of the statement that last assigned it
    records: list[tuple] = []
    hops: list[int] = []
    n_global_reads = n_latent = max_depth = 0
    for index, statement in enumerate(program.statements):
        reads: list[str] = []
        global_reads: list[str] = []
        fired = [0]
        try:
            value, depth = _eval(statement.value, env, globals, plan, reads, global_reads, fired)
        except (Undefined, ZeroDivisionError, TooLarge, RecursionError) as exc:
            raise statement_error(f"statement {index + 1}", exc) from None
        depends = sorted({defined_by[n] for n in reads if n in defined_by})
        hops.append(1 + max([hops[d] for d in depends], default=0))
        records.append((statement.target, value, reads, global_reads, fired[0], depth, depends))
        env[statement.target] = value
        defined_by[statement.target] = index
        n_global_reads += len(global_reads)
        n_latent += fired[0]
        if depth > max_depth:
            max_depth = depth

    printed = program.printed
    printed_global = printed not in env
    if printed_global:
        try:
            output = read_global(printed, globals)
        except Undefined as exc:
            raise statement_error("print statement", exc) from None
        n_global_reads += 1
    else:
        output = env[printed]

    # Backward slice: walk statements from last to first, growing the set of
    # statement indices whose values the printed value needs.
    relevant = [False] * len(records)
    needed = set() if printed_global else {defined_by[printed]}
    for index in range(len(records) - 1, -1, -1):
        if index in needed:
            relevant[index] = True
            needed.update(records[index][6])

    statements = tuple(
        [
            StatementTrace(
                index + 1, target, value, tuple(reads), tuple(global_reads), fired, depth,
                tuple([d + 1 for d in depends]), hops[index], relevant[index],
            )
            for index, (target, value, reads, global_reads, fired, depth, depends) in enumerate(records)
        ]
    )
    n_relevant = sum(relevant)
    return Trace(
        statements,
        printed,
        output,
        printed_global,
        0 if printed_global else hops[defined_by[printed]],
        n_global_reads,
        n_latent,
        n_relevant,
        len(statements) - n_relevant,
        max_depth,
    )


def _eval(
    expr: Expr,
    env: dict[str, int],
    globals: Globals | None,
    plan: LatentPlan | None,
    reads: list[str],
    global_reads: list[str],
    fired: list[int],
) -> tuple[int, int]:
    """(value, depth) of ``expr``, recording reads and latent firings on the way.

    Mirrors :func:`lolameme.lang.interpreter.eval_expr`; a property test
    checks that the two always agree.
    """
    kind = type(expr)
    if kind is Var:
        name = expr.name
        reads.append(name)
        value = env.get(name)
        if value is None:
            value = read_global(name, globals)
            global_reads.append(name)
        return value, 1
    if kind is Num:
        return expr.value, 1
    left, right = expr.left, expr.right
    lvalue, ldepth = _eval(left, env, globals, plan, reads, global_reads, fired)
    rvalue, rdepth = _eval(right, env, globals, plan, reads, global_reads, fired)
    if plan is not None and type(left) is Var and type(right) is Var:
        rtype = plan.type_of[right.name[0]]
        if rtype != "A" and plan.type_of[left.name[0]] == "A" and plan.fires[rtype]:
            lvalue = plan.modify_left.apply(lvalue)
            rvalue = plan.modify_right[rtype].apply(rvalue)
            fired[0] += 1
    result = APPLY[expr.op](lvalue, rvalue)
    if not -LIMIT < result < LIMIT:
        raise TooLarge
    return result, 1 + max(ldepth, rdepth)
