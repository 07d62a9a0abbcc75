"""Tracing: what each statement computed, read and depended on.

The dataset generator stores these as per-sample annotations: how many global
reads and latent firings a program has, which statements matter for the
printed value (the backward slice; the rest is noise) and how long the longest
chain of dependent statements leading to the printed value is ("hops").
"""

from __future__ import annotations

from typing import NamedTuple

from collections.abc import Sequence

from lolameme.lang.ast import BinOp, Expr, Num, Op, Program, Var
from lolameme.lang.latent import LatentPlan, LatentRules, plan_for
from lolameme.lang.parser import parse
from lolameme.lang.semantics import FAILURES, Globals, Undefined, apply, read_global, statement_error


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


class Dependencies(NamedTuple):
    """Which statements feed which: a property of the program text alone, not of any values."""

    depends_on: tuple[tuple[int, ...], ...]  # per statement: indices of the statements whose values it reads
    hops: tuple[int, ...]                    # per statement: longest chain of statements ending there (>= 1)
    relevant: tuple[bool, ...]               # per statement: in the backward slice of the printed name
    printed_by: int | None                   # index of the statement the print reads; None: a global


def dependencies(targets: Sequence[str], reads: Sequence[Sequence[str]], printed: str) -> Dependencies:
    """The dependency structure of statements ``targets[k] = <expression reading reads[k]>``.

    A read depends on the latest earlier assignment of its name (names never assigned
    earlier are globals and depend on nothing); the backward slice grows from the
    statement the print reads.
    """
    defined_by: dict[str, int] = {}
    depends_on: list[tuple[int, ...]] = []
    hops: list[int] = []
    for index, (target, names) in enumerate(zip(targets, reads)):
        depends: list[int] = []
        longest = 0
        for name in names:  # plain loops: the tracer calls this for every generated sample
            source = defined_by.get(name)
            if source is not None and source not in depends:
                depends.append(source)
                if hops[source] > longest:
                    longest = hops[source]
        depends.sort()
        depends_on.append(tuple(depends))
        hops.append(1 + longest)
        defined_by[target] = index
    printed_by = defined_by.get(printed)
    relevant = [False] * len(depends_on)
    needed = set() if printed_by is None else {printed_by}
    for index in range(len(depends_on) - 1, -1, -1):
        if index in needed:
            relevant[index] = True
            needed.update(depends_on[index])
    return Dependencies(tuple(depends_on), tuple(hops), tuple(relevant), printed_by)


def chain_operators(program: str | Program) -> frozenset[Op]:
    """The operators on the printed value's dependency chain (empty: the value is copied, not computed).

    Static: read from the program text, so it needs neither the global table nor a run.
    """
    if not isinstance(program, Program):
        program = parse(program)
    per_statement = [_names_and_ops(statement.value) for statement in program.statements]
    deps = dependencies([s.target for s in program.statements], [names for names, _ in per_statement],
                        program.printed)
    return frozenset(op for (_, ops), on_chain in zip(per_statement, deps.relevant) if on_chain for op in ops)


def _names_and_ops(expr: Expr) -> tuple[list[str], list[Op]]:
    names: list[str] = []
    ops: list[Op] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if type(node) is BinOp:
            ops.append(node.op)
            stack += [node.right, node.left]
        elif type(node) is Var:
            names.append(node.name)
    return names, ops


def trace(program: str | Program, globals: Globals | None = None, latent: LatentRules | None = None) -> Trace:
    """Run ``program`` (text or AST) and record how its output came about."""
    if not isinstance(program, Program):
        program = parse(program)
    plan = plan_for(latent)
    env: dict[str, int] = {}
    records: list[tuple] = []
    for index, statement in enumerate(program.statements):
        reads: list[str] = []
        global_reads: list[str] = []
        fired = [0]
        try:
            value, depth = _eval(statement.value, env, globals, plan, reads, global_reads, fired)
        except FAILURES as exc:
            raise statement_error(f"statement {index + 1}", exc) from None
        records.append((statement.target, value, reads, global_reads, fired[0], depth))
        env[statement.target] = value
    return _summary(program, records, env, globals)


def _summary(program: Program, records: list[tuple], env: dict[str, int], globals: Globals | None) -> Trace:
    printed = program.printed
    printed_global = printed not in env
    n_global_reads = sum(len(record[3]) for record in records)
    if printed_global:
        try:
            output = read_global(printed, globals)
        except Undefined as exc:
            raise statement_error("print statement", exc) from None
        n_global_reads += 1
    else:
        output = env[printed]
    deps = dependencies([r[0] for r in records], [r[2] for r in records], printed)
    statements = tuple(
        [
            StatementTrace(
                index + 1, target, value, tuple(reads), tuple(global_reads), fired, depth,
                tuple([d + 1 for d in deps.depends_on[index]]), deps.hops[index], deps.relevant[index],
            )
            for index, (target, value, reads, global_reads, fired, depth) in enumerate(records)
        ]
    )
    n_relevant = sum(deps.relevant)
    return Trace(
        statements,
        printed,
        output,
        printed_global,
        0 if printed_global else deps.hops[deps.printed_by],
        n_global_reads,
        sum(record[4] for record in records),
        n_relevant,
        len(statements) - n_relevant,
        max([record[5] for record in records], default=0),
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

    The walk of :func:`lolameme.lang.interpreter.eval_expr` with bookkeeping; both apply
    operators through :func:`lolameme.lang.semantics.apply`, and a property test checks
    that the two always agree.
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
    value = apply(expr.op, lvalue, rvalue, left.name if type(left) is Var else None,
                  right.name if type(right) is Var else None, plan, fired)
    return value, 1 + max(ldepth, rdepth)
