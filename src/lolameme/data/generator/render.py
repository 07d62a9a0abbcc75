"""Program text for a whole chunk at once, assembled by pyarrow's string kernels.

Every token a program can contain (each name in both spellings, each integer
literal, each operator and bracket in both dialects) is rendered once into a
small table; a chunk's texts are then ``take``s from those tables and
element-wise joins, which run in C. The layout is the language spec's
canonical one, the same as ``lolameme.lang.render``: ``name = (a + b)``
statements joined by ``;`` and a final ``print(x)`` (tests check that the two
agree).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lolameme.data.generator.names import Vocabulary
from lolameme.data.generator.programs import CONST, GLOBAL, LOCAL, OP, Programs
from lolameme.lang.syntax import BRACKETS, SYMBOL

LANGUAGE_NAMES = ("lola", "meme", "mixed")
MAX_LITERAL_TABLE = 1 << 16  # wider literal ranges are converted per chunk instead of pre-rendered


class TokenTables:
    """Pre-rendered tokens: names in both spellings, literals, operators, brackets."""

    def __init__(self, vocab: Vocabulary, min_int: int, max_int: int):
        self.n_names = len(vocab.names)
        self.min_int = min_int
        self.literal_table = max_int - min_int < MAX_LITERAL_TABLE
        literals = [str(v) for v in range(min_int, max_int + 1)] if self.literal_table else []
        self.leaves = pa.array(list(vocab.names) + list(vocab.snake_names) + literals, type=pa.string())
        self.operators = pa.array([f" {SYMBOL[d][op]} " for d in ("lola", "meme")
                                   for op in ("add", "sub", "mul", "mod")])
        self.openers = pa.array([BRACKETS["lola"][0], BRACKETS["meme"][0]])
        self.closers = pa.array([BRACKETS["lola"][1], BRACKETS["meme"][1]])
        self.languages = pa.array(LANGUAGE_NAMES)
        # whole fixed fragments, so a program is few pieces: "name = " (first statement),
        # ";name = " (later ones) and ";print(name)", each for every spelling and bracket style
        spellings = list(vocab.names) + list(vocab.snake_names)
        self.assignments = pa.array([f"{sep}{name} = " for sep in ("", ";") for name in spellings])
        self.prints = pa.array([f";print{BRACKETS[d][0]}{name}{BRACKETS[d][1]}" for d in ("lola", "meme")
                                for name in spellings])

    def names(self, ids: np.ndarray, style: np.ndarray) -> pa.Array:
        return self.leaves.take(ids + self.n_names * style.astype(np.int64))

    def leaf_texts(self, kind: np.ndarray, ref: np.ndarray, style: np.ndarray) -> pa.Array:
        """Text of one node slot for every row: a name in its drawn spelling, or a literal."""
        is_name = (kind == LOCAL) | (kind == GLOBAL)
        name_index = ref + self.n_names * style.astype(np.int64)
        if self.literal_table:
            literal_index = 2 * self.n_names + np.where(kind == CONST, ref - self.min_int, 0)
            return self.leaves.take(np.where(is_name, name_index, literal_index))
        names = self.leaves.take(np.where(is_name, name_index, 0))
        return pc.if_else(pa.array(is_name), names, pa.array(ref).cast(pa.string()))


def render_chunk(tables: TokenTables, programs: Programs) -> pa.Array:
    """The program texts of a chunk as one pyarrow string array."""
    S, T, n = programs.kind.shape
    parts: list = []
    for s in range(S):
        kind, ref = programs.kind[s], programs.ref[s]
        node_style, bracket_style, op = programs.node_style[s], programs.bracket_style[s], programs.op[s]
        text: list = [None] * T
        for i in range(T - 1, -1, -1):
            leaf = tables.leaf_texts(kind[i], ref[i], node_style[i])
            is_op = kind[i] == OP
            if 2 * i + 2 >= T or not is_op.any():
                text[i] = leaf
                continue
            joined = pc.binary_join_element_wise(
                tables.openers.take(bracket_style[i]), text[2 * i + 1],
                tables.operators.take(op[i] + 4 * node_style[i].astype(np.int8)),
                text[2 * i + 2], tables.closers.take(bracket_style[i]), "")
            text[i] = pc.if_else(pa.array(is_op), joined, leaf)
        spelling = programs.target[s] + tables.n_names * programs.target_style[s].astype(np.int64)
        parts += [tables.assignments.take(spelling + (2 * tables.n_names if s else 0)), text[0]]
    print_name, print_brackets = programs.print_style
    spelling = programs.printed + tables.n_names * (print_name.astype(np.int64) + 2 * print_brackets.astype(np.int64))
    parts.append(tables.prints.take(spelling))
    return pc.binary_join_element_wise(*parts, "")
