"""Induction heads as safari (HazyResearch) generates it.

An example: ``input_seq_len`` symbols drawn uniformly (``vocab_size - 2`` of
them; the copy prefix and the noop are the other two), then the copy prefix.
The prefix is also planted at one trigger position (with probability 1/2; else
up to ``num_triggers`` positions, spaced more than ``induction_len`` apart),
each followed by the same ``induction_len`` symbols: the ones that followed the
first trigger. The answer is those symbols: after the final prefix the model
must write what followed the prefix before.

Text: the sequence and the final ``=`` (``ab=cdq=`` -> label ``c``).
Annotations: ``n_triggers``, ``distance`` (symbols from the last planted prefix
to the final one).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from lolameme.data.io import Format
from lolameme.data.recall.common import QUERY, SYMBOLS, Example, RecallConfig, check_vocab, load_task_config, \
    write_recall_dataset

TASK = "induction_heads"


class InductionConfig(RecallConfig):
    """safari's ``icl_synthetics`` keys for ``copy_method: induction_head`` (defaults: its pipeline's)."""

    vocab_size: int = Field(default=20, ge=4)  # counts the copy prefix and the noop, as safari does
    input_seq_len: int = Field(default=30, ge=3)
    induction_len: int = Field(default=1, ge=1)
    num_triggers: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _check(self) -> InductionConfig:
        check_vocab(TASK, self.vocab_size, specials=2)
        if self.input_seq_len < self.induction_len + 2:
            raise ValueError(f"input_seq_len={self.input_seq_len} must be at least induction_len + 2 "
                             f"({self.induction_len + 2}): a trigger and what follows it must fit")
        return self


def draw_example(config: InductionConfig, rng: np.random.Generator) -> Example:
    """One example in safari's sampling order: sequence, trigger count, trigger positions."""
    symbols = SYMBOLS[: config.vocab_size - 2]
    sequence = [symbols[i] for i in rng.integers(len(symbols), size=config.input_seq_len)]
    triggers = 1 if rng.uniform() < 0.5 else config.num_triggers
    span = config.induction_len
    drawn = sorted(int(p) for p in rng.integers(config.input_seq_len - (1 + span), size=triggers))
    kept = [drawn[0]]
    for position in drawn[1:]:
        if position - kept[-1] > span:
            kept.append(position)
    to_copy = sequence[kept[0] + 1: kept[0] + 1 + span]
    for position in kept:
        sequence[position] = QUERY
        sequence[position + 1: position + 1 + span] = to_copy
    program = "".join(sequence) + QUERY
    answer = "".join(to_copy)
    row = {"input": program, "label": answer, "n_triggers": len(kept),
           "distance": config.input_seq_len - kept[-1]}
    return Example(program + answer, [row])


def load_config(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> InductionConfig:
    return load_task_config(InductionConfig, TASK, base, overrides)


def generate(config: InductionConfig, out_dir: str | os.PathLike, *, workers: int = 1, fmt: Format = "parquet",
             overwrite: bool = False, progress: bool = False) -> dict[str, Any]:
    """Write the train and test splits and the manifest."""
    return write_recall_dataset(TASK, config, lambda rng: draw_example(config, rng), out_dir, fmt=fmt,
                                overwrite=overwrite)
