"""The samples of a run: held-out validation rows and each stage's training rows.

The validation slice is a seeded sample of the *training* split of the run's
``data`` (the test splits are never touched during training), chosen once and
excluded from every stage that trains on that same dataset. A stage may train
on another dataset directory and/or on the rows whose annotation columns match
its ``where`` filter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lolameme.data.io import load_split, read_manifest
from lolameme.errors import ConfigError, DatasetError

TRAIN_SPLIT = "train"


def check_dataset(data_dir: Path) -> dict[str, Any]:
    """The manifest of ``data_dir``, which must have a ``train`` split."""
    manifest = read_manifest(data_dir)
    if TRAIN_SPLIT not in manifest["splits"]:
        raise DatasetError(f"{data_dir} has no {TRAIN_SPLIT!r} split to train on; it has: {', '.join(manifest['splits'])}")
    return manifest


def training_programs(data_dir: Path) -> list[str]:
    """The ``input`` column of the training split: what a fitted tokenizer (``words``) is fitted to."""
    return load_split(data_dir, TRAIN_SPLIT, columns=["input"]).column("input").to_pylist()


def split_validation(n_rows: int, val_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train_rows, val_rows) of a training split with ``n_rows`` rows."""
    if val_samples and val_samples >= n_rows:
        raise ConfigError(
            f"val_samples={val_samples} leaves nothing to train on: the training split has {n_rows} rows; "
            "lower val_samples (0 disables validation)"
        )
    order = np.random.default_rng([seed, 0x7A1]).permutation(n_rows)
    return np.sort(order[val_samples:]), np.sort(order[:val_samples])


def rows_matching(data_dir: Path, where: dict[str, Any]) -> np.ndarray | None:
    """Rows of the training split whose columns satisfy ``where``; None when ``where`` is empty.

    A condition is a value (equal), a list (one of) or ``{"min": a, "max": b}`` (inclusive, either optional).
    """
    if not where:
        return None
    available = _column_names(data_dir)
    mask = None
    for column, condition in where.items():
        if column not in available:
            raise ConfigError(f"stage filter: column {column!r} is not in {data_dir}; available: {', '.join(available)}")
        values = load_split(data_dir, TRAIN_SPLIT, columns=[column]).column(column)
        matched = _condition_mask(values, column, condition)
        mask = matched if mask is None else mask & matched
    return np.flatnonzero(mask)


def _column_names(data_dir: Path) -> list[str]:
    manifest = read_manifest(data_dir)
    path = Path(data_dir) / manifest["splits"][TRAIN_SPLIT]["file"]
    if path.suffix == ".parquet":
        return list(pq.ParquetFile(path).schema_arrow.names)
    return load_split(data_dir, TRAIN_SPLIT).column_names


def _condition_mask(values, column: str, condition: Any) -> np.ndarray:
    try:
        return _compare(values, condition, column)
    except (pa.ArrowException, TypeError) as exc:
        raise ConfigError(f"stage filter on {column!r}: cannot compare the column with {condition!r}: {exc}") from exc


def _compare(values, condition: Any, column: str) -> np.ndarray:
    if isinstance(condition, dict):
        unknown = set(condition) - {"min", "max"}
        if unknown:
            raise ConfigError(f"stage filter on {column!r}: unknown keys {sorted(unknown)}; accepted: min, max")
        mask = np.ones(len(values), dtype=bool)
        if condition.get("min") is not None:
            mask &= np.asarray(pc.fill_null(pc.greater_equal(values, condition["min"]), False))
        if condition.get("max") is not None:
            mask &= np.asarray(pc.fill_null(pc.less_equal(values, condition["max"]), False))
        return mask
    if isinstance(condition, list):
        return np.asarray(pc.fill_null(pc.is_in(values, value_set=pa.array(condition)), False))
    return np.asarray(pc.fill_null(pc.equal(values, condition), False))

