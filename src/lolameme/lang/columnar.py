"""Columnar execution: the interpreter run on many programs at once, stored as arrays.

Why a second execution path: the dataset generator labels millions of programs,
and walking one tree per program in Python costs about 15 µs each, more than
drawing and writing the program. Here N programs of S statements are arrays, and
every step (read a literal, look up a name, apply an operator, fire a latent
rule) is one numpy operation over all N rows. The semantics are exactly
:func:`lolameme.lang.run_program`'s and :func:`lolameme.lang.trace`'s
(docs/language.md): the operators of :data:`lolameme.lang.semantics.OPERATORS`
applied to int64 arrays, the latent rule read from the same table as the scalar
paths (:attr:`LatentPlan.rule`), reads of unassigned names answered by the
global table. ``tests/lang/test_columnar.py`` runs random programs through both
paths and insists on the same outputs, errors and annotations.

Layout. Each right-hand side is a binary tree in ``T = 2**h - 1`` node slots,
heap-ordered (slot i has children 2i+1 and 2i+2); arrays are statement- and
slot-major so each ``[s, i]`` slice is one contiguous row vector:

* ``target`` (S, N): variable id assigned by each statement
* ``kind`` (S, T, N): :data:`UNUSED`, :data:`CONST`, :data:`NAME` or :data:`OP`
* ``ref`` (S, T, N): a literal's value, or a name's variable id
* ``op`` (S, T, N): operator index into :data:`OPS` (OP slots)
* ``printed`` (N,): variable id of the printed name

Variable ids index a :class:`Names` table: canonical names, the global table's
values and the latent rules with each name's type, so one object carries
everything a run reads besides the programs.

One difference from the scalar path: values live in int64. A row whose value
would reach ``2**62`` in magnitude is flagged ``too_large`` instead of computed
(the scalar interpreter accepts values up to 2**4096); run such a row through
:func:`~lolameme.lang.run_program` if its value is wanted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from lolameme.errors import ConfigError, EvalError, ParseError
from lolameme.lang.ast import OPS, BinOp, Expr, Num, Program, Var
from lolameme.lang.latent import TYPES, LatentPlan, LatentRules, plan_for
from lolameme.lang.semantics import OPERATORS, Undefined, read_global

# node kinds
UNUSED, CONST, NAME, OP = 0, 1, 2, 4
MUL, MOD = OPS.index("mul"), OPS.index("mod")
#: |every value| stays below this, so no int64 sum, product or modification can wrap unseen
BOUND = 2 ** 62


@dataclass(frozen=True)
class Names:
    """The variable-id space of a batch: id -> canonical name, global value, latent type."""

    names: tuple[str, ...]
    is_global: np.ndarray     # (V,) bool: the global table has a value for the name
    global_value: np.ndarray  # (V,) int64: that value (0 where none)
    latent: LatentRules | None
    latent_type: np.ndarray   # (V,) int8: index into latent.TYPES (0 = A, 1 = B, 2 = C; all 0 without rules)

    @classmethod
    def build(cls, names: Sequence[str], globals: Mapping[str, int] | None = None,
              latent: LatentRules | None = None) -> Names:
        """Ids for canonical ``names`` in the given order; globals are read as the interpreter reads them."""
        names = tuple(names)
        if len(set(names)) != len(names):
            raise ConfigError("Names.build: the names must be distinct")
        values, is_global = np.zeros(len(names), dtype=np.int64), np.zeros(len(names), dtype=bool)
        for i, name in enumerate(names):
            try:
                value = read_global(name, globals)
            except Undefined:
                continue
            if not -BOUND < value < BOUND:
                raise ConfigError(f"global {name!r} = {value} is outside the columnar range (|v| < 2**62)")
            values[i], is_global[i] = value, True
        types = np.array([TYPES.index(latent.type_of(name)) for name in names] if latent else
                         np.zeros(len(names)), dtype=np.int8)
        return cls(names, is_global, values, latent, types)

    @property
    def ids(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}


@dataclass(frozen=True)
class Columns:
    """N programs of S statements as arrays (see the module docstring for the layout)."""

    target: np.ndarray
    kind: np.ndarray
    ref: np.ndarray
    op: np.ndarray
    printed: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        """(S statements, T node slots, N programs)."""
        return self.kind.shape


@dataclass
class ColumnarRun:
    """Values and the tracer's annotations for every row, plus why rows failed.

    Entries of failed rows are meaningless; ``failed[reason]`` says which rows
    the scalar interpreter would reject (``too_large``: outside this path's range).
    """

    values: np.ndarray          # (S, N) value assigned by each statement
    output: np.ndarray          # (N,) the printed value
    source: np.ndarray          # (S, T, N) statement that last assigned the name a slot reads (-1: none)
    printed_source: np.ndarray  # (N,) statement that last assigned the printed name (-1: a global)
    n_global_reads: np.ndarray  # (N,) name reads answered by the global table, print included
    n_latent: np.ndarray        # (N,) binary operations where a latent rule fired
    hops: np.ndarray            # (N,) longest dependency chain to the printed value (0: printed global)
    relevant: np.ndarray        # (S, N) statement is in the backward slice of the printed value
    failed: dict[str, np.ndarray] = field(default_factory=dict)  # reason -> (N,) bool

    @property
    def ok(self) -> np.ndarray:
        """(N,) rows that ran to the end."""
        bad = np.zeros(len(self.output), dtype=bool)
        for mask in self.failed.values():
            bad |= mask
        return ~bad


def run_columns(columns: Columns, names: Names) -> ColumnarRun:
    """Run every program of ``columns`` under ``names`` (globals, latent rules); the columnar twin of ``trace``."""
    check_columns(columns, names)
    target, kind, ref = columns.target, columns.kind, columns.ref
    S, T, N = kind.shape
    rows = np.arange(N)
    is_name = kind == NAME
    name_ref = np.where(is_name, ref, 0)

    # which statement last assigned the name each slot reads (-1: not assigned earlier in the program)
    source = np.full((S, T, N), -1, dtype=np.int64)
    for s in range(1, S):
        for earlier in range(s):
            source[s][is_name[s] & (ref[s] == target[earlier])] = earlier
    from_table = is_name & (source < 0)
    undefined = (from_table & ~names.is_global[name_ref]).any(axis=(0, 1))
    values, modulo_by_zero, too_large, n_latent = _run_values(columns, names, source, from_table, name_ref)

    # the print: the last assignment of the printed name, else the global table
    printed = columns.printed
    printed_source = np.full(N, -1, dtype=np.int64)
    for s in range(S):
        printed_source[target[s] == printed] = s
    printed_global = printed_source < 0
    undefined |= printed_global & ~names.is_global[printed]
    output = np.where(printed_global, names.global_value[printed], _at(values, printed_source, rows))
    hops, relevant = _dependencies(source, printed_source)

    return ColumnarRun(
        values=values, output=output, source=source, printed_source=printed_source,
        n_global_reads=from_table.sum(axis=(0, 1)) + printed_global, n_latent=n_latent, hops=hops,
        relevant=relevant,
        failed={"undefined": undefined, "modulo_by_zero": modulo_by_zero & ~undefined,
                "too_large": too_large & ~modulo_by_zero & ~undefined},
    )


def _run_values(columns: Columns, names: Names, source: np.ndarray, from_table: np.ndarray, name_ref: np.ndarray):
    """(values (S, N), modulo by zero (N,), too large (N,), latent firings (N,)): every statement, in order."""
    kind, ref, op = columns.kind, columns.ref, columns.op
    S, T, N = kind.shape
    rows = np.arange(N)
    is_name = kind == NAME
    plan = plan_for(names.latent)
    rule = _rule_arrays(plan) if plan is not None else None
    values = np.zeros((S, N), dtype=np.int64)
    modulo_by_zero, too_large = np.zeros(N, dtype=bool), np.zeros(N, dtype=bool)
    n_latent = np.zeros(N, dtype=np.int64)
    for s in range(S):
        earlier = values[np.maximum(source[s], 0), rows]  # (T, N): the values those statements assigned
        val = np.where(kind[s] == CONST, ref[s],
                       np.where(from_table[s], names.global_value[name_ref[s]], earlier))
        for i in range((T - 1) // 2 - 1, -1, -1):  # inner slots, deepest first
            is_op = kind[s, i] == OP
            if not is_op.any():
                continue
            left, right = 2 * i + 1, 2 * i + 2
            fired = is_op & is_name[s, left] & is_name[s, right] if rule is not None else None
            result, zero, big, fired = _apply(op[s, i], val[left], val[right], fired,
                                              names.latent_type[name_ref[s, left]],
                                              names.latent_type[name_ref[s, right]], rule)
            val[i] = np.where(is_op, result, val[i])
            modulo_by_zero |= is_op & zero
            too_large |= is_op & big
            if fired is not None:
                n_latent += fired
        values[s] = val[0]
    return values, modulo_by_zero, too_large, n_latent


def _dependencies(source: np.ndarray, printed_source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hops (N,), relevant (S, N)): :func:`lolameme.lang.trace.dependencies` for every row at once."""
    S, T, N = source.shape
    rows = np.arange(N)
    printed_global = printed_source < 0
    # hops: 1 + the longest chain among the statements read; the backward slice of the print
    chain = np.zeros((S, N), dtype=np.int64)
    for s in range(S):
        reads = source[s] >= 0
        chain[s] = 1 + np.where(reads, chain[np.maximum(source[s], 0), rows], 0).max(axis=0)
    hops = np.where(printed_global, 0, _at(chain, printed_source, rows))
    relevant = np.zeros((S, N), dtype=bool)
    relevant[printed_source[~printed_global], rows[~printed_global]] = True
    slot_rows = np.broadcast_to(rows, (T, N))
    for s in range(S - 1, 0, -1):
        mark = relevant[s] & (source[s] >= 0)
        relevant[source[s][mark], slot_rows[mark]] = True
    return hops, relevant


def _at(per_statement: np.ndarray, statement: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``per_statement[statement[n], n]`` for every row (0 where statement is -1 or there are none)."""
    if not len(per_statement):
        return np.zeros(len(rows), dtype=per_statement.dtype)
    return np.where(statement >= 0, per_statement[np.maximum(statement, 0), rows], 0)


def _rule_arrays(plan: LatentPlan) -> tuple[np.ndarray, np.ndarray]:
    """The latent rule table (:attr:`LatentPlan.rule`) as arrays indexed [left type, right type]: whether a rule fires,
    and (left multiply, left divide, right multiply, right divide), the identity where none fires."""
    fires = np.array([[pair is not None for pair in row] for row in plan.rule])
    factors = np.array([[pair if pair is not None else (1, 1, 1, 1) for pair in row]
                        for row in plan.rule], dtype=np.int64)
    return fires, factors


def _apply(op, a, b, fired, ltype, rtype, rule):
    """One operator slot for all rows: (result, modulo by zero, too large, latent fired or None)."""
    big = np.zeros(len(a), dtype=bool)
    if fired is not None:
        fires, factors = rule
        fired &= fires[ltype, rtype]
        if fired.any():
            ml, dl, mr, dr = np.moveaxis(factors[ltype, rtype], -1, 0)
            big |= fired & ((np.abs(a.astype(np.float64) * ml) >= BOUND) | (np.abs(b.astype(np.float64) * mr) >= BOUND))
            a = np.where(fired & ~big, a * ml // dl, a)
            b = np.where(fired & ~big, b * mr // dr, b)
    zero = b == 0
    is_mul = op == MUL
    if is_mul.any():
        # products of factors below 2**31 cannot reach BOUND; check the others in floating point
        wide = is_mul & ((np.abs(a) >= 2 ** 31) | (np.abs(b) >= 2 ** 31))
        big |= wide & (np.abs(a.astype(np.float64) * b.astype(np.float64)) >= BOUND)
    result = np.zeros_like(a)
    safe_b = np.where(zero, 1, b)  # rows dividing by zero are flagged, not computed
    for code, name in enumerate(OPS):
        rows = (op == code) & ~big
        if rows.any():
            result = np.where(rows, OPERATORS[name](a, safe_b if name == "mod" else b), result)
    big |= np.abs(result) >= BOUND
    return result, zero & (op == MOD), big, fired


def check_columns(columns: Columns, names: Names) -> None:
    """Raise :class:`ParseError` unless ``columns`` hold well-formed programs over ``names``."""
    kind = columns.kind
    if kind.ndim != 3:
        raise ParseError(f"columns.kind must be (statements, slots, programs), got shape {kind.shape}")
    S, T, N = kind.shape
    if T < 1 or T & (T + 1):
        raise ParseError(f"columns have {T} node slots per statement; expected 2**h - 1")
    for key, shape in (("target", (S, N)), ("ref", (S, T, N)), ("op", (S, T, N)), ("printed", (N,))):
        got = getattr(columns, key).shape
        if got != shape:
            raise ParseError(f"columns.{key} has shape {got}; expected {shape}")
    if not np.isin(kind, (UNUSED, CONST, NAME, OP)).all():
        raise ParseError(f"columns.kind holds codes other than UNUSED={UNUSED}, CONST={CONST}, NAME={NAME}, OP={OP}")
    if S and (kind[:, 0] == UNUSED).any():
        raise ParseError("a statement has no expression (its root slot is UNUSED)")
    inner = (T - 1) // 2
    if (kind[:, inner:] == OP).any():
        raise ParseError("an OP node sits in the last level of slots, where it has no children")
    for i in range(inner):
        has_children = (kind[:, 2 * i + 1] != UNUSED) & (kind[:, 2 * i + 2] != UNUSED)
        no_children = (kind[:, 2 * i + 1] == UNUSED) & (kind[:, 2 * i + 2] == UNUSED)
        if (np.where(kind[:, i] == OP, ~has_children, ~no_children)).any():
            raise ParseError(f"slot {i}: an OP node needs two children and a leaf none")
    V = len(names.names)
    is_name, is_op = kind == NAME, kind == OP
    if ((columns.target < 0) | (columns.target >= V)).any() or ((columns.printed < 0) | (columns.printed >= V)).any():
        raise ParseError(f"a target or printed id is outside the {V} names")
    if (is_name & ((columns.ref < 0) | (columns.ref >= V))).any():
        raise ParseError(f"a NAME slot refers to an id outside the {V} names")
    if ((kind == CONST) & ((columns.ref < 0) | (columns.ref >= BOUND))).any():
        raise ParseError("a literal is negative or not below 2**62")
    if (is_op & ((columns.op < 0) | (columns.op >= len(OPS)))).any():
        raise ParseError(f"an OP slot has an operator index outside 0..{len(OPS) - 1}")


def to_columns(programs: Sequence[Program], names: Names) -> Columns:
    """Parsed (or hand-built) programs in columnar form; every name must be in ``names``.

    All programs must have the same number of statements (the batch's S); the
    slot count fits the deepest expression.
    """
    counts = {len(p.statements) for p in programs}
    if len(counts) > 1:
        raise ParseError(f"to_columns needs programs with one statement count, got {sorted(counts)}")
    S, N = (counts.pop() if counts else 0), len(programs)
    height = max([_height(a.value) for p in programs for a in p.statements], default=1)
    T = 2 ** height - 1
    ids = names.ids
    target = np.zeros((S, N), dtype=np.int64)
    kind = np.zeros((S, T, N), dtype=np.int8)
    ref = np.zeros((S, T, N), dtype=np.int64)
    op = np.zeros((S, T, N), dtype=np.int8)
    printed = np.zeros(N, dtype=np.int64)

    def place(expr: Expr, s: int, slot: int, n: int) -> None:
        if type(expr) is BinOp:
            kind[s, slot, n], op[s, slot, n] = OP, OPS.index(expr.op)
            place(expr.left, s, 2 * slot + 1, n)
            place(expr.right, s, 2 * slot + 2, n)
        elif type(expr) is Num:
            if expr.value >= BOUND:
                raise ParseError(f"literal {expr.value} is not below 2**62, the columnar range")
            kind[s, slot, n], ref[s, slot, n] = CONST, expr.value
        else:
            kind[s, slot, n], ref[s, slot, n] = NAME, _id(ids, expr.name)

    for n, program in enumerate(programs):
        for s, statement in enumerate(program.statements):
            target[s, n] = _id(ids, statement.target)
            place(statement.value, s, 0, n)
        printed[n] = _id(ids, program.printed)
    return Columns(target, kind, ref, op, printed)


def names_of(programs: Sequence[Program]) -> list[str]:
    """Every name the programs mention, in order of first appearance (for :meth:`Names.build`)."""
    seen: dict[str, None] = {}

    def visit(expr: Expr) -> None:
        if type(expr) is BinOp:
            visit(expr.left)
            visit(expr.right)
        elif type(expr) is Var:
            seen.setdefault(expr.name)

    for program in programs:
        for statement in program.statements:
            seen.setdefault(statement.target)
            visit(statement.value)
        seen.setdefault(program.printed)
    return list(seen)


def _height(expr: Expr) -> int:
    return 1 + max(_height(expr.left), _height(expr.right)) if type(expr) is BinOp else 1


def _id(ids: dict[str, int], name: str) -> int:
    try:
        return ids[name]
    except KeyError:
        raise EvalError(f"name {name!r} is not in the batch's Names table") from None
