"""Random programs, drawn and executed a whole chunk at a time with numpy.

A chunk is N programs of S statements. Each statement's right-hand side is a
binary tree stored in a fixed array of T = 2**max_depth - 1 node slots (node
i has children 2i+1 and 2i+2), so every choice (tree shape, operand kinds,
constants, variables, operators, dialect coins) is one numpy draw for all N
programs at once, and values, dependencies and annotations are computed the
same way. Nothing here loops over programs in Python: that is what makes the
generator fast (docs/generator.md, "Speed").

Semantics follow docs/language.md exactly (floor modulo, latent rules on
name-name operands); the labels computed here are *checked against the
project's interpreter* (``lolameme.lang``) for a sample of every chunk while
generating (all of them with ``verify: all``), and the tests check every
record of their corpora with ``lolameme.evaluate``.

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
from lolameme.lang.latent import _parse_modification

# node kinds
UNUSED, CONST, LOCAL, GLOBAL, OP = 0, 1, 2, 3, 4
MOD = 3          # index of "mod" in lang's OPS (add, sub, mul, mod)
BOUND = 2 ** 62  # |every intermediate value| stays below this, so int64 never wraps

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
    name_types: np.ndarray      # (L+G,) int8: latent type 0=A, 1=B, 2=C
    name_has_capital: np.ndarray  # (L+G,) bool: camel and snake spellings differ
    modify_left: tuple[int, int]  # (multiply, divide) of modification_a
    modify_right: tuple[tuple[int, int], tuple[int, int]]  # for B and C
    fires: tuple[bool, bool]    # does an A-op-B / A-op-C pair change anything

    @property
    def n_nodes(self) -> int:
        return 2 ** self.max_depth - 1

    @classmethod
    def build(cls, config: GeneratorConfig, vocab: Vocabulary) -> Spec:
        rules = config.latent_rules
        left = _parse_modification(rules.modification_a, "modification_a")
        right = tuple(_parse_modification(m, f"modification_{t}")
                      for t, m in (("b", rules.modification_b), ("c", rules.modification_c)))
        identity = (1, 1)
        fires = tuple(not (tuple(left) == identity and tuple(r) == identity) for r in right)
        return cls(
            n_statements=config.statement_count, min_depth=config.expression_min_depth,
            max_depth=config.expression_max_depth, n_locals=vocab.n_locals, n_globals=vocab.n_globals,
            min_int=config.min_int_value, max_int=config.max_int_value,
            op_codes=np.array(config.op_codes, dtype=np.int8),
            p_const=config.constant_probability, p_local=config.local_read_probability,
            p_global_assign=config.global_assign_probability,
            global_values=np.array(vocab.global_values, dtype=np.int64),
            name_types=vocab.latent_types(rules.boundary_a, rules.boundary_b),
            name_has_capital=np.array([not name.islower() for name in vocab.names], dtype=bool),
            modify_left=tuple(left), modify_right=tuple(tuple(r) for r in right), fires=fires,
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
    """Draw ``n`` programs for ``rule`` and run them; some rows may come back rejected."""
    draw = _Drawing(spec, rule, n, rng)
    for s in range(spec.n_statements):
        draw.statement(s)
    return draw.finish()


class _Drawing:
    """The state of one chunk while its statements are drawn and run one at a time (for all rows)."""

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
        # their execution
        self.dep = np.full((S, T, n), -1, dtype=np.int64)  # statement that last assigned the variable a leaf reads
        self.value = np.empty((S, n), dtype=np.int64)
        self.hops = np.empty((S, n), dtype=np.int64)
        self.env = np.zeros((n, L), dtype=np.int64)           # current value of each local
        self.local_def = np.full((n, L), -1, dtype=np.int64)  # statement that last assigned each local
        self.assigned_list = np.zeros((n, L), dtype=np.int64)  # locals assigned so far, by first assignment
        self.n_assigned = np.zeros(n, dtype=np.int64)
        self.global_assigned = np.zeros(S, dtype=bool)      # does any row assign a global in statement s
        self.bad_mod = np.zeros(n, dtype=bool)
        self.overflow = np.zeros(n, dtype=bool)
        self.n_latent = np.zeros(n, dtype=np.int64)
        self.n_global_reads = np.zeros(n, dtype=np.int64)

    def statement(self, s: int) -> None:
        # one block of uniforms per statement: target (2), depth (1), shape (2 per inner slot), leaves (3 per slot)
        u = self.rng.random((3 + 2 * self.inner_slots + 3 * self.spec.n_nodes, self.n))
        assign_global = self._target(s, u)
        req = self._shape(s, u, assign_global)
        leaf_values = self._operands(s, u, req, assign_global)
        self._dependencies(s)
        self._run(s, leaf_values)
        self.global_assigned[s] = bool(assign_global.any())

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

    def _operands(self, s: int, u: np.ndarray, req: np.ndarray, assign_global: np.ndarray) -> np.ndarray:
        """Leaves: a literal, a local assigned earlier (uniform over those), or a global; returns their values.

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
        values = refs.copy()
        flat_k, flat_refs, flat_values = k.reshape(-1), refs.reshape(-1), values.reshape(-1)
        at = np.flatnonzero(local)
        if len(at):
            rows = at % n
            pick = (u_local.reshape(-1)[at] * self.n_assigned[rows]).astype(np.int64)
            chosen = self.assigned_list[rows, pick]
            flat_refs[at], flat_values[at], flat_k[at] = chosen, self.env[rows, chosen], LOCAL
        at = np.flatnonzero(glob)
        if len(at):
            chosen = self.bag.take(len(at))
            flat_refs[at], flat_values[at], flat_k[at] = L + chosen, spec.global_values[chosen], GLOBAL
        return values

    def _dependencies(self, s: int) -> None:
        """Which statement each read depends on, global-table reads, and the chain length (hops)."""
        k, refs, d = self.kind[s], self.ref[s], self.dep[s]
        is_global = k == GLOBAL
        at = np.flatnonzero(k == LOCAL)
        if len(at):
            d.reshape(-1)[at] = self.local_def[at % self.n, refs.reshape(-1)[at]]
        if is_global.any():
            for earlier in np.flatnonzero(self.global_assigned[:s]):  # globals assigned earlier (training)
                d[is_global & (refs == self.target[earlier])] = earlier
            self.n_global_reads += (is_global & (d < 0)).sum(axis=0)  # answered by the global table
        chain = np.where(d >= 0, self.hops[np.maximum(d, 0), self.rows], 0).max(axis=0)
        self.hops[s] = 1 + chain

    def _run(self, s: int, val: np.ndarray) -> None:
        """Evaluate the statement bottom-up (``val`` holds the leaves' values) and assign its target."""
        spec, L, rows = self.spec, self.spec.n_locals, self.rows
        k, refs, ops = self.kind[s], self.ref[s], self.op[s]
        for i in range(self.inner_slots - 1, -1, -1):
            is_op = k[i] == OP
            if not is_op.any():
                continue
            left, right = 2 * i + 1, 2 * i + 2
            result, fired, zero, big = _apply(spec, ops[i], k[left], refs[left], val[left],
                                              k[right], refs[right], val[right])
            val[i] = np.where(is_op, result, val[i])
            self.n_latent += is_op & fired
            self.bad_mod |= is_op & zero
            self.overflow |= is_op & big
        self.value[s] = val[0]
        local = self.target[s] < L
        lt_rows, lt_ids = rows[local], self.target[s][local]
        self.env[lt_rows, lt_ids] = val[0][local]
        first = self.local_def[lt_rows, lt_ids] < 0
        self.assigned_list[lt_rows[first], self.n_assigned[lt_rows[first]]] = lt_ids[first]
        self.n_assigned[lt_rows[first]] += 1
        self.local_def[lt_rows, lt_ids] = s

    def finish(self) -> Programs:
        """The print statement, the backward slice, dialect coins, rejections and annotations."""
        spec, rule, n, rows = self.spec, self.rule, self.n, self.rows
        S, L = spec.n_statements, spec.n_locals
        # print the target of a random statement assigning a local (as in all of appendix B's
        # samples; a global only when no statement assigns a local); its value is the last assignment's
        local_statement = self.target < L
        n_local = local_statement.sum(axis=0)
        pick = (self.rng.random(n) * np.where(n_local > 0, n_local, S)).astype(np.int64)
        chosen = np.where(n_local > 0, (np.cumsum(local_statement, axis=0) <= pick).sum(axis=0), pick)
        printed = self.target[chosen, rows]
        last_def = chosen.copy()
        for s in range(S):
            last_def[self.target[s] == printed] = s

        # backward slice: the statements the printed value depends on
        needed = np.zeros((S, n), dtype=bool)
        needed[last_def, rows] = True
        for s in range(S - 1, -1, -1):
            for i in range(spec.n_nodes):
                d = self.dep[s, i]
                mark = needed[s] & (d >= 0)
                needed[d[mark], rows[mark]] = True
        n_relevant = needed.sum(axis=0)

        styles = _draw_styles(spec, rule, n, self.rng)
        row_language = styles.pop("row_language")
        rejected = {"modulo_by_zero": self.bad_mod, "value_too_large": self.overflow & ~self.bad_mod}
        if rule.globals == "required":
            rejected["no_global_read"] = self.n_global_reads == 0
        if rule.style == "mixed":
            rejected["not_mixed"] = ~_really_mixed(spec, self.kind, self.ref, self.target, printed, styles)
        annotations = {
            "n_statements": np.full(n, S, dtype=np.int32),
            "max_depth": self.depth.max(axis=0).astype(np.int32),
            "n_global_reads": self.n_global_reads.astype(np.int32),
            "uses_globals": self.n_global_reads > 0,
            "n_latent": self.n_latent.astype(np.int32),
            "n_relevant": n_relevant.astype(np.int32),
            "n_noise": (S - n_relevant).astype(np.int32),
            "hops": self.hops[last_def, rows].astype(np.int32),
        }
        return Programs(target=self.target, depth=self.depth, kind=self.kind, ref=self.ref, op=self.op,
                        printed=printed, output=self.value[last_def, rows], row_language=row_language,
                        annotations=annotations, rejected=rejected, **styles)


