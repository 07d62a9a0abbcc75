"""Run an experiment: its datasets once, then every pending cell, ``jobs`` at a time.

Resuming is the normal way to run: cells with a result are skipped, an
interrupted cell (claim of a dead process, or a run directory without a
result) is wiped and redone, and a failed cell is released so the next run
retries it. With ``jobs`` > 1 cells run side by side in worker processes, each
limited to ``cores // jobs`` torch threads (or given one GPU each, round
robin, when GPUs are present). With ``nproc`` > 1 each cell itself runs
under ``torchrun`` in that many data-parallel processes (one GPU each).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lolameme.errors import ExperimentError, LolamemeError
from lolameme.experiments.backend import CellJob, check_training, execute_cell, make_job, prepare_dataset, settings_key
from lolameme.experiments.cells import Cell, enumerate_cells, seed_list, select_shard
from lolameme.experiments.models import describe_mapping, model_mapping
from lolameme.experiments.results import build_table, write_table
from lolameme.experiments.spec import ExperimentSpec
from lolameme.experiments.store import WorkDir, default_work_dir

CellFn = Callable[[CellJob], dict[str, Any]]


@dataclass
class RunSummary:
    cells: int  # in this shard
    skipped: int  # already done, or running in another process
    finished: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # cell id -> error message
    work: Path | None = None


def keyed_work_dir(spec: ExperimentSpec, scale: str, root: Path, cells: list[Cell]) -> WorkDir:
    """The work directory, told each cell's settings key so that it can tell done cells from stale ones."""
    return WorkDir(Path(root), keys={c.id: settings_key(spec, scale, c) for c in cells})


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        return 0


def jobs_for_cells_per_gpu(cells_per_gpu: int, gpus: int | None = None) -> int:
    """How many cells to run side by side so that each GPU holds ``cells_per_gpu`` of them.

    A tiny or small model leaves a modern GPU mostly idle, so several cells share one; the
    runner hands GPUs to job slots round robin, so ``jobs = cells_per_gpu x GPUs`` places exactly
    ``cells_per_gpu`` on each.
    """
    gpus = gpu_count() if gpus is None else gpus
    if cells_per_gpu < 1:
        raise ExperimentError(f"--cells-per-gpu must be at least 1, got {cells_per_gpu}")
    if gpus == 0:
        raise ExperimentError("--cells-per-gpu needs a CUDA device, and this machine has none; use --jobs for CPU cells")
    return cells_per_gpu * gpus


