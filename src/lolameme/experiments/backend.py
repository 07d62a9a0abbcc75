"""What one cell does: generate its dataset (shared), train its model, evaluate it.

This is the only module of the experiments package that calls the data,
train and eval packages. A :class:`CellJob` is plain data, so it can be sent to a worker
process; :func:`run_cell` returns the dict that becomes the cell's
``result.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lolameme.atomic import atomic_write_json, atomic_write_text
from lolameme.errors import ConfigError, ExperimentError
from lolameme.experiments.spec import DatasetSpec, ExperimentSpec, Scale


def dataset_overrides(dataset: DatasetSpec, scale: Scale) -> tuple[str, dict[str, Any]]:
    """(task, overrides): the preset, then the scale's overrides for the task, then the dataset's own."""
    from lolameme.data.presets import get_preset

    task = get_preset(dataset.preset).task
    return task, {**scale.data.get(task, {}), **dataset.overrides}


#: Beside WORK/datasets/<id>/: the preset and overrides the dataset was generated from.
DATASET_SETTINGS_SUFFIX = ".settings.json"


def dataset_settings(dataset: DatasetSpec, scale: Scale) -> dict[str, Any]:
    """What a dataset's content depends on: its preset and the overrides applied to it."""
    _, overrides = dataset_overrides(dataset, scale)
    return {"preset": dataset.preset, "overrides": overrides}


def prepare_dataset(dataset: DatasetSpec, scale: Scale, out: Path, *, workers: int = 1, progress: bool = False) -> bool:
    """Generate ``dataset`` at ``scale`` into ``out`` unless a complete copy made from the same settings is there.

    Returns whether it generated. Runs under the dataset directory's lock
    (waiting for it), so concurrent sweeps on one work directory generate a
    shared dataset once and the others reuse it. A reused copy is verified
    against its manifest; one that fails is generated again (generation is
    deterministic, so cells trained on the original saw the same bytes).
    A copy made from other settings (the spec was edited) is replaced; the
    cells trained on it are stale too, because their settings key includes the
    dataset's settings (:func:`settings_key`). A copy without a settings file
    (made before these files existed) is kept.
    The dataset's random seed is the preset's (or an override's), never a
    cell's seed: every model and seed of an experiment sees the same corpus.
    """
    from lolameme.atomic import atomic_write_text
    from lolameme.data import generate_dataset
    from lolameme.data.io import dataset_lock, verify_dataset
    from lolameme.errors import DatasetError

    settings = dataset_settings(dataset, scale)
    recorded = out.with_name(out.name + DATASET_SETTINGS_SUFFIX)
    out.parent.mkdir(parents=True, exist_ok=True)
    with dataset_lock(out, wait=True):
        if (out / "manifest.json").is_file():
            if not recorded.is_file() or json.loads(recorded.read_text(encoding="utf-8")) == settings:
                try:
                    verify_dataset(out)
                    return False
                except DatasetError:
                    pass
        generate_dataset(dataset.preset, out, overrides=settings["overrides"], workers=workers, overwrite=True,
                         progress=progress)
        atomic_write_text(recorded, json.dumps(settings, sort_keys=True, default=str))
    return True


def settings_key(spec: ExperimentSpec, scale_name: str, cell) -> str:
    """A short hash of everything a cell's result depends on, so a spec edit marks its cells stale.

    Dataset settings, model, seed, tokenizer, training keys (recipe, then the
    scale's), evaluated splits and row limit; not threads, devices or batch size
    of evaluation, which change how fast a cell runs, not what it computes.
    """
    scale = spec.scale(scale_name)
    dataset = spec.dataset(cell.dataset)
    task, _ = dataset_overrides(dataset, scale)
    train = {k: v for k, v in train_values(spec, scale_name, cell.setting, cell.model).items() if k != "recipe"}
    parts = {"dataset": dataset_settings(dataset, scale), "model": cell.model, "seed": cell.seed,
             "tokenizer": scale.tokenizer.get(task), "train": train,
             "splits": list(spec.splits_of(cell.dataset)), "eval_limit": scale.eval.limit}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def train_values(spec: ExperimentSpec, scale_name: str, setting: tuple[tuple[str, Any], ...] = (),
                 model: str = "") -> dict[str, Any]:
    """A cell's training keys: its recipe (the setting's ``recipe``, else the scale's) for the model's
    family, then the scale's keys, then the sweep setting's.

    Resolved by :func:`lolameme.train.config.resolve_values`, the trainer's one resolution, and
    returned with the recipe named. A scale that names no recipe trains with the trainer's
    defaults, not each model's default recipe: every model of an experiment trains the same way.
    """
    from lolameme.train.config import NO_RECIPE, resolve_values

    scale = spec.scale(scale_name)
    own = dict(setting)
    recipe = own.pop("recipe", scale.recipe)
    values = resolve_values({**own, "model": model}, recipe=recipe or NO_RECIPE, scale=scale.train)
    return {k: v for k, v in values.items() if k != "model"}


