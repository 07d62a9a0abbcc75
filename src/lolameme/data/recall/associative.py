"""Associative recall as safari (HazyResearch, the Hyena paper's synthetic) generates it.

An example: ``vocab_size - 2`` symbols (two tokens of the vocabulary are
safari's copy prefix and noop), the first half keys and the second half
values. Each example draws its own map from every key to a value (values may
repeat across keys), then ``input_seq_len // (num_keys + 1)`` pairs, each a key
drawn uniformly with replacement followed by its value; then the copy prefix
and a query key. The answer is the query key's value. Without ``allow_dot``
the query is one of the keys shown; with it, any key, and a key not shown is
answered by the noop ``.``. ``num_keys`` > 1 makes a key a tuple of symbols.

Text: the pairs, ``=`` and the query key, one character per symbol
(``a4c6a4=c`` -> label ``6``); the model writes the value after ``<sep>``.
Annotations: ``n_pairs``, ``distance`` (symbols from the query back to the last
time its key was shown; 0 when it was not), ``key_shown``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from lolameme.data.io import Format
from lolameme.data.recall.common import FILLER, QUERY, SYMBOLS, Example, RecallConfig, check_vocab, \
    load_task_config, write_recall_dataset

TASK = "associative_recall"


class AssociativeRecallConfig(RecallConfig):
    """safari's ``icl_synthetics`` keys for ``copy_method: assoc_recall`` (defaults: its vocabulary-10 run)."""

    vocab_size: int = Field(default=10, ge=4)  # counts the copy prefix and the noop, as safari does
    input_seq_len: int = Field(default=20, ge=2)
    num_keys: int = Field(default=1, ge=1)
    allow_dot: bool = False

    @model_validator(mode="after")
    def _check(self) -> AssociativeRecallConfig:
        check_vocab(TASK, self.vocab_size, specials=2)
        if self.input_seq_len < self.num_keys + 1:
            raise ValueError(f"input_seq_len={self.input_seq_len} holds no pair of num_keys={self.num_keys} key "
                             "symbols and a value; it must be at least num_keys + 1")
        return self

    @property
    def keys(self) -> str:
        symbols = SYMBOLS[: self.vocab_size - 2]
        return symbols[: len(symbols) // 2]

    @property
    def values(self) -> str:
        symbols = SYMBOLS[: self.vocab_size - 2]
        return symbols[len(symbols) // 2:]


def draw_example(config: AssociativeRecallConfig, rng: np.random.Generator) -> Example:
    """One example, exactly safari's sampling order (map, pairs, query)."""
    keys, values, width = config.keys, config.values, config.num_keys
    n_tuples = len(keys) ** width
    mapping = rng.integers(len(values), size=n_tuples)  # key tuple (as a base-len(keys) number) -> value
    n_pairs = config.input_seq_len // (width + 1)
    drawn = rng.integers(n_tuples, size=n_pairs)
    if config.allow_dot:
        query = int(rng.integers(n_tuples))
    else:
        query = int(rng.choice(np.unique(drawn)))
    text = "".join(_key_text(k, keys, width) + values[mapping[k]] for k in drawn)
    shown = np.flatnonzero(drawn == query)
    answer = values[mapping[query]] if len(shown) else FILLER
    distance = (n_pairs - int(shown[-1])) * (width + 1) + 1 if len(shown) else 0
    program = text + QUERY + _key_text(query, keys, width)
    row = {"input": program, "label": answer, "n_pairs": n_pairs, "distance": distance, "key_shown": bool(len(shown))}
    return Example(program + answer, [row])


def _key_text(index: int, keys: str, width: int) -> str:
    """The symbols of key tuple ``index`` (its base-len(keys) digits, most significant first)."""
    digits = []
    for _ in range(width):
        index, digit = divmod(int(index), len(keys))
        digits.append(keys[digit])
    return "".join(reversed(digits))


def load_config(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> AssociativeRecallConfig:
    return load_task_config(AssociativeRecallConfig, TASK, base, overrides)


def generate(config: AssociativeRecallConfig, out_dir: str | os.PathLike, *, workers: int = 1,
             fmt: Format = "parquet", overwrite: bool = False, progress: bool = False) -> dict[str, Any]:
    """Write the train and test splits and the manifest (one process: the task is small)."""
    return write_recall_dataset(TASK, config, lambda rng: draw_example(config, rng), out_dir, fmt=fmt,
                                overwrite=overwrite, stats={"keys": config.keys, "values": config.values})
