"""Random programs, drawn a whole chunk at a time with numpy, labelled by the interpreter.

A chunk is N programs of S statements. Each statement's right-hand side is a
binary tree stored in a fixed array of T = 2**max_depth - 1 node slots (node
i has children 2i+1 and 2i+2), so every choice (tree shape, operand kinds,
constants, variables, operators, dialect coins) is one numpy draw for all N
programs at once. Nothing here loops over programs in Python: that is what
makes the generator fast (docs/generator.md, "Speed").

This module only *draws*. Labels and annotations (values, global reads, latent
firings, hops, the backward slice) come from the project's interpreter, run on
the whole chunk by its columnar path (:mod:`lolameme.lang.columnar`, whose
property tests hold it to ``run_program`` and ``trace``). Generation also
re-runs a sample of every chunk's rendered *text* through ``lolameme.lang.trace``
(every record with ``verify: all``), which checks the rendering as well.

Depth convention (paper appendix B, see docs/generator.md): depth 1 is a bare
operand, depth 2 one operator, depth d an operator whose deeper operand has
depth d-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from lolameme.data.generator.config import GeneratorConfig
from lolameme.data.generator.names import Vocabulary
from lolameme.lang import columnar
from lolameme.lang.columnar import CONST, OP, UNUSED, ColumnarRun, Columns, Names, run_columns

# node kinds: the interpreter's, with NAME split into a local and a global read (the generator's annotations)
LOCAL, GLOBAL = columnar.NAME, 3

GlobalsMode = Literal["train", "required", "none"]
Style = Literal["lola", "meme", "alternate", "mixed"]


@dataclass(frozen=True)
class SplitRule:
    """How one split's programs are drawn.

    ``globals``: "train" reads globals and may assign them their fixed value;
    "required" reads at least one global and assigns none; "none" never
    mentions one. ``style``: one dialect, "alternate" (LoLa and MeMe on
    alternate rows: whole programs in one dialect) or "mixed" (every
    operator, bracket pair and name occurrence draws its dialect).
    """

    globals: GlobalsMode
    style: Style


@dataclass(frozen=True)
class Spec:
    """The config and vocabulary as flat arrays: everything a chunk needs."""

    n_statements: int
    min_depth: int
    max_depth: int
    n_locals: int
    n_globals: int
    min_int: int
    max_int: int
    op_codes: np.ndarray        # operator indices in use (into lang's OPS)
    p_const: float
    p_local: float
    p_global_assign: float
    global_values: np.ndarray   # (G,) int64
    name_has_capital: np.ndarray  # (L+G,) bool: camel and snake spellings differ
    names: Names                # the interpreter's id table (globals, latent rules): id = unified variable id

    @property
    def n_nodes(self) -> int:
        return 2 ** self.max_depth - 1

    @classmethod
    def build(cls, config: GeneratorConfig, vocab: Vocabulary) -> Spec:
        return cls(
            n_statements=config.statement_count, min_depth=config.expression_min_depth,
            max_depth=config.expression_max_depth, n_locals=vocab.n_locals, n_globals=vocab.n_globals,
            min_int=config.min_int_value, max_int=config.max_int_value,
            op_codes=np.array(config.op_codes, dtype=np.int8),
            p_const=config.constant_probability, p_local=config.local_read_probability,
            p_global_assign=config.global_assign_probability,
            global_values=np.array(vocab.global_values, dtype=np.int64),
            name_has_capital=np.array([not name.islower() for name in vocab.names], dtype=bool),
            names=Names.build(vocab.names, vocab.globals_table(), config.latent_rules),
        )


class GlobalBag:
    """Global ids in a shuffle-bag order: every global once per random permutation.

    Drawing globals this way, instead of independently, spreads appearances
    evenly over the globals, which is how the generator steers towards
    GLOBAL_VARIABLES_NUM_APPEARANCE: the least-used global trails the mean by
    at most one appearance per chunk.
    """

    def __init__(self, n_globals: int, rng: np.random.Generator):
        self.n = n_globals
        self.rng = rng
        self.buffer = np.empty(0, dtype=np.int64)
        self.position = 0

    def take(self, count: int) -> np.ndarray:
        while self.position + count > len(self.buffer):
            rest = self.buffer[self.position:]
            rounds = max(1, -(-(count - len(rest)) // self.n))
            fresh = [self.rng.permutation(self.n) for _ in range(rounds)]
            self.buffer = np.concatenate([rest, *fresh])
            self.position = 0
        out = self.buffer[self.position:self.position + count]
        self.position += count
        return out


@dataclass
class Programs:
    """A chunk of programs as arrays, statement- and node-major so each (s, i) slice is contiguous.

    N programs, S statements, T node slots per statement.
    """

    target: np.ndarray        # (S, N) unified variable id: local i, or n_locals + global g
    depth: np.ndarray         # (S, N) expression depth (1 = bare operand)
    kind: np.ndarray          # (S, T, N) UNUSED / CONST / LOCAL / GLOBAL / OP
    ref: np.ndarray           # (S, T, N) constant value or unified variable id
    op: np.ndarray            # (S, T, N) operator index (into lang's OPS)
    printed: np.ndarray       # (N,) unified id of the printed variable
    output: np.ndarray        # (N,) the printed value
    # dialect coins, 0 = LoLa, 1 = MeMe
    target_style: np.ndarray  # (S, N)
    node_style: np.ndarray    # (S, T, N): the name's spelling, or the operator's dialect
    bracket_style: np.ndarray  # (S, T, N)
    print_style: np.ndarray   # (2, N): the printed name's spelling, print's brackets
    row_language: np.ndarray  # (N,) 0 LoLa, 1 MeMe, 2 mixed
    annotations: dict[str, np.ndarray]
    rejected: dict[str, np.ndarray]  # reason -> (N,) bool

    @property
    def n(self) -> int:
        return len(self.output)


def draw_programs(spec: Spec, rule: SplitRule, n: int, rng: np.random.Generator) -> Programs:
    """Draw ``n`` programs for ``rule`` and label them; some rows may come back rejected."""
    draw = _Drawing(spec, rule, n, rng)
    for s in range(spec.n_statements):
        draw.statement(s)
    return draw.finish()


class _Drawing:
    """The state of one chunk while its statements are drawn one at a time (for all rows)."""

    def __init__(self, spec: Spec, rule: SplitRule, n: int, rng: np.random.Generator):
        S, T, L = spec.n_statements, spec.n_nodes, spec.n_locals
        self.spec, self.rule, self.n, self.rng = spec, rule, n, rng
        self.rows = np.arange(n)
        self.bag = GlobalBag(spec.n_globals, rng) if spec.n_globals else None
        self.readable = rule.globals != "none" and spec.n_globals > 0
        self.may_assign = rule.globals == "train" and spec.n_globals > 0 and spec.p_global_assign > 0
        self.inner_slots = (T - 1) // 2
        # the programs
        self.target = np.empty((S, n), dtype=np.int64)
        self.depth = np.empty((S, n), dtype=np.int64)
        self.kind = np.zeros((S, T, n), dtype=np.int8)
        self.ref = np.zeros((S, T, n), dtype=np.int64)
        self.op = spec.op_codes[rng.integers(0, len(spec.op_codes), size=(S, T, n))]
        # the locals each row may read: those assigned so far, in order of first assignment
        self.is_assigned = np.zeros((n, L), dtype=bool)
        self.assigned_list = np.zeros((n, L), dtype=np.int64)
        self.n_assigned = np.zeros(n, dtype=np.int64)

    def statement(self, s: int) -> None:
        # one block of uniforms per statement: target (2), depth (1), shape (2 per inner slot), leaves (3 per slot)
        u = self.rng.random((3 + 2 * self.inner_slots + 3 * self.spec.n_nodes, self.n))
        assign_global = self._target(s, u)
        req = self._shape(s, u, assign_global)
        self._operands(s, u, req, assign_global)
        self._assigned(s)

    def _target(self, s: int, u: np.ndarray) -> np.ndarray:
        """A local, or (training) a global assigned its fixed value; returns the global-assignment mask."""
        L = self.spec.n_locals
        target = (u[0] * L).astype(np.int64)
        assign_global = np.zeros(self.n, dtype=bool)
        if self.may_assign:
            assign_global = u[1] < self.spec.p_global_assign
            target[assign_global] = L + self.bag.take(int(np.count_nonzero(assign_global)))
        self.target[s] = target
        return assign_global

    def _shape(self, s: int, u: np.ndarray, assign_global: np.ndarray) -> np.ndarray:
        """The depth each node slot must have (0 = slot unused), drawn top-down."""
        spec = self.spec
        req = np.zeros((spec.n_nodes, self.n), dtype=np.int64)
        req[0] = spec.min_depth + (u[2] * (spec.max_depth - spec.min_depth + 1)).astype(np.int64)
        req[0][assign_global] = 1
        self.depth[s] = req[0]
        for i in range(self.inner_slots):
            r = req[i]
            inner = r >= 2
            deep_left = u[3 + 2 * i] < 0.5
            other = 1 + (u[4 + 2 * i] * (r - 1)).astype(np.int64)  # uniform in [1, r-1]
            req[2 * i + 1] = np.where(inner, np.where(deep_left, r - 1, other), 0)
            req[2 * i + 2] = np.where(inner, np.where(deep_left, other, r - 1), 0)
        return req

    def _operands(self, s: int, u: np.ndarray, req: np.ndarray, assign_global: np.ndarray) -> None:
        """Leaves: a literal, a local assigned earlier (uniform over those), or a global.

        All node slots at once; flat indices run node by node, row by row, which
        is also the order globals are taken from the bag.
        """
        spec, L, n = self.spec, self.spec.n_locals, self.n
        k, refs = self.kind[s], self.ref[s]
        base = 3 + 2 * self.inner_slots
        u_kind, u_const, u_local = u[base::3], u[base + 1::3], u[base + 2::3]
        leaf = req == 1
        k[:] = np.where(req >= 2, OP, np.where(leaf, CONST, UNUSED))
        p_local_end = spec.p_const + spec.p_local
        local = leaf & (u_kind >= spec.p_const) & (u_kind < p_local_end) & (self.n_assigned > 0)
        glob = leaf & (u_kind >= p_local_end) if self.readable else np.zeros_like(leaf)
        local[0] &= ~assign_global  # a global's assignment is its fixed value
        glob[0] &= ~assign_global
        refs[:] = spec.min_int + (u_const * (spec.max_int - spec.min_int + 1)).astype(np.int64)
        if self.may_assign:
            refs[0][assign_global] = spec.global_values[self.target[s][assign_global] - L]
        flat_k, flat_refs = k.reshape(-1), refs.reshape(-1)
        at = np.flatnonzero(local)
        if len(at):
            rows = at % n
            pick = (u_local.reshape(-1)[at] * self.n_assigned[rows]).astype(np.int64)
            flat_refs[at], flat_k[at] = self.assigned_list[rows, pick], LOCAL
        at = np.flatnonzero(glob)
        if len(at):
            flat_refs[at], flat_k[at] = L + self.bag.take(len(at)), GLOBAL

    def _assigned(self, s: int) -> None:
        """Record the locals statement ``s`` assigns for the first time: later statements may read them."""
        local = self.target[s] < self.spec.n_locals
        rows, ids = self.rows[local], self.target[s][local]
        first = ~self.is_assigned[rows, ids]
        rows, ids = rows[first], ids[first]
        self.is_assigned[rows, ids] = True
        self.assigned_list[rows, self.n_assigned[rows]] = ids
        self.n_assigned[rows] += 1

    def finish(self) -> Programs:
        """The print statement, dialect coins, then the interpreter's labels, annotations and rejections."""
        spec, rule, n, rows = self.spec, self.rule, self.n, self.rows
        S, L = spec.n_statements, spec.n_locals
        # print the target of a random statement assigning a local (as in all of appendix B's
        # samples; a global only when no statement assigns a local); its value is the last assignment's
        local_statement = self.target < L
        n_local = local_statement.sum(axis=0)
        pick = (self.rng.random(n) * np.where(n_local > 0, n_local, S)).astype(np.int64)
        chosen = np.where(n_local > 0, (np.cumsum(local_statement, axis=0) <= pick).sum(axis=0), pick)
        printed = self.target[chosen, rows]
        run = self.run(printed)
        if run.failed["undefined"].any():  # the drawing reads only assigned locals and known globals
            raise AssertionError("generator bug: a drawn program reads an undefined name")
        n_relevant = run.relevant.sum(axis=0)

        styles = _draw_styles(spec, rule, n, self.rng)
        row_language = styles.pop("row_language")
        rejected = {"modulo_by_zero": run.failed["modulo_by_zero"], "value_too_large": run.failed["too_large"]}
        if rule.globals == "required":
            rejected["no_global_read"] = run.n_global_reads == 0
        if rule.style == "mixed":
            rejected["not_mixed"] = ~_really_mixed(spec, self.kind, self.ref, self.target, printed, styles)
        annotations = {
            "n_statements": np.full(n, S, dtype=np.int32),
            "max_depth": self.depth.max(axis=0).astype(np.int32),
            "n_global_reads": run.n_global_reads.astype(np.int32),
            "uses_globals": run.n_global_reads > 0,
            "n_latent": run.n_latent.astype(np.int32),
            "n_relevant": n_relevant.astype(np.int32),
            "n_noise": (S - n_relevant).astype(np.int32),
            "hops": run.hops.astype(np.int32),
        }
        return Programs(target=self.target, depth=self.depth, kind=self.kind, ref=self.ref, op=self.op,
                        printed=printed, output=run.output, row_language=row_language,
                        annotations=annotations, rejected=rejected, **styles)

    def run(self, printed: np.ndarray) -> ColumnarRun:
        """Label the chunk with the interpreter (one read kind, NAME, for locals and globals alike)."""
        kind = np.where(self.kind == GLOBAL, LOCAL, self.kind).astype(np.int8)
        return run_columns(Columns(self.target, kind, self.ref, self.op, printed), self.spec.names)