def check_training(spec: ExperimentSpec, scale_name: str) -> None:
    """Validate the training keys of every setting (recipe, scale, sweep) and model once, before any work starts."""
    from lolameme.experiments.models import model_mapping
    from lolameme.experiments.spec import setting_label
    from lolameme.train.config import validate_config

    scale = spec.scale(scale_name)
    for model in sorted(set(model_mapping(spec.models, scale.models).values())):
        for setting in spec.settings():
            where = f" with sweep setting {setting_label(setting)}" if setting else ""
            validate_config({**train_values(spec, scale_name, setting, model), "data": "DATA", "out": "OUT",
                             "model": model},
                            source=f"training settings of experiment {spec.name!r} at scale {scale_name!r} for "
                                   f"{model}{where} (recipe, then scales.{scale_name}.train, then the sweep)")


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
    train: dict[str, Any] = field(default_factory=dict)  # resolved training keys (train_values), recipe named
    eval_limit: int | None = None
    eval_batch_size: int = 64
    threads: int = 1
    gpus: tuple[int, ...] = ()  # GPU indices for this cell (empty: CPU, or the default device)
    nproc: int = 1  # processes per cell: > 1 runs the cell under torchrun (data parallel)
    progress: bool = False
    log_to: tuple[str, ...] = ()  # trackers mirroring the run's metrics.jsonl (tensorboard, wandb)

    def to_json(self) -> dict[str, Any]:
        values = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {**values, "data_dir": str(self.data_dir), "run_dir": str(self.run_dir), "splits": list(self.splits),
                "gpus": list(self.gpus), "log_to": list(self.log_to)}

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> CellJob:
        return cls(**{**values, "data_dir": Path(values["data_dir"]), "run_dir": Path(values["run_dir"]),
                      "splits": tuple(values["splits"]), "gpus": tuple(values["gpus"]),
                      "log_to": tuple(values.get("log_to", ()))})


def make_job(spec: ExperimentSpec, scale_name: str, cell, data_dir: Path, run_dir: Path, *,
             threads: int, gpus: tuple[int, ...] = (), nproc: int = 1, progress: bool = False,
             log_to: tuple[str, ...] | None = None) -> CellJob:
    """The job of one cell; ``log_to`` (None: the scale's ``log_to``) names the trackers to mirror metrics to."""
    scale = spec.scale(scale_name)
    task, _ = dataset_overrides(spec.dataset(cell.dataset), scale)
    if task not in scale.tokenizer:
        raise ConfigError(f"experiment {spec.name!r}, scale {scale_name!r}: no tokenizer for task {task!r} "
                          f"(scales.{scale_name}.tokenizer names: {', '.join(scale.tokenizer) or 'none'})")
    return CellJob(
        spec=spec.name, scale=scale_name, cell_id=cell.id, dataset=cell.dataset, x=spec.dataset(cell.dataset).x,
        model=cell.model, seed=cell.seed, data_dir=data_dir, run_dir=run_dir, tokenizer=scale.tokenizer[task],
        splits=tuple(spec.splits_of(cell.dataset)), train=train_values(spec, scale_name, cell.setting, cell.model),
        eval_limit=scale.eval.limit, eval_batch_size=scale.eval.batch_size, threads=threads, gpus=gpus,
        nproc=nproc, progress=progress, log_to=tuple(scale.log_to if log_to is None else log_to),
    )


def execute_cell(job: CellJob) -> dict[str, Any]:
    """Run one cell in this process, or under ``torchrun`` when it asks for several processes."""
    return run_cell(job) if job.nproc == 1 else run_cell_torchrun(job)


def run_cell_torchrun(job: CellJob) -> dict[str, Any]:
    """Train the cell data-parallel in ``job.nproc`` processes; rank 0 evaluates and reports.

    The job travels as JSON beside the run directory; rank 0 writes the
    result there and this process reads it back.
    """
    import json
    import subprocess
    import sys

    cell_dir = job.run_dir.parent
    cell_dir.mkdir(parents=True, exist_ok=True)
    job_file, result_file = cell_dir / "job.json", cell_dir / "worker-result.json"
    atomic_write_json(job_file, job.to_json())
    result_file.unlink(missing_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, job.threads // job.nproc)))
    if job.gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in job.gpus)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={job.nproc}",
               "-m", "lolameme.experiments.worker", str(job_file), str(result_file)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not result_file.is_file():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise ExperimentError(f"cell {job.cell_id}: torchrun with {job.nproc} processes failed "
                              f"(exit {done.returncode}):\n{tail}")
    return json.loads(result_file.read_text(encoding="utf-8"))


def run_cell(job: CellJob) -> dict[str, Any] | None:
    """Train and evaluate one cell; return its result record (written by the caller, last).

    Under torchrun every rank trains; only rank 0 evaluates, and the others return None.
    """
    import torch

    from lolameme import __version__
    from lolameme.eval.evaluate import EvalSettings, evaluate_run
    from lolameme.train.checkpoint import load_run
    from lolameme.train.config import resolve_config
    from lolameme.train.tracking import open_mirrors
    from lolameme.train.trainer import train

    rank = int(os.environ.get("RANK", "0"))
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, job.threads // job.nproc))
    if job.gpus and job.nproc == 1:
        torch.cuda.set_device(job.gpus[0])
    started = time.time()
    try:
        config = resolve_config({**job.train, "data": str(job.data_dir), "out": str(job.run_dir),
                                 "model": job.model, "tokenizer": job.tokenizer, "seed": job.seed,
                                 "progress": job.progress}, source=f"training config of cell {job.cell_id}")
        with open_mirrors(job.log_to, job.run_dir, config.to_json()) as mirrors:
            trained = train(config, mirrors=mirrors)
        if rank != 0:
            return None
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
            "tokens": trained.tokens, "parameters": parameters, "threads": job.threads, "processes": job.nproc,
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
