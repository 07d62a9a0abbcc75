"""Vectorised ListOps sampling: one chunk of LRA draws at a time, in numpy.

LRA draws a tree depth-first with Python's ``random`` and keeps it only when
``min_length < length < max_length`` (about 8.3% of draws at LRA's lengths),
so a straightforward generator spends most of its time building trees it
throws away. Here a *chunk* of ``CHUNK_DRAWS`` independent draws grows
breadth-first, all trees at once, one depth level per step:

* every frontier node draws list-or-digit, arity, operator and digit in bulk;
* each tree's length is counted as it grows; every pending frontier node will
  add at least 1, so a tree is abandoned the moment ``length + pending``
  reaches ``max_length`` and its later levels are never drawn;
* the surviving trees that end inside the bounds are labelled bottom-up and
  written out as text in a few array operations per level.

Each node is still an independent LRA draw (list with probability 0.25 below
``max_depth``, arity uniform in 2..max_args, operator and digit uniform), so
the distribution of accepted trees is LRA's; only the order in which random
numbers are consumed differs. Chunk ``k`` uses its own generator seeded by
``(seed, k)`` and its consumption depends on nothing else, so any number of
workers produce exactly the same chunks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from lolameme.data.listops.rules import CLOSE_TOKEN, DIGITS, LIST_PROBABILITY, OPEN_TOKENS, OPERATORS

#: Draws per chunk: part of the definition of a seed's dataset (recorded in the manifest).
CHUNK_DRAWS = 16_384

# Token codes: 0-9 digits, 10-13 operators (rules.OPERATORS order), 14 the closing bracket.
# _reduce_runs computes the operators in this order.
assert OPERATORS == ("MIN", "MAX", "MED", "SM"), "update _reduce_runs to the new operator set"
_OP_BASE = 10
_CLOSE = _OP_BASE + len(OPEN_TOKENS)
# Rendering writes one ASCII byte per token (the digit, a placeholder letter per operator, "]"),
# interleaved with spaces, then widens each placeholder into its operator token with
# bytes.replace: a few fast C passes over the chunk instead of per-token work.
_PLACEHOLDERS = tuple(bytes([ord("a") + i]) for i in range(len(OPEN_TOKENS)))
_CODE_BYTE = np.frombuffer("".join(DIGITS).encode("ascii") + b"".join(_PLACEHOLDERS) + CLOSE_TOKEN.encode("ascii"),
                           dtype=np.uint8)


@dataclass(frozen=True)
class SamplerParams:
    """The part of the config that shapes trees (plain ints: cheap to send to workers)."""

    seed: int
    max_depth: int
    max_args: int
    min_length: int
    max_length: int


@dataclass
class Chunk:
    """The accepted trees of one chunk, in draw order."""

    index: int
    draws: int
    inputs: list[str]
    labels: np.ndarray  # int8 digits
    depth: np.ndarray  # deepest operator nesting
    n_ops: np.ndarray
    lra_length: np.ndarray
    digests: list[bytes]  # 16-byte blake2b of each input, for deduplication


@dataclass
class _Level:
    """The nodes of one depth level, trees in draw order, each parent's children contiguous."""

    tree: np.ndarray  # draw index of the node's tree
    code: np.ndarray  # token code: digit 0-9 or operator 10-13
    arity: np.ndarray  # number of children (0 for a digit)

    def select(self, keep: np.ndarray) -> _Level:
        mask = keep[self.tree]
        return _Level(self.tree[mask], self.code[mask], self.arity[mask])


def chunk_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def sample_chunk(params: SamplerParams, index: int, draws: int = CHUNK_DRAWS) -> Chunk:
    """Draw ``draws`` LRA trees for chunk ``index`` and return the accepted ones, labelled."""
    rng = chunk_rng(params.seed, index)
    levels, tally, accepted = _grow(rng, params, draws)
    kept = np.flatnonzero(accepted)
    levels = [level.select(accepted) for level in levels]
    renumber = (np.cumsum(accepted) - 1).astype(np.int32)  # draw index -> index among accepted trees
    for level in levels:
        level.tree = renumber[level.tree]
    labels, sizes = _label(levels)
    inputs = _render(levels, sizes)
    return Chunk(
        index=index,
        draws=draws,
        inputs=inputs,
        labels=labels.astype(np.int8),
        depth=tally.depth[kept],
        n_ops=tally.n_ops[kept],
        lra_length=tally.length[kept],
        digests=[hashlib.blake2b(text.encode("ascii"), digest_size=16).digest() for text in inputs],
    )


@dataclass
class _Tally:
    """Per-draw counts kept while growing."""

    length: np.ndarray  # LRA length so far
    n_ops: np.ndarray
    depth: np.ndarray  # deepest level holding an operator (0: a bare digit)