def run_experiment(spec: ExperimentSpec, scale: str, *, seeds: int | None = None, jobs: int = 1, nproc: int = 1,
                   threads: int | None = None, shard: tuple[int, int] | None = None, work: Path | None = None, progress: bool = False,
                   log: Callable[[str], None] = print, cell_fn: CellFn = execute_cell) -> RunSummary:
    """Run every pending cell of ``spec`` at ``scale`` (of one shard) and rebuild the results table.

    ``threads`` is torch's thread count per cell (default: cores // jobs). On a
    busy machine one thread per job is far faster than oversubscribed threads.
    ``cell_fn`` is the function a cell runs (train + evaluate); tests pass a
    cheap one to exercise resuming and sharding without training.
    """
    if jobs < 1 or nproc < 1 or (threads is not None and threads < 1):
        raise ExperimentError(f"--jobs, --nproc and --threads must be at least 1, got {jobs}, {nproc}, {threads}")
    scale_cfg = spec.scale(scale)
    if cell_fn is execute_cell:
        check_training(spec, scale)
    n_seeds = seeds or scale_cfg.seeds
    all_cells = enumerate_cells(spec, scale, seed_list(n_seeds))
    wd = keyed_work_dir(spec, scale, Path(work) if work is not None else default_work_dir(spec.name, scale), all_cells)
    cells = select_shard(all_cells, shard)
    log(describe_mapping(model_mapping(spec.models, scale_cfg.models), scale_cfg.models))
    states = {c.id: wd.state(c) for c in cells}
    pending = [c for c in cells if states[c.id] not in ("done", "running")]
    stale = sum(1 for c in pending if states[c.id] == "stale")
    summary = RunSummary(cells=len(cells), skipped=len(cells) - len(pending), work=wd.root)
    shard_text = f" (shard {shard[0]}/{shard[1]})" if shard else ""
    log(f"{spec.name} at {scale}{shard_text}: {len(cells)} cells, {summary.skipped} done or running elsewhere, "
        f"{len(pending)} to run ({stale} stale: the spec changed since they ran), {jobs} job(s); work dir {wd.root}")

    needed = list(dict.fromkeys(c.dataset for c in pending))
    for dataset_id in needed:
        out = wd.dataset_dir(dataset_id)
        if prepare_dataset(spec.dataset(dataset_id), scale_cfg, out, workers=max(1, min(jobs, cpu_cores())),
                           progress=progress):
            log(f"generated dataset {dataset_id} -> {out}")

    threads = threads or max(1, cpu_cores() // jobs)
    gpus = gpu_count()

    def job_for(cell: Cell, slot: int, show: bool) -> CellJob:
        devices = tuple((slot * nproc + k) % gpus for k in range(nproc)) if gpus else ()
        return make_job(spec, scale, cell, wd.dataset_dir(cell.dataset), wd.run_dir(cell), threads=threads,
                        gpus=devices, nproc=nproc, progress=show)

    if jobs == 1:
        for cell in pending:
            _run_one(wd, cell, lambda c: job_for(c, 0, progress), cell_fn, summary, log)
    else:
        _run_pool(wd, pending, jobs, lambda c, slot: job_for(c, slot, False), cell_fn, summary, log)

    write_table(build_table(wd.results()), wd.results_table())
    log(f"{len(summary.finished)} cell(s) finished, {len(summary.failed)} failed; results table {wd.results_table()}")
    if summary.failed:
        details = "; ".join(f"{k}: {v if len(v) < 300 else v[:300] + ' ...'}" for k, v in summary.failed.items())
        raise ExperimentError(f"{len(summary.failed)} cell(s) failed and will be retried by the next run: {details}")
    return summary


def _run_one(wd: WorkDir, cell: Cell, job_for: Callable[[Cell], CellJob], cell_fn: CellFn, summary: RunSummary,
             log) -> None:
    if not wd.claim(cell):
        summary.skipped += 1
        return
    log(f"cell {cell.id}: training")
    try:
        result = cell_fn(job_for(cell))
    except LolamemeError as exc:
        wd.release(cell)
        summary.failed[cell.id] = f"{type(exc).__name__}: {exc}"
        log(f"cell {cell.id}: failed: {type(exc).__name__}: {exc}")
        return
    except Exception as exc:  # a bug: show it, keep the other cells going
        wd.release(cell)
        traceback.print_exc(file=sys.stderr)
        summary.failed[cell.id] = f"{type(exc).__name__}: {exc}"
        return
    except BaseException:  # Ctrl-C: the run directory stays, so the next run redoes the cell
        wd.release(cell)
        raise
    wd.finish(cell, result)
    summary.finished.append(cell.id)
    log(f"cell {cell.id}: done " + _scores_line(result))


def _scores_line(result: dict[str, Any]) -> str:
    return " ".join(f"{split}={scores.get('exact_match', float('nan')):.4f}"
                    for split, scores in result.get("splits", {}).items())


def _run_pool(wd: WorkDir, pending: list[Cell], jobs: int, job_for: Callable[[Cell, int], CellJob],
              cell_fn: CellFn, summary: RunSummary, log) -> None:
    """Keep ``jobs`` cells in flight; claim each just before it starts, so other processes can share the list."""
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no inherited torch thread pools
    queue = list(pending)
    running: dict[Future, tuple[Cell, int]] = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        try:
            while queue or running:
                free_slots = [s for s in range(jobs) if s not in {slot for _, slot in running.values()}]
                while queue and free_slots:
                    cell = queue.pop(0)
                    if not wd.claim(cell):
                        summary.skipped += 1
                        continue
                    slot = free_slots.pop(0)
                    log(f"cell {cell.id}: training (job {slot})")
                    running[pool.submit(cell_fn, job_for(cell, slot))] = (cell, slot)
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    cell, _ = running.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:  # LolamemeError or a bug, raised in the worker
                        wd.release(cell)
                        summary.failed[cell.id] = f"{type(exc).__name__}: {exc}"
                        log(f"cell {cell.id}: failed: {type(exc).__name__}: {exc}")
                        continue
                    wd.finish(cell, result)
                    summary.finished.append(cell.id)
                    log(f"cell {cell.id}: done " + _scores_line(result))
        except BaseException:
            for future, (cell, _) in running.items():
                future.cancel()
                wd.release(cell)
            raise