def _draw_styles(spec: Spec, rule: SplitRule, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    S, T = spec.n_statements, spec.n_nodes
    if rule.style == "mixed":
        coins = rng.integers(0, 2, size=(S * (1 + 2 * T) + 2, n), dtype=np.int8)
        return {
            "target_style": coins[:S],
            "node_style": coins[S:S + S * T].reshape(S, T, n),
            "bracket_style": coins[S + S * T:S + 2 * S * T].reshape(S, T, n),
            "print_style": coins[-2:],
            "row_language": np.full(n, 2, dtype=np.int8),
        }
    if rule.style == "alternate":
        row = (np.arange(n) % 2).astype(np.int8)
    else:
        row = np.full(n, 0 if rule.style == "lola" else 1, dtype=np.int8)
    return {
        "target_style": np.broadcast_to(row, (S, n)),
        "node_style": np.broadcast_to(row, (S, T, n)),
        "bracket_style": np.broadcast_to(row, (S, T, n)),
        "print_style": np.broadcast_to(row, (2, n)),
        "row_language": row,
    }


def _really_mixed(spec: Spec, kind, ref, target, printed, styles) -> np.ndarray:
    """Rows whose text shows both a LoLa-only and a MeMe-only token.

    Operators and brackets always differ between the dialects; a name only
    when it has a capital (``lsok`` is both camelCase and snake_case).
    """
    is_name = (kind == LOCAL) | (kind == GLOBAL)
    name_visible = is_name & spec.name_has_capital[np.where(is_name, ref, 0)]
    is_op = kind == OP
    target_visible = spec.name_has_capital[target]
    seen = []
    for coin in (0, 1):
        seen.append(
            ((is_op | name_visible) & (styles["node_style"] == coin)).any(axis=(0, 1))
            | (is_op & (styles["bracket_style"] == coin)).any(axis=(0, 1))
            | (target_visible & (styles["target_style"] == coin)).any(axis=0)
            | (spec.name_has_capital[printed] & (styles["print_style"][0] == coin))
            | (styles["print_style"][1] == coin)
        )
    return seen[0] & seen[1]
