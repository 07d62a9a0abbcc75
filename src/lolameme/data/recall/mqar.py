"""Multi-query associative recall (MQAR) as Zoology (Arora et al. 2023) generates it.

A sequence of ``input_seq_len`` symbols: first ``num_kv_pairs`` key-value
pairs (keys distinct, drawn from the first half of the vocabulary; values
distinct, from the second half), then a query section where every key appears
once more, at a position drawn without replacement from a power law
``p(g) ~ power_a * g ** (power_a - 1)`` over the section's even slots
(most queries close to the pairs, a few far), everything else filler. Zoology
scores the prediction right after each query key: the key's value.

A causal model's prediction after a query key depends only on the prefix up to
that key, so each query is one dataset row: ``input`` is that prefix and
``label`` the value. Exact match over the rows is then Zoology's accuracy,
measured position for position, and the sequence's other queries are still in
front of later ones exactly as in Zoology's sequence. Zoology's token 0 is the
filler ``.``; its vocabulary counts token 0 as ours counts the filler.
Annotations: ``example`` (the sequence's index within its split), ``query`` (order within the
sequence), ``n_pairs``, ``distance`` (symbols from the key's pair to its query).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from lolameme.data.io import Format
from lolameme.data.recall.common import FILLER, SYMBOLS, Example, RecallConfig, check_vocab, load_task_config, \
    write_recall_dataset

TASK = "mqar"


class MQARConfig(RecallConfig):
    """Zoology's ``multiquery_ar`` arguments (its defaults, but a one-character-per-symbol vocabulary)."""

    vocab_size: int = Field(default=64, ge=3)  # counts the filler, as Zoology counts its token 0
    input_seq_len: int = Field(default=64, ge=4)
    num_kv_pairs: int = Field(default=4, ge=1)
    power_a: float = Field(default=0.01, gt=0, le=1)
    train_examples: int = Field(default=100_000, ge=1)
    test_examples: int = Field(default=3_000, ge=1)

    @model_validator(mode="after")
    def _check(self) -> MQARConfig:
        check_vocab(TASK, self.vocab_size, specials=1)
        half = (self.vocab_size - 1) // 2
        if self.num_kv_pairs > half:
            raise ValueError(f"num_kv_pairs={self.num_kv_pairs} needs as many distinct keys, but vocab_size="
                             f"{self.vocab_size} has {half}")
        slots = (self.input_seq_len - 2 * self.num_kv_pairs) // 2
        if slots < self.num_kv_pairs:
            raise ValueError(f"input_seq_len={self.input_seq_len} leaves {slots} query slots after "
                             f"num_kv_pairs={self.num_kv_pairs} pairs; needs input_seq_len >= 4 * num_kv_pairs")
        return self

    @property
    def query_weights(self) -> np.ndarray:
        """Probability of each query slot g = 0, 1, ...: power_a * (g + 1) ** (power_a - 1), normalised."""
        slots = (self.input_seq_len - 2 * self.num_kv_pairs) // 2
        weights = self.power_a * np.arange(1, slots + 1, dtype=np.float64) ** (self.power_a - 1)
        return weights / weights.sum()


def draw_sequence(config: MQARConfig, rng: np.random.Generator) -> tuple[str, list[int], np.ndarray, np.ndarray]:
    """(full sequence text, query positions in it, keys, values) of one Zoology example."""
    half = (config.vocab_size - 1) // 2
    symbols = SYMBOLS[: config.vocab_size - 1]
    keys = rng.choice(half, size=config.num_kv_pairs, replace=False)
    values = rng.choice(np.arange(half, 2 * half), size=config.num_kv_pairs, replace=False)
    weights = config.query_weights
    slots = rng.choice(len(weights), size=config.num_kv_pairs, replace=False, p=weights)
    context = 2 * config.num_kv_pairs
    sequence = [FILLER] * config.input_seq_len
    for i, (key, value) in enumerate(zip(keys, values)):
        sequence[2 * i], sequence[2 * i + 1] = symbols[key], symbols[value]
    positions = [context + 2 * int(slot) for slot in slots]
    for position, key in zip(positions, keys):
        sequence[position] = symbols[key]
    return "".join(sequence), positions, keys, values


def draw_example(config: MQARConfig, rng: np.random.Generator) -> Example:
    """One sequence as one row per query, in the order the queries appear."""
    text, positions, _, values = draw_sequence(config, rng)
    symbols = SYMBOLS[: config.vocab_size - 1]
    order = np.argsort(positions)
    rows = [{"input": text[: positions[i] + 1], "label": symbols[values[i]], "query": rank,
             "n_pairs": config.num_kv_pairs, "distance": positions[i] - 2 * int(i)}
            for rank, i in enumerate(order)]
    return Example(text, rows)


def load_config(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> MQARConfig:
    return load_task_config(MQARConfig, TASK, base, overrides)


def generate(config: MQARConfig, out_dir: str | os.PathLike, *, workers: int = 1, fmt: Format = "parquet",
             overwrite: bool = False, progress: bool = False) -> dict[str, Any]:
    """Write the train and test splits (one row per query) and the manifest."""
    return write_recall_dataset(TASK, config, lambda rng: draw_example(config, rng), out_dir, fmt=fmt, overwrite=overwrite,
                                stats={"rows_per_example": config.num_kv_pairs})