def _grow(rng: np.random.Generator, params: SamplerParams, draws: int) -> tuple[list[_Level], _Tally, np.ndarray]:
    """Grow ``draws`` trees level by level, abandoning each as soon as it cannot fit."""
    tree = np.arange(draws, dtype=np.int32)  # the frontier: roots first
    tally = _Tally(*(np.zeros(draws, dtype=np.int32) for _ in range(3)))
    alive = np.ones(draws, dtype=bool)
    frontier = np.ones(draws, dtype=np.int64)  # frontier nodes per tree
    levels: list[_Level] = []
    for depth in range(1, params.max_depth + 1):
        if tree.size == 0:
            break
        n = tree.size
        if depth < params.max_depth:
            lists_at = np.flatnonzero(rng.random(n) < LIST_PROBABILITY)
        else:
            lists_at = np.empty(0, dtype=np.int64)
        list_arity = rng.integers(2, params.max_args + 1, size=lists_at.size, dtype=np.int32)
        list_op = rng.integers(0, len(OPEN_TOKENS), size=lists_at.size, dtype=np.int32)
        code = rng.integers(0, 10, size=n, dtype=np.int32)  # a digit for every node; lists overwrite theirs
        code[lists_at] = _OP_BASE + list_op
        arity = np.zeros(n, dtype=np.int32)
        arity[lists_at] = list_arity
        levels.append(_Level(tree, code, arity))
        list_tree = tree[lists_at]
        lists = np.bincount(list_tree, minlength=draws)
        tally.n_ops += lists
        tally.length += frontier + lists  # 1 per node, +1 more per list
        tally.depth[lists > 0] = depth
        children = np.repeat(list_tree, list_arity)
        pending = np.bincount(children, minlength=draws)  # each will add at least 1
        alive &= tally.length + pending < params.max_length
        frontier = pending * alive
        tree = children[alive[children]]
    accepted = alive & (tally.length > params.min_length)  # alive already implies length < max_length
    return levels, tally, accepted


def _label(levels: list[_Level]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Value and subtree size (LRA length) of every node, computed bottom-up.

    The children of a level's lists are consecutive runs of the next level, in
    order, so each operator is one segmented numpy reduction.
    """
    values: np.ndarray | None = None
    sizes: list[np.ndarray] = [np.empty(0, np.int64)] * len(levels)
    child_sizes: np.ndarray | None = None
    for d in range(len(levels) - 1, -1, -1):
        level = levels[d]
        is_list = level.arity > 0
        value = level.code.copy()  # digits are their own value
        size = np.ones(level.code.size, dtype=np.int32)
        if is_list.any():
            arity = level.arity[is_list]
            starts = np.concatenate(([0], np.cumsum(arity)[:-1]))
            results = _reduce_runs(values, arity, starts)
            ops = level.code[is_list] - _OP_BASE
            value[is_list] = results[ops, np.arange(ops.size)]
            size[is_list] = 2 + np.add.reduceat(child_sizes, starts)
        values, child_sizes = value, size
        sizes[d] = size
    return (values if values is not None else np.empty(0, np.int64)), sizes


def _reduce_runs(values: np.ndarray, arity: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each operator applied to each run of digits, as rows in ``rules.OPERATORS`` order.

    One segmented sort gives MIN (first), MAX (last) and MED
    (``int(numpy.median(run))``: mean of the middle two, truncated); SM is a
    segmented sum mod 10.
    """
    segment = np.repeat(np.arange(arity.size, dtype=np.int32), arity)
    ordered = np.sort(segment * 10 + values) % 10  # sorts within each run, runs stay in order
    median = (ordered[starts + (arity - 1) // 2] + ordered[starts + arity // 2]) // 2
    return np.stack([ordered[starts], ordered[starts + arity - 1], median, np.add.reduceat(values, starts) % 10])


def _render(levels: list[_Level], sizes: list[np.ndarray]) -> list[str]:
    """LRA text of every tree: place each node's tokens at its preorder position, then map codes to bytes."""
    if not levels or levels[0].tree.size == 0:
        return []
    root_sizes = sizes[0]
    total = int(root_sizes.sum())
    tokens = np.empty(total, dtype=np.uint8)  # one ASCII byte per token, in preorder
    position = np.concatenate(([0], np.cumsum(root_sizes)[:-1]))  # preorder position of each root
    for d, level in enumerate(levels):
        tokens[position] = _CODE_BYTE[level.code]
        is_list = level.arity > 0
        if not is_list.any():
            break
        tokens[position[is_list] + sizes[d][is_list] - 1] = _CODE_BYTE[_CLOSE]
        if d + 1 == len(levels):
            break
        # Children follow their parent's opening token, each after its elder siblings' subtrees.
        arity = level.arity[is_list]
        child_size = sizes[d + 1]
        before = np.cumsum(child_size) - child_size  # exclusive running sum over the level
        run_start = np.concatenate(([0], np.cumsum(arity)[:-1]))
        position = np.repeat(position[is_list] + 1 - before[run_start], arity) + before
    spaced = np.full(2 * total, ord(" "), dtype=np.uint8)
    spaced[0::2] = tokens
    spaced[2 * np.cumsum(root_sizes) - 1] = ord("\n")  # a tree ends with a newline, not a space
    text = spaced.tobytes()
    for placeholder, token in zip(_PLACEHOLDERS, OPEN_TOKENS):
        text = text.replace(placeholder, token.encode("ascii"))
    return text.decode("ascii").split("\n")[:-1]
