"""Curriculum pacing: easier stages generated from the run's own task, and gates that end them.

Two measurements motivate this module: a curriculum
over statement count lifted a tiny model's exact match tenfold, but it moved on when
its time cap ran out, never because a stage was learned. So a stage here may say

* ``task: {statement_count: 1}`` -- train on the run's dataset *configuration* with these
  generator settings changed. The stage's corpus is generated beside the run's dataset
  (``DATA/.curriculum/<key>/``, reused by later runs) with the run's seed, because the seed
  draws the vocabulary: the stage shares the run's variable names, globals and latent rules
  and differs only in what ``task`` changes. It is an easier task used only for training;
  validation and evaluation stay on the run's own task.
* ``gate: 0.9`` -- end the stage once teacher-forced exact match on held-out rows of the
  stage's own data reaches 0.9 (checked every ``val_every`` steps); ``until`` / ``steps``
  remain as the time cap, so a stage that is never learned still ends.

A curriculum never makes the task harder: for the size keys in :data:`NEVER_ABOVE_THE_TASK`
a stage's value is capped at the run's own (so the ``tiny`` recipe's 4-statement stage trains
on 3-statement programs when the run's task has 3 statements).

The functions here are pure helpers; :mod:`lolameme.train.trainer` calls them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from lolameme.errors import ConfigError, DatasetError, TooFewProgramsError

CURRICULUM_DIR = ".curriculum"
#: Generator keys where a larger value is a harder task; a stage's value is capped at the run's.
NEVER_ABOVE_THE_TASK = ("statement_count", "expression_max_depth", "max_int_value", "max_var_length")
#: Test rows of a curriculum corpus: none (only its train split is used).
_TEST_ROWS = 0
#: A stage whose task allows fewer distinct programs than its 'rows' asks again for this share of those
#: found (the margin lets a differently chunked draw find them again), if that leaves at least MIN_STAGE_ROWS.
SHORT_STAGE_MARGIN = 0.9
MIN_STAGE_ROWS = 100


def curriculum_key(manifest: dict[str, Any], task: dict[str, Any], rows: int) -> str:
    """A short hash naming a curriculum corpus: same inputs, same corpus, same directory."""
    parts = {"train_sha256": manifest["splits"]["train"].get("sha256"), "config": manifest.get("config"),
             "task": task, "rows": rows}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def stage_config(manifest: dict[str, Any], task: dict[str, Any], rows: int) -> dict[str, Any]:
    """The generator settings of a curriculum corpus: the run's resolved config, changed by ``task``."""
    base = dict(manifest.get("config") or {})
    if not base:
        raise DatasetError("the run's dataset manifest has no 'config'; a curriculum stage with 'task' needs one "
                           "(generate the dataset with `lolameme generate`)")
    fixed = sorted({"seed", "dataset_size", "test_dataset_size"} & set(task))
    if fixed:
        raise ConfigError(f"curriculum stage task may not set {fixed}: the seed draws the run's vocabulary and "
                          "the stage's size is its 'rows'")
    unknown = sorted(set(task) - set(base))
    if unknown:
        raise ConfigError(f"curriculum stage task: unknown generator keys {unknown}; accepted: {', '.join(sorted(base))}")
    capped = {k: min(v, base[k]) if k in NEVER_ABOVE_THE_TASK and isinstance(v, int) and isinstance(base.get(k), int)
              else v for k, v in task.items()}
    return {**base, **capped, "dataset_size": rows, "test_dataset_size": _TEST_ROWS}


def curriculum_dataset(data_dir: Path, task: dict[str, Any], rows: int, *, progress: bool = False) -> Path:
    """The directory of the stage corpus for ``task``, generated on first use (atomically)."""
    from lolameme.data.io import read_manifest
    from lolameme.data.tasks import task_module

    manifest = read_manifest(data_dir)
    out = Path(data_dir) / CURRICULUM_DIR / curriculum_key(manifest, task, rows)
    if (out / "manifest.json").is_file():
        return out
    module = task_module(manifest["task"])
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    wanted = rows
    while True:
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            module.generate(module.load_config({}, stage_config(manifest, task, rows)), tmp, overwrite=True,
                            progress=progress)
            break
        except DatasetError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            # An easy stage may have fewer distinct programs than 'rows' (1 statement, no globals, values
            # 1..20: about 16k): train on (nearly) all of them instead of failing the run.
            if isinstance(exc, TooFewProgramsError) and exc.found < rows \
                    and exc.found * SHORT_STAGE_MARGIN >= MIN_STAGE_ROWS:
                rows = int(exc.found * SHORT_STAGE_MARGIN)
                continue
            raise DatasetError(f"curriculum stage task {task} on {data_dir}: cannot generate {wanted} programs "
                               f"({exc}); give the stage fewer 'rows'") from None
    try:
        os.replace(tmp, out)
    except OSError:  # another process finished the same corpus first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
        if not (out / "manifest.json").is_file():
            raise
    return out


def gate_rows(rows: np.ndarray, n_gate: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train_rows, gate_rows) of a stage: the gate is measured on rows it never trains on."""
    rows = np.asarray(rows)
    n_gate = min(n_gate, len(rows) // 2)
    order = np.random.default_rng([seed, 0x6A7E]).permutation(len(rows))
    return np.sort(rows[order[n_gate:]]), np.sort(rows[order[:n_gate]])


def gate_passed(exact: float, gate: float | None) -> bool:
    """Whether a stage's measured exact match opens its gate."""
    return gate is not None and exact >= gate
