"""The results table: one row per (cell, split), and the mean (std) over seeds.

Each finished cell leaves ``result.json``; the Parquet table is rebuilt from
those markers rather than appended to, so parallel jobs and shards never
write the same file, and merging shards is copying their ``cells/`` folders
together. Aggregation reads only the table, so a report can be rebuilt from a
committed ``results.parquet`` without the run directories.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lolameme.atomic import atomic_path
from lolameme.errors import ExperimentError
from lolameme.experiments.spec import setting_label

SCORE_COLUMNS = ("n", "exact_match", "majority_baseline", "majority_answer", "token_accuracy", "token_loss")
COMPUTE_COLUMNS = ("train_seconds", "eval_seconds", "steps", "tokens", "parameters", "threads", "processes", "device")

SCHEMA = pa.schema([
    ("spec", pa.string()), ("scale", pa.string()), ("cell", pa.string()), ("dataset", pa.string()),
    ("x", pa.float64()), ("model", pa.string()), ("setting", pa.string()),  # sweep values: "lr=0.001" ("" for none)
    ("seed", pa.int64()), ("split", pa.string()),
    ("n", pa.int64()), ("exact_match", pa.float64()), ("majority_baseline", pa.float64()),
    ("majority_answer", pa.string()), ("token_accuracy", pa.float64()), ("token_loss", pa.float64()),
    ("slices", pa.string()),  # JSON: column -> [{value, n, exact_match, majority_baseline, ...}]
    ("train_seconds", pa.float64()), ("eval_seconds", pa.float64()), ("steps", pa.int64()),
    ("tokens", pa.int64()), ("parameters", pa.int64()), ("threads", pa.int64()),
    ("processes", pa.int64()), ("device", pa.string()),
    ("package_version", pa.string()), ("finished", pa.float64()),
])


def result_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Flatten one cell's ``result.json`` into one row per evaluated split."""
    compute = result.get("compute", {})
    rows = []
    for split, scores in result["splits"].items():
        row = {key: result.get(key) for key in ("spec", "scale", "cell", "dataset", "x", "model", "seed",
                                                "package_version", "finished")}
        row["setting"] = setting_label(result.get("setting") or {})
        row["split"] = split
        row.update({key: scores.get(key) for key in SCORE_COLUMNS})
        row["slices"] = json.dumps(scores.get("slices", {}))
        row.update({key: compute.get(key) for key in COMPUTE_COLUMNS})
        rows.append(row)
    return rows


def build_table(results: Iterable[Mapping[str, Any]]) -> pa.Table:
    rows = [row for result in results for row in result_rows(result)]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def write_table(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_table(path: Path) -> pa.Table:
    if not Path(path).is_file():
        raise ExperimentError(f"no results table at {path}; run `lolameme experiment run` first")
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise ExperimentError(f"cannot read results table {path}: {exc}") from exc


# ---------------------------------------------------------------- aggregation


@dataclass(frozen=True)
class Aggregate:
    """A score over seeds: mean, sample standard deviation (None for one seed), and which seeds."""

    mean: float
    std: float | None
    seeds: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.seeds)


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and the sample standard deviation (n - 1 in the denominator; None below two values)."""
    if not values:
        raise ValueError("no values")
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def aggregate(rows: list[dict[str, Any]], metric: str = "exact_match") -> dict[tuple[str, str, str], Aggregate]:
    """(dataset, model, split) -> Aggregate of ``metric`` over the seeds present.

    Rows whose metric is missing (None) are left out, never counted as zero.
    """
    groups: dict[tuple[str, str, str], dict[int, float]] = {}
    for row in rows:
        value = row.get(metric)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        groups.setdefault((row["dataset"], row["model"], row["split"]), {})[row["seed"]] = float(value)
    out = {}
    for key, by_seed in groups.items():
        seeds = tuple(sorted(by_seed))
        mean, std = mean_std([by_seed[s] for s in seeds])
        out[key] = Aggregate(mean, std, seeds)
    return out


def slice_means(rows: list[dict[str, Any]], column: str, metric: str = "exact_match"
                ) -> dict[tuple[str, str, str], dict[str, float]]:
    """(dataset, model, split) -> slice value -> mean over seeds of the slice's ``metric``."""
    sums: dict[tuple[str, str, str], dict[str, list[float]]] = {}
    for row in rows:
        slices = json.loads(row.get("slices") or "{}").get(column)
        if not slices:
            continue
        target = sums.setdefault((row["dataset"], row["model"], row["split"]), {})
        for entry in slices:
            if entry.get(metric) is not None:
                target.setdefault(str(entry["value"]), []).append(float(entry[metric]))
    return {key: {value: sum(v) / len(v) for value, v in by_value.items()} for key, by_value in sums.items()}
