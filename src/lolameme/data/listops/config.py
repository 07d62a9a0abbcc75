"""The ListOps generation config, validated once at the edge.

Keys are named as LRA's own generator flags (``num_train_samples``,
``max_depth``, ...) so a reader can map them one to one; ``seed`` replaces
LRA's unseeded ``random`` module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from lolameme.errors import ConfigError
from lolameme.validation import validation_problems


class ListOpsConfig(BaseModel):
    """LRA's ListOps flags; the defaults are LRA's (the ``listops-1000`` preset)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    num_train_samples: int = 96_000
    num_valid_samples: int = 2_000
    num_test_samples: int = 2_000
    max_depth: int = 10  # lists may appear at depth < max_depth (the root has depth 1)
    max_args: int = 10  # a list has 2..max_args arguments, uniformly
    min_length: int = 500  # keep a tree only when min_length < LRA length < max_length
    max_length: int = 2000
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> ListOpsConfig:
        for key in ("num_train_samples", "num_valid_samples", "num_test_samples", "min_length", "seed"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key}={getattr(self, key)} must be >= 0")
        if self.total_samples < 1:
            raise ValueError("num_train_samples + num_valid_samples + num_test_samples must be >= 1")
        if self.max_depth < 1:
            raise ValueError(f"max_depth={self.max_depth} must be >= 1 (the root has depth 1)")
        if self.max_args < 2:
            raise ValueError(f"max_args={self.max_args} must be >= 2 (a list has 2..max_args arguments)")
        if self.max_args > self.max_length:
            raise ValueError(f"max_args={self.max_args} must be at most max_length={self.max_length}: a list of "
                             f"k arguments is at least k + 2 long, so longer lists never fit")
        if self.min_length >= self.max_length - 1:
            raise ValueError(f"min_length={self.min_length} must be < max_length - 1 (max_length={self.max_length}): "
                             f"the bounds are strict, so no length would fit")
        longest = _longest_tree(self.max_depth, self.max_args, self.min_length)
        if self.min_length >= longest:
            raise ValueError(f"min_length={self.min_length} admits no tree: with max_depth={self.max_depth} and "
                             f"max_args={self.max_args} the longest possible tree has length {longest}")
        _check_memory(self)
        return self

    @property
    def total_samples(self) -> int:
        return self.num_train_samples + self.num_valid_samples + self.num_test_samples

    def split_sizes(self) -> dict[str, int]:
        """Split name -> rows, in the order the splits are filled."""
        return {"train": self.num_train_samples, "val": self.num_valid_samples, "test": self.num_test_samples}


def _longest_tree(max_depth: int, max_args: int, enough: int) -> int:
    """LRA length of the largest tree the rules allow (every node a full list while it may be).

    Stops once the length passes ``enough`` (all the caller compares it with), so the work is
    bounded by log(enough) steps whatever ``max_depth`` is, and the numbers stay small.
    """
    length = 1  # a digit at the deepest level
    for _ in range(max_depth - 1):
        length = 2 + max_args * length
        if length > enough:
            break
    return length


# Measured with /usr/bin/time on a 2-core AMD EPYC (peak RSS of `lolameme generate`): a chunk of
# CHUNK_DRAWS trees grown to max_length 20,000 took 614 MB against 170 MB at 2,000, ~1.5 bytes per
# draw and unit of length; each kept sample's digest costs ~120 bytes in the duplicate check.
BASE_BYTES = 150e6
BYTES_PER_DRAW_LENGTH = 2
BYTES_PER_SAMPLE = 120


def _check_memory(config: ListOpsConfig) -> None:
    from lolameme.data.listops.sampler import CHUNK_DRAWS
    from lolameme.machine import memory_shortfall

    needs = {"base": BASE_BYTES,
             f"max_length={config.max_length}": CHUNK_DRAWS * config.max_length * BYTES_PER_DRAW_LENGTH,
             f"num_train/valid/test_samples (total {config.total_samples})": config.total_samples * BYTES_PER_SAMPLE}
    shortfall = memory_shortfall(needs)
    if shortfall is not None:
        raise ValueError(f"{shortfall[0]}: {shortfall[1]}")


def load_config(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> ListOpsConfig:
    """Merge a preset's config with overrides and validate; ConfigError names the bad key and value."""
    merged = {**dict(base), **dict(overrides)}
    try:
        return ListOpsConfig(**merged)
    except ValidationError as exc:
        raise ConfigError(f"bad listops config: {validation_problems(exc, ListOpsConfig.model_fields)}") from None
