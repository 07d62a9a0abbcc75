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


#: Sequences drawn per numpy call; the files depend on it (examples are taken from chunks in order).
CHUNK = 4096


def draw_chunk(config: MQARConfig, rng: np.random.Generator, count: int = CHUNK) -> list[Example]:
    """``count`` sequences at once, each as one row per query in the order the queries appear.

    Keys and values: the first ``num_kv_pairs`` of a random permutation of each half of the
    vocabulary (distinct, uniform). Query slots: the top ``num_kv_pairs`` of log-weight plus
    Gumbel noise, which samples without replacement proportionally to the weights exactly as
    Zoology's ``np.random.choice(replace=False, p=...)`` does (successive sampling).
    """
    half, pairs, length = (config.vocab_size - 1) // 2, config.num_kv_pairs, config.input_seq_len
    keys = np.argsort(rng.random((count, half)), axis=1)[:, :pairs]
    values = half + np.argsort(rng.random((count, half)), axis=1)[:, :pairs]
    scores = np.log(config.query_weights)[None, :] + rng.gumbel(size=(count, len(config.query_weights)))
    slots = np.argsort(-scores, axis=1)[:, :pairs]
    context = 2 * pairs
    filler = config.vocab_size - 1  # index of FILLER in the lookup table below
    tokens = np.full((count, length), filler, dtype=np.int64)
    tokens[:, 0:context:2], tokens[:, 1:context:2] = keys, values
    positions = context + 2 * slots
    np.put_along_axis(tokens, positions, keys, axis=1)
    table = np.array(list(SYMBOLS[: config.vocab_size - 1] + FILLER))
    texts = ["".join(row) for row in table[tokens]]
    examples = []
    for text, position, value in zip(texts, positions, values):
        order = np.argsort(position)
        rows = [{"input": text[: position[i] + 1], "label": table[value[i]], "query": rank,
                 "n_pairs": pairs, "distance": int(position[i]) - 2 * int(i)} for rank, i in enumerate(order)]
        examples.append(Example(text, rows))
    return examples


class _Chunks:
    """One example per call, drawn a chunk at a time (the writer asks one by one)."""

    def __init__(self, config: MQARConfig):
        self.config = config
        self.buffer: list[Example] = []

    def __call__(self, rng: np.random.Generator) -> Example:
        if not self.buffer:
            self.buffer = draw_chunk(self.config, rng)[::-1]
        return self.buffer.pop()


def load_config(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> MQARConfig:
    return load_task_config(MQARConfig, TASK, base, overrides)


def generate(config: MQARConfig, out_dir: str | os.PathLike, *, workers: int = 1, fmt: Format = "parquet",
             overwrite: bool = False, progress: bool = False) -> dict[str, Any]:
    """Write the train and test splits (one row per query) and the manifest."""
    return write_recall_dataset(TASK, config, _Chunks(config), out_dir, fmt=fmt, overwrite=overwrite,
                                stats={"rows_per_example": config.num_kv_pairs})