def _apply(spec: Spec, ops, lkind, lref, a, rkind, rref, b):
    """One operator for all rows: (result, latent fired, modulo by zero, too large)."""
    lname = (lkind == LOCAL) | (lkind == GLOBAL)
    rname = (rkind == LOCAL) | (rkind == GLOBAL)
    fired = lname & rname
    if fired.any() and any(spec.fires):
        ltype = spec.name_types[np.where(lname, lref, 0)]
        rtype = spec.name_types[np.where(rname, rref, 0)]
        fired &= (ltype == 0) & (rtype != 0) & np.where(rtype == 1, spec.fires[0], spec.fires[1])
    else:
        fired[:] = False
    big = np.zeros(len(a), dtype=bool)
    if fired.any():
        (ml, dl), ((mb, db), (mc, dc)) = spec.modify_left, spec.modify_right
        mr = np.where(rtype == 1, mb, mc)
        dr = np.where(rtype == 1, db, dc)
        big |= fired & ((np.abs(a.astype(np.float64) * ml) >= BOUND) | (np.abs(b.astype(np.float64) * mr) >= BOUND))
        a = np.where(fired, a * ml // dl, a)
        b = np.where(fired, b * mr // dr, b)
    zero = b == 0
    result = np.where(ops == 0, a + b, np.where(ops == 1, a - b, a * b))
    is_mod = ops == MOD
    if is_mod.any():
        result[is_mod] = np.remainder(a[is_mod], np.where(zero[is_mod], 1, b[is_mod]))
    # products of operands below 2**31 cannot reach BOUND; check the others in floating point
    large = (ops == 2) & ((np.abs(a) >= 2 ** 31) | (np.abs(b) >= 2 ** 31))
    if large.any():
        big |= large & (np.abs(a.astype(np.float64) * b.astype(np.float64)) >= BOUND)
    big |= np.abs(result) >= BOUND
    return result, fired, zero & is_mod, big


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
