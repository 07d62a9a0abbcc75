"""What the three recall tasks share: the symbol alphabet, the config base and the writer.

Every recall task is a stream of *examples* drawn one at a time from
``numpy.random.default_rng(seed)``. An example is a key (its full token
sequence, used to drop repeats) and one or more dataset rows. The training
split is filled first, then the test split with examples that are in neither
split yet, so the two never share an example and the files depend only on the
config. Every row carries ``example``, its example's index within the split.

Each symbol is one printable character, so the ``char`` tokenizer reads one
token per symbol and a sequence has exactly the published task's length.
That caps the vocabulary at :data:`MAX_SYMBOLS`; the published MQAR runs use
a vocabulary of 8,192 (docs/recall.md says what that changes).
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lolameme.data.io import DatasetWriter, Format
from lolameme.errors import ConfigError
from lolameme.validation import validation_problems

#: The symbols of every recall task, in order: keys come from the front, values from the back.
SYMBOLS = string.digits + string.ascii_lowercase + string.ascii_uppercase + "!#$%&*+-/:;<>?@^_|~"
MAX_SYMBOLS = len(SYMBOLS)
#: The query marker (safari's copy prefix ``=>``) and the filler (safari's noop, Zoology's token 0).
QUERY = "="
FILLER = "."
#: Consecutive repeated examples after which a config is declared too small for its split sizes.
STALL_EXAMPLES = 10_000
WRITE_BATCH = 8_192


class RecallConfig(BaseModel):
    """Split sizes and seed, common to every recall task (counted in examples, not rows)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    train_examples: int = Field(default=5_000, ge=1)
    test_examples: int = Field(default=500, ge=1)
    seed: int = Field(default=0, ge=0)


@dataclass(frozen=True)
class Example:
    """One drawn example: its token sequence (for repeat detection) and its dataset rows."""

    key: str
    rows: list[dict[str, Any]]


Config = TypeVar("Config", bound=RecallConfig)


def load_task_config(cls: type[Config], task: str, base: Mapping[str, Any], overrides: Mapping[str, Any]) -> Config:
    """Merge a preset's config with overrides and validate; ConfigError names the key and value."""
    try:
        return cls(**{**dict(base), **dict(overrides)})
    except ValidationError as exc:
        raise ConfigError(f"bad {task} config: {validation_problems(exc, cls.model_fields)}") from None


def check_vocab(task: str, vocab_size: int, specials: int) -> None:
    """The symbols a vocabulary needs must fit the alphabet, and split evenly into keys and values."""
    symbols = vocab_size - specials
    if symbols < 2 or symbols > MAX_SYMBOLS:
        raise ValueError(f"vocab_size={vocab_size} gives {symbols} symbols; {task} accepts "
                         f"{specials + 2}..{specials + MAX_SYMBOLS} (one character per symbol)")


def unique_examples(draw: Callable[[np.random.Generator], Example], rng: np.random.Generator,
                    seen: set[str], count: int, task: str, dropped: list[int]) -> Iterator[Example]:
    """``count`` examples not in ``seen`` (which they join), in draw order; repeats counted in ``dropped[0]``."""
    produced = stalled = 0
    while produced < count:
        example = draw(rng)
        if example.key in seen:
            stalled += 1
            dropped[0] += 1
            if stalled >= STALL_EXAMPLES:
                raise ConfigError(f"{task}: only {len(seen)} distinct examples found, {STALL_EXAMPLES} draws in a "
                                  f"row repeated one; ask for fewer examples or a larger vocab_size/input_seq_len")
            continue
        stalled = 0
        seen.add(example.key)
        produced += 1
        yield example


def write_recall_dataset(task: str, config: RecallConfig, draw: Callable[[np.random.Generator], Example],
                         out_dir: str | os.PathLike, *, fmt: Format = "parquet", overwrite: bool = False,
                         stats: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Draw the train then the test examples, write both splits and the manifest; return the manifest."""
    rng = np.random.default_rng(config.seed)
    seen: set[str] = set()
    dropped = [0]
    sizes = {"train": config.train_examples, "test": config.test_examples}
    lengths: dict[str, float] = {}
    with DatasetWriter(out_dir, fmt=fmt, overwrite=overwrite) as writer:
        for split, count in sizes.items():
            target = writer.split(split)
            batch: list[dict[str, Any]] = []
            total_len = rows = 0
            for index, example in enumerate(unique_examples(draw, rng, seen, count, task, dropped)):
                batch.extend({**row, "example": index} for row in example.rows)
                if len(batch) >= WRITE_BATCH:
                    target.write(_columns(batch))
                    rows, total_len = rows + len(batch), total_len + sum(len(r["input"]) for r in batch)
                    batch = []
            if batch:
                target.write(_columns(batch))
                rows, total_len = rows + len(batch), total_len + sum(len(r["input"]) for r in batch)
            lengths[split] = round(total_len / max(rows, 1), 2)
        manifest = {"task": task, "config": config.model_dump(), "seed": config.seed,
                    "examples": sizes, "duplicates_dropped": dropped[0], "mean_input_chars": lengths,
                    "symbols": SYMBOLS, **dict(stats or {})}
        return writer.finish(manifest)


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}
