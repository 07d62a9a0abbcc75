"""What one cell does: generate its dataset (shared), train its model, evaluate it.

This is the only module of the room that calls the data, train and eval
rooms. A :class:`CellJob` is plain data, so it can be sent to a worker
process; :func:`run_cell` returns the dict that becomes the cell's
``result.json``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lolameme.errors import ConfigError, ExperimentError
from lolameme.experiments.spec import DatasetSpec, ExperimentSpec, Scale


def dataset_overrides(dataset: DatasetSpec, scale: Scale) -> tuple[str, dict[str, Any]]:
    """(task, overrides): the preset, then the scale's overrides for the task, then the dataset's own."""
    from lolameme.data.presets import get_preset

    task = get_preset(dataset.preset).task
    return task, {**scale.data.get(task, {}), **dataset.overrides}


def prepare_dataset(dataset: DatasetSpec, scale: Scale, out: Path, *, workers: int = 1, progress: bool = False) -> Path:
    """Generate ``dataset`` at ``scale`` into ``out`` unless a complete copy (its manifest) is there.

    The dataset's random seed is the preset's (or an override's), never a
    cell's seed: every model and seed of an experiment sees the same corpus.
    """
    from lolameme.data import generate_dataset

    if (out / "manifest.json").is_file():
        return out
    _, overrides = dataset_overrides(dataset, scale)
    out.parent.mkdir(parents=True, exist_ok=True)
    generate_dataset(dataset.preset, out, overrides=overrides, workers=workers, overwrite=True, progress=progress)
    return out


def recipe_values(name: str | None) -> dict[str, Any]:
    """The training keys of a named recipe (learning-recipes issue), or {} for none."""
    if name is None:
        return {}
    try:
        from lolameme.train.recipes import load_recipe
    except ImportError as exc:
        raise ConfigError(f"recipe {name!r} is named but this version of lolameme has no recipes "
                          f"(lolameme.train.recipes): {exc}") from None
    recipe = load_recipe(name)
    return dict(recipe) if isinstance(recipe, dict) else recipe.model_dump(exclude_unset=True)


@dataclass(frozen=True)
class CellJob:
    """Everything a worker needs to run one cell (picklable)."""

    spec: str
    scale: str
    cell_id: str
    dataset: str
    x: float | None
    model: str
    seed: int
    data_dir: Path
    run_dir: Path
    tokenizer: str
    splits: tuple[str, ...]
    train: dict[str, Any] = field(default_factory=dict)  # recipe keys, then the scale's train keys
    eval_limit: int | None = None
    eval_batch_size: int = 64
    threads: int = 1
    gpu: int | None = None
    progress: bool = False


def make_job(spec: ExperimentSpec, scale_name: str, cell, data_dir: Path, run_dir: Path, *,
             threads: int, gpu: int | None = None, progress: bool = False) -> CellJob:
    scale = spec.scale(scale_name)
    task, _ = dataset_overrides(spec.dataset(cell.dataset), scale)
    if task not in scale.tokenizer:
        raise ConfigError(f"experiment {spec.name!r}, scale {scale_name!r}: no tokenizer for task {task!r} "
                          f"(scales.{scale_name}.tokenizer names: {', '.join(scale.tokenizer) or 'none'})")
    return CellJob(
        spec=spec.name, scale=scale_name, cell_id=cell.id, dataset=cell.dataset, x=spec.dataset(cell.dataset).x,
        model=cell.model, seed=cell.seed, data_dir=data_dir, run_dir=run_dir, tokenizer=scale.tokenizer[task],
        splits=tuple(spec.splits_of(cell.dataset)), train={**recipe_values(scale.recipe), **scale.train},
        eval_limit=scale.eval.limit, eval_batch_size=scale.eval.batch_size, threads=threads, gpu=gpu,
        progress=progress,
    )


def run_cell(job: CellJob) -> dict[str, Any]:
    """Train and evaluate one cell; return its result record (written by the caller, last)."""
    import torch

    from lolameme import __version__
    from lolameme.eval.evaluate import EvalSettings, evaluate_run
    from lolameme.train.checkpoint import load_run
    from lolameme.train.config import make_config
    from lolameme.train.trainer import train

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(job.threads)
    if job.gpu is not None:
        torch.cuda.set_device(job.gpu)
    started = time.time()
    try:
        config = make_config({**job.train, "data": str(job.data_dir), "out": str(job.run_dir), "model": job.model,
                              "tokenizer": job.tokenizer, "seed": job.seed, "progress": job.progress},
                             source=f"training config of cell {job.cell_id}")
        trained = train(config)
        eval_started = time.monotonic()
        settings = EvalSettings(batch_size=job.eval_batch_size, limit=job.eval_limit, progress=job.progress)
        reports = evaluate_run(job.run_dir, data=job.data_dir, splits=list(job.splits), settings=settings)
        eval_seconds = time.monotonic() - eval_started
        parameters = sum(p.numel() for p in load_run(job.run_dir).model.parameters())
    finally:
        torch.set_num_threads(previous_threads)
    missing = [s for s in job.splits if s not in reports]
    if missing:
        raise ExperimentError(f"cell {job.cell_id}: evaluation returned no scores for split(s) {missing}")
    keep = ("n", "exact_match", "majority_baseline", "majority_answer", "token_accuracy", "token_loss", "slices")
    return {
        "spec": job.spec, "scale": job.scale, "cell": job.cell_id, "dataset": job.dataset, "x": job.x,
        "model": job.model, "seed": job.seed, "package_version": __version__,
        "splits": {split: {k: reports[split].get(k) for k in keep} for split in job.splits},
        "compute": {
            "train_seconds": trained.elapsed, "eval_seconds": eval_seconds, "steps": trained.step,
            "tokens": trained.tokens, "parameters": parameters, "threads": job.threads,
            "device": _run_device(job.run_dir),
        },
        "best": trained.best, "started": started, "finished": time.time(), "pid": os.getpid(),
    }


def _run_device(run_dir: Path) -> str | None:
    """The device the trainer reported in its first metrics event."""
    import json

    try:
        with open(run_dir / "metrics.jsonl", encoding="utf-8") as handle:
            return json.loads(handle.readline()).get("device")
    except (OSError, ValueError):
        return None
