"""The curriculum: a run's stages, where each stage's samples come from, and what ends a stage.

A run trains through ``stages`` in order (one stage over ``data`` when none are given).
A stage ends when its cap is reached (``steps`` of its own, or ``until``, a fraction of the
run's budget), when its gate opens, or -- the last stage -- when the budget is spent; the
loop learns which from a :class:`StageOutcome`.

Gates exist because a curriculum over statement count lifted a tiny model's exact match
tenfold, but it moved on when its time cap ran out, never because a stage was learned
(docs/training.md). So a stage may say

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

The module-level functions are pure helpers; :class:`Curriculum` joins them for the trainer.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lolameme.atomic import atomic_dir
from lolameme.errors import ConfigError, DatasetError, TooFewProgramsError
from lolameme.train.batching import SampleSet, select_samples
from lolameme.train.cache import TokenCache
from lolameme.train.config import Stage, TrainConfig
from lolameme.train.data import check_dataset, rows_matching

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
    try:
        with atomic_dir(out) as tmp:
            _generate_stage(module, manifest, task, rows, tmp, f"curriculum stage task {task} on {data_dir}", progress)
    except OSError:  # another process finished the same corpus first: keep theirs
        if not (out / "manifest.json").is_file():
            raise
    return out


def _generate_stage(module, manifest: dict[str, Any], task: dict[str, Any], rows: int, out: Path, what: str,
                    progress: bool) -> None:
    """Generate the stage corpus into ``out``, with fewer rows when the easy task has fewer distinct programs."""
    wanted = rows
    while True:
        try:
            module.generate(module.load_config({}, stage_config(manifest, task, rows)), out, overwrite=True,
                            progress=progress)
            return
        except DatasetError as exc:
            # An easy stage may have fewer distinct programs than 'rows' (1 statement, no globals, values
            # 1..20: about 16k): train on (nearly) all of them instead of failing the run.
            if isinstance(exc, TooFewProgramsError) and exc.found < rows \
                    and exc.found * SHORT_STAGE_MARGIN >= MIN_STAGE_ROWS:
                rows = int(exc.found * SHORT_STAGE_MARGIN)
                continue
            raise DatasetError(f"{what}: cannot generate {wanted} programs ({exc}); give the stage fewer 'rows'") from None


def gate_rows(rows: np.ndarray, n_gate: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train_rows, gate_rows) of a stage: the gate is measured on rows it never trains on."""
    rows = np.asarray(rows)
    n_gate = min(n_gate, len(rows) // 2)
    order = np.random.default_rng([seed, 0x6A7E]).permutation(len(rows))
    return np.sort(rows[order[n_gate:]]), np.sort(rows[order[:n_gate]])


class StageOutcome(enum.Enum):
    """Why the loop left a stage."""

    DONE = "done"  # the stage's cap was reached or its gate opened: go on to the next stage
    BUDGET_SPENT = "budget spent"  # the run's budget is used up: the run is finished
    STOPPED = "stopped"  # stopped before the budget (``stop_after`` or Ctrl-C): resumable from its checkpoint


@dataclass(frozen=True)
class StageData:
    """The samples a stage trains on, and the held-out rows its gate is measured on (if it has one)."""

    samples: SampleSet
    gate: SampleSet | None
    data_dir: Path
    counts: dict[str, int]  # over-length counts for the log


class Curriculum:
    """The stages of one run and what each trains on.

    ``load_cache`` gives the token cache of a dataset directory and ``in_order`` runs a
    function on rank 0 first (it may write files), then on the other ranks.
    """

    def __init__(self, cfg: TrainConfig, main_cache: TokenCache, main_rows: np.ndarray, max_len: int, sep_id: int,
                 load_cache: Callable[[Path], TokenCache], in_order: Callable[[Callable[[], Any]], Any]) -> None:
        self.cfg = cfg
        self.stages: list[Stage] = cfg.stage_list()
        self.main_cache, self.main_rows = main_cache, main_rows
        self.max_len, self.sep_id = max_len, sep_id
        self.load_cache, self.in_order = load_cache, in_order

    def __len__(self) -> int:
        return len(self.stages)

    def is_last(self, index: int) -> bool:
        return index == len(self.stages) - 1

    def capped(self, index: int, stage_step: int, progress: float) -> bool:
        """Whether stage ``index`` has used its share: its own ``steps``, or ``until`` of the budget."""
        stage = self.stages[index]
        if self.is_last(index):
            return False
        if stage.steps is not None and stage_step >= stage.steps:
            return True
        return stage.until is not None and progress >= stage.until

    def gate_opens(self, index: int, exact: float) -> bool:
        """Whether the measured exact match on the stage's gate rows ends stage ``index``."""
        gate = self.stages[index].gate
        return gate is not None and not self.is_last(index) and exact >= gate

    def data(self, index: int) -> StageData:
        """Stage ``index``'s samples: its dataset (the run's, another, or a generated variant), filtered."""
        cfg, stage = self.cfg, self.stages[index]
        if stage.task:
            data_dir = self.in_order(lambda: curriculum_dataset(Path(cfg.data), stage.task, stage.rows))
        else:
            data_dir = Path(stage.data) if stage.data else Path(cfg.data)
        if data_dir.resolve() == Path(cfg.data).resolve():
            cache, rows = self.main_cache, self.main_rows
        else:
            check_dataset(data_dir)
            cache = self.load_cache(data_dir)
            rows = np.arange(len(cache))
        matching = rows_matching(data_dir, stage.where)
        if matching is not None:
            rows = np.intersect1d(rows, matching)
        gate = None
        if stage.gate is not None:
            rows, held = gate_rows(rows, cfg.val_samples or 256, cfg.seed + index)
            gate, _ = select_samples(cache, held, max_len=self.max_len, overlength=cfg.overlength,
                                     sep_id=self.sep_id, where=f"{data_dir} (gate rows)")
        samples, counts = select_samples(cache, rows, max_len=self.max_len, overlength=cfg.overlength,
                                         sep_id=self.sep_id, where=str(data_dir))
        return StageData(samples, gate, data_dir, counts)
