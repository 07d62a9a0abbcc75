"""Generate a whole corpus: splits in order, duplicates dropped, statistics, manifest.

The parent process consumes each split's chunks in order, drops every program
whose text hash was seen before (earlier in the split, or in an earlier
split: tests never repeat a training program), streams the rest to disk in
row groups and keeps only hashes and counters, so memory stays bounded
whatever the corpus size.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lolameme.data.generator.chunks import Context
from lolameme.data.generator.config import GeneratorConfig
from lolameme.data.generator.hashing import SeenHashes, classify
from lolameme.data.generator.names import build_vocabulary
from lolameme.data.generator.splits import SplitPlan, plan_splits
from lolameme.data.generator.workers import ChunkRunner
from lolameme.data.io import DatasetWriter, Format
from lolameme.errors import TooFewProgramsError
from lolameme.progress import Progress

ROW_GROUP_ROWS = 65536      # records buffered per write (one Parquet row group)
MAX_FUTILE_CHUNKS = 50      # consecutive chunks adding nothing before we give up on a split
VOCABULARY_SEED_INDEX = 0   # SeedSequence([seed, 0]) draws names and global values


class AppearanceWarning(UserWarning):
    """Some global appears fewer than GLOBAL_VARIABLES_NUM_APPEARANCE times in train."""


@dataclass
class SplitStats:
    """Counters of one split, reported in the manifest."""

    rows: int = 0
    duplicates_within: int = 0
    duplicates_across: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    verified: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    answer_len: list[int] = field(default_factory=lambda: [0, 1 << 30, 0])  # sum, min, max
    value_range: list[int] = field(default_factory=lambda: [1 << 62, -(1 << 62)])
    distinct_answers: SeenHashes = field(default_factory=SeenHashes)

    def add_written(self, table: pa.Table, values: np.ndarray) -> None:
        self.rows += table.num_rows
        lengths = table.column("answer_len").to_numpy()
        self.answer_len[0] += int(lengths.sum())
        self.answer_len[1] = min(self.answer_len[1], int(lengths.min()))
        self.answer_len[2] = max(self.answer_len[2], int(lengths.max()))
        self.value_range[0] = min(self.value_range[0], int(values.min()))
        self.value_range[1] = max(self.value_range[1], int(values.max()))
        for entry in pc.value_counts(table.column("language")).to_pylist():
            self.languages[entry["values"]] = self.languages.get(entry["values"], 0) + entry["counts"]
        unique = np.unique(values).view(np.uint64)
        self.distinct_answers.add(unique[~self.distinct_answers.contains(unique)])

    def answers(self) -> dict[str, Any]:
        if not self.rows:
            return {"distinct": 0}
        return {
            "distinct": len(self.distinct_answers),
            "min_value": self.value_range[0], "max_value": self.value_range[1],
            "mean_len": round(self.answer_len[0] / self.rows, 3),
            "min_len": self.answer_len[1], "max_len": self.answer_len[2],
        }


def generate(config: GeneratorConfig, out_dir: str | os.PathLike, *, workers: int = 1, fmt: Format = "parquet",
             overwrite: bool = False, progress: bool = False) -> dict[str, Any]:
    """Write the corpus described by ``config`` to ``out_dir`` and return its manifest.

    The data files are byte-identical for any ``workers``; the manifest is
    written last, so the directory is complete exactly when it exists.
    """
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, VOCABULARY_SEED_INDEX]))
    vocab = build_vocabulary(config, rng)
    context = Context(config, vocab)
    plans = plan_splits(config)
    seen_before = SeenHashes()      # every program of the finished splits
    stats: dict[str, SplitStats] = {}
    appearances = np.zeros(vocab.n_globals, dtype=np.int64)

    with DatasetWriter(out_dir, fmt=fmt, overwrite=overwrite) as writer, \
            Progress(sum(p.size for p in plans), "generate", enabled=progress) as bar, \
            ChunkRunner(context, plans, workers) as runner:
        writer.write_json("globals.json", vocab.globals_table())
        for plan in plans:
            split_stats, seen_here = _write_split(plan, runner, writer, seen_before, appearances, bar)
            stats[plan.name] = split_stats
            for run in seen_here.runs:
                seen_before.add(run)
        return writer.finish(_manifest(config, context, plans, stats, appearances))


def _write_split(plan: SplitPlan, runner: ChunkRunner, writer: DatasetWriter, seen_before: SeenHashes,
                 appearances: np.ndarray, bar: Progress) -> tuple[SplitStats, SeenHashes]:
    split = writer.split(plan.name)
    stats = SplitStats()
    seen_here = SeenHashes()
    buffered: list[pa.Table] = []
    buffered_values: list[np.ndarray] = []
    futile = 0

    def flush() -> None:
        if buffered:
            table = pa.concat_tables(buffered)
            # Parquet takes the Arrow columns as they are; the JSONL writer wants Python values
            split.write(table.to_pydict() if split.fmt == "jsonl" else
                        {name: table.column(name) for name in table.column_names})
            stats.add_written(table, np.concatenate(buffered_values))
            buffered.clear()
            buffered_values.clear()

    accepted = 0
    chunks = runner.chunks(plan, lambda: plan.size - accepted)
    while accepted < plan.size:
        chunk = next(chunks)
        new, across = classify(chunk.hashes, seen_here, seen_before)
        keep = np.flatnonzero(new)
        # only the records this split still needs count, duplicates included
        if len(keep) > plan.size - accepted:
            cut = int(keep[plan.size - accepted - 1]) + 1
            keep = keep[: plan.size - accepted]
        else:
            cut = chunk.table.num_rows
        stats.duplicates_across += int(across[:cut].sum())
        stats.duplicates_within += cut - int(new[:cut].sum()) - int(across[:cut].sum())
        for reason, count in chunk.rejected.items():
            stats.rejected[reason] = stats.rejected.get(reason, 0) + count
        stats.verified += chunk.verified
        if plan.name == "train" and len(appearances):
            counted = chunk.global_counts[np.isin(chunk.global_counts[:, 0], keep)]
            appearances += np.bincount(counted[:, 1], minlength=len(appearances))
        seen_here.add(chunk.hashes[keep])
        buffered.append(chunk.table if len(keep) == chunk.table.num_rows else chunk.table.take(keep))
        buffered_values.append(chunk.values[keep])
        accepted += len(keep)
        bar.advance(len(keep), split=plan.name)
        if sum(t.num_rows for t in buffered) >= ROW_GROUP_ROWS:
            flush()
        futile = futile + 1 if len(keep) == 0 else 0
        if futile >= MAX_FUTILE_CHUNKS:
            raise TooFewProgramsError(
                f"split {plan.name!r}: the last {MAX_FUTILE_CHUNKS} chunks of {plan.chunk_rows} programs added no new "
                f"program ({accepted} of {plan.size} found; rejected so far: {stats.rejected}, duplicates: "
                f"{stats.duplicates_within + stats.duplicates_across}); the config allows too few distinct "
                "programs for this size: allow more statements, variables or values, or ask for fewer rows",
                found=accepted)
    flush()
    return stats, seen_here


def _manifest(config: GeneratorConfig, context: Context, plans: list[SplitPlan], stats: dict[str, SplitStats],
              appearances: np.ndarray) -> dict[str, Any]:
    rules = context.latent
    manifest: dict[str, Any] = {
        "task": "lolameme",
        "config": config.model_dump(mode="json"),
        "seed": config.seed,
        "latent": {"boundary_a": rules.boundary_a, "boundary_b": rules.boundary_b,
                   "modification_a": rules.modification_a, "modification_b": rules.modification_b,
                   "modification_c": rules.modification_c},
        "chunk_rows": {p.name: p.chunk_rows for p in plans},
        "split_rules": {p.name: {"globals": p.rule.globals, "style": p.rule.style} for p in plans},
        "vocabulary": {"locals": list(context.vocab.local_names), "n_globals": context.vocab.n_globals,
                       "globals_file": "globals.json"},
        "duplicates_dropped": {
            name: {"within_split": s.duplicates_within, "in_earlier_splits": s.duplicates_across}
            for name, s in stats.items()},
        "rejected_while_drawing": {name: s.rejected for name, s in stats.items()},
        "languages": {name: s.languages for name, s in stats.items()},
        "answers": {name: s.answers() for name, s in stats.items()},
        "labels": {"computed_by": "lolameme.data.generator (numpy), checked against lolameme.lang.trace",
                   "verify": config.verify, "records_checked": {name: s.verified for name, s in stats.items()}},
    }
    if len(appearances):
        manifest["global_appearances"] = _appearance_report(config, appearances)
    return manifest


def _appearance_report(config: GeneratorConfig, appearances: np.ndarray) -> dict[str, Any]:
    target = config.global_variables_num_appearance
    low = int(appearances.min())
    report: dict[str, Any] = {
        "target": target, "min": low, "median": float(np.median(appearances)), "max": int(appearances.max()),
        "mean": round(float(appearances.mean()), 3), "met": low >= target,
        "counted": "occurrences of each global in the train split's program texts (assignments, reads, prints)",
    }
    if low < target:
        short = int((appearances < target).sum())
        mean = float(appearances.mean())
        fix = (f"the mean ({mean:.0f}) reaches it, so a slightly larger dataset_size will" if mean >= target else
               f"globals are already spread evenly, so it needs about {target / max(mean, 1e-9):.2f}x as many "
               "global appearances: raise dataset_size or lower global_var_count")
        report["warning"] = (f"{short} of {len(appearances)} globals appear fewer than "
                             f"global_variables_num_appearance = {target} times in train (min {low}, "
                             f"median {report['median']:g}); {fix}")
        warnings.warn(report["warning"], AppearanceWarning, stacklevel=3)
    return report
