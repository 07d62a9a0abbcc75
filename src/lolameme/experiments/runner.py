"""Run an experiment: its datasets once, then every pending cell, ``jobs`` at a time.

Resuming is the normal way to run: cells with a result are skipped, an
interrupted cell (expired claim, or a run directory without a result) is
wiped and redone, and a failed cell is released so the next run retries it.
With ``jobs`` > 1 cells run side by side in worker processes, each limited to
``cores // jobs`` torch threads (or given one GPU each, round robin, when GPUs
are present). With ``nproc`` > 1 each cell itself runs under ``torchrun`` in
that many data-parallel processes (one GPU each). With the Ray backend each
cell is a Ray task (:mod:`lolameme.experiments.ray_backend`). Whatever runs a
cell, this process claims it, keeps its claim's heartbeat fresh, and writes
its result: the work directory stays the one record of what is done.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
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
from lolameme.experiments.ray_backend import connect_ray, ray_submitter
from lolameme.experiments.results import build_table, write_table
from lolameme.experiments.spec import ExperimentSpec
from lolameme.experiments.store import Heartbeat, WorkDir, default_work_dir

CellFn = Callable[[CellJob], dict[str, Any]]
BACKENDS = ("local", "ray")


@dataclass
class RunSummary:
    cells: int  # in this shard
    skipped: int  # already done, or running in another process
    finished: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # cell id -> error message
    work: Path | None = None


def keyed_work_dir(spec: ExperimentSpec, scale: str, root: Path, cells: list[Cell],
                   records: Path | None = None) -> WorkDir:
    """The work directory, told each cell's settings key so that it can tell done cells from stale ones,
    with the committed ``records`` (if any) already taken as the results of the cells they match."""
    wd = WorkDir(Path(root), keys={c.id: settings_key(spec, scale, c) for c in cells}, records=records)
    wd.adopt_records(cells)
    return wd


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


def run_experiment(spec: ExperimentSpec, scale: str, *, seeds: int | None = None, jobs: int | None = None,
                   nproc: int = 1, threads: int | None = None, shard: tuple[int, int] | None = None,
                   work: Path | None = None, progress: bool = False, log: Callable[[str], None] = print,
                   cell_fn: CellFn = execute_cell, backend: str = "local", address: str | None = None,
                   log_to: tuple[str, ...] | None = None, records: Path | None = None) -> RunSummary:
    """Run every pending cell of ``spec`` at ``scale`` (of one shard) and rebuild the results table.

    ``backend`` "local" runs ``jobs`` cells side by side in worker processes of
    this machine (default 1, in this process); "ray" runs each cell as a Ray task
    on the cluster at ``address`` (a local one when None), ``jobs`` capping the
    cells in flight (default: every pending cell, Ray queues them by resources).
    ``threads`` is torch's thread count per cell (local default: cores // jobs;
    Ray default 1, also the CPUs a task asks for). ``cell_fn`` is the function a
    cell runs (train + evaluate); tests pass a cheap one.
    """
    if backend not in BACKENDS:
        raise ExperimentError(f"--backend {backend!r}: accepted: {', '.join(BACKENDS)}")
    if (jobs is not None and jobs < 1) or nproc < 1 or (threads is not None and threads < 1):
        raise ExperimentError(f"--jobs, --nproc and --threads must be at least 1, got {jobs}, {nproc}, {threads}")
    scale_cfg = spec.scale(scale)
    if cell_fn is execute_cell:
        check_training(spec, scale)
    ray = connect_ray(address, log) if backend == "ray" else None  # fail on a bad address before any work
    all_cells = enumerate_cells(spec, scale, seed_list(seeds or scale_cfg.seeds))
    wd = keyed_work_dir(spec, scale, Path(work) if work is not None else default_work_dir(spec.name, scale), all_cells,
                        records)
    cells = select_shard(all_cells, shard)
    log(describe_mapping(model_mapping(spec.models, scale_cfg.models), scale_cfg.models))
    states = {c.id: wd.state(c) for c in cells}
    pending = [c for c in cells if states[c.id] not in ("done", "running")]
    stale = sum(1 for c in pending if states[c.id] == "stale")
    summary = RunSummary(cells=len(cells), skipped=len(cells) - len(pending), work=wd.root)
    slots = jobs or (max(1, len(pending)) if ray else 1)
    shard_text = f" (shard {shard[0]}/{shard[1]})" if shard else ""
    where = f"on Ray, up to {slots} in flight" if ray else f"{slots} job(s)"
    log(f"{spec.name} at {scale}{shard_text}: {len(cells)} cells, {summary.skipped} done or running elsewhere, "
        f"{len(pending)} to run ({stale} stale: the spec changed since they ran), {where}; work dir {wd.root}")

    _prepare_datasets(spec, scale_cfg, wd, pending, max(1, min(slots, cpu_cores())), progress, log)
    threads = threads or (1 if ray else max(1, cpu_cores() // slots))
    gpus = 0 if ray else gpu_count()  # on Ray, a task sees only the GPUs Ray gave it

    def job_for(cell: Cell, slot: int, show: bool) -> CellJob:
        devices = tuple((slot * nproc + k) % gpus for k in range(nproc)) if gpus else ()
        return make_job(spec, scale, cell, wd.dataset_dir(cell.dataset), wd.run_dir(cell), threads=threads,
                        gpus=devices, nproc=nproc, progress=show, log_to=log_to)

    elsewhere = sum(states[c.id] == "running" for c in cells)  # another process's to count, not ours
    clock = CellClock(total=len(cells) - elsewhere, done=sum(states[c.id] == "done" for c in cells), slots=slots)
    with Heartbeat(wd) as heart:
        book = _Book(wd, summary, log, clock, heart)
        if ray is not None:
            submit = ray_submitter(ray, cell_fn, threads, nproc)
            _run_futures(book, pending, slots, lambda cell, slot: submit(job_for(cell, slot, False)))
        else:
            _run_local(book, pending, slots, lambda cell, slot: job_for(cell, slot, progress and slots == 1), cell_fn)

    return _close_run(wd, summary, log)


def _prepare_datasets(spec: ExperimentSpec, scale_cfg: Any, wd: WorkDir, pending: list[Cell], workers: int,
                      progress: bool, log: Callable[[str], None]) -> None:
    """Generate (under the dataset lock) every dataset a pending cell needs and is not there yet."""
    for dataset_id in dict.fromkeys(c.dataset for c in pending):
        out = wd.dataset_dir(dataset_id)
        if prepare_dataset(spec.dataset(dataset_id), scale_cfg, out, workers=workers, progress=progress):
            log(f"generated dataset {dataset_id} -> {out}")


def _close_run(wd: WorkDir, summary: RunSummary, log: Callable[[str], None]) -> RunSummary:
    """Rebuild the results table; failed cells are an ExperimentError (they are retried by the next run)."""
    write_table(build_table(wd.results()), wd.results_table())
    log(f"{len(summary.finished)} cell(s) finished, {len(summary.failed)} failed; results table {wd.results_table()}")
    if summary.failed:
        details = "; ".join(f"{k}: {v if len(v) < 300 else v[:300] + ' ...'}" for k, v in summary.failed.items())
        raise ExperimentError(f"{len(summary.failed)} cell(s) failed and will be retried by the next run: {details}")
    return summary


@dataclass
class CellClock:
    """Cells done, running and left in this shard (those another process runs not counted), and an ETA."""

    total: int
    done: int  # including cells finished before this run
    slots: int  # cells that can run at once
    failed: int = 0
    running: dict[str, float] = field(default_factory=dict)  # cell id -> start (monotonic)
    durations: list[float] = field(default_factory=list)

    def start(self, cell: Cell) -> None:
        self.running[cell.id] = time.monotonic()

    def stop(self, cell: Cell, ok: bool) -> None:
        started = self.running.pop(cell.id, None)
        if ok:
            self.done += 1
            if started is not None:
                self.durations.append(time.monotonic() - started)
        else:
            self.failed += 1

    def line(self) -> str:
        left = max(0, self.total - self.done - self.failed - len(self.running))
        failed = f", {self.failed} failed" if self.failed else ""
        head = f"[{self.done} done, {len(self.running)} running, {left} left of {self.total}{failed}"
        if not left and not self.running:
            return head + "]"
        if not self.durations:
            return head + "; ETA after the first cell finishes]"
        mean = sum(self.durations) / len(self.durations)
        now = time.monotonic()
        work = left * mean + sum(max(mean - (now - t), 0.0) for t in self.running.values())
        return head + f"; ETA {_duration(work / max(1, min(self.slots, left + len(self.running))))}]"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 90 else f"{int(minutes // 60)} h {minutes % 60:.0f} min"


@dataclass
class _Book:
    """The bookkeeping every backend shares: claim, heartbeat, result marker, counts and log lines."""

    wd: WorkDir
    summary: RunSummary
    log: Callable[[str], None]
    clock: CellClock
    heart: Heartbeat

    def start(self, cell: Cell, where: str = "") -> bool:
        if not self.wd.claim(cell):
            self.summary.skipped += 1
            self.clock.total -= 1  # another process has it: not ours to count
            return False
        self.heart.hold(cell)
        self.clock.start(cell)
        self.log(f"cell {cell.id}: training{where} {self.clock.line()}")
        return True

    def finish(self, cell: Cell, result: dict[str, Any]) -> None:
        self.heart.drop(cell)
        self.wd.finish(cell, result)
        self.summary.finished.append(cell.id)
        self.clock.stop(cell, ok=True)
        self.log(f"cell {cell.id}: done {_scores_line(result)} {self.clock.line()}")

    def fail(self, cell: Cell, exc: BaseException) -> None:
        self.heart.drop(cell)
        self.wd.release(cell)
        exc = getattr(exc, "cause", None) or exc  # a Ray task error wraps the cell's own
        self.summary.failed[cell.id] = f"{type(exc).__name__}: {exc}"
        self.clock.stop(cell, ok=False)
        self.log(f"cell {cell.id}: failed: {type(exc).__name__}: {exc} {self.clock.line()}")


def _run_local(book: _Book, pending: list[Cell], slots: int, job_for: Callable[[Cell, int], CellJob],
               cell_fn: CellFn) -> None:
    """One cell after another in this process, or ``slots`` side by side in worker processes."""
    if slots == 1:
        for cell in pending:
            _run_one(book, cell, lambda c: job_for(c, 0), cell_fn)
        return
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no inherited torch thread pools
    with ProcessPoolExecutor(max_workers=slots, mp_context=context) as pool:
        _run_futures(book, pending, slots, lambda cell, slot: pool.submit(cell_fn, job_for(cell, slot)))


def _run_one(book: _Book, cell: Cell, job_for: Callable[[Cell], CellJob], cell_fn: CellFn) -> None:
    if not book.start(cell):
        return
    try:
        result = cell_fn(job_for(cell))
    except LolamemeError as exc:
        book.fail(cell, exc)
        return
    except Exception as exc:  # a bug: show it, keep the other cells going
        traceback.print_exc(file=sys.stderr)
        book.fail(cell, exc)
        return
    except BaseException:  # Ctrl-C: the run directory stays, so the next run redoes the cell
        book.heart.drop(cell)
        book.wd.release(cell)
        raise
    book.finish(cell, result)


def _scores_line(result: dict[str, Any]) -> str:
    return " ".join(f"{split}={scores.get('exact_match', float('nan')):.4f}"
                    for split, scores in result.get("splits", {}).items())


def _run_futures(book: _Book, pending: list[Cell], slots: int, submit: Callable[[Cell, int], Future]) -> None:
    """Keep ``slots`` cells in flight; claim each just before it starts, so other processes can share the list."""
    queue = list(pending)
    running: dict[Future, tuple[Cell, int]] = {}
    try:
        while queue or running:
            free_slots = [s for s in range(slots) if s not in {slot for _, slot in running.values()}]
            while queue and free_slots:
                cell = queue.pop(0)
                if not book.start(cell, f" (job {free_slots[0]})"):
                    continue
                slot = free_slots.pop(0)
                running[submit(cell, slot)] = (cell, slot)
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                cell, _ = running.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # LolamemeError or a bug, raised in the worker
                    book.fail(cell, exc)
                    continue
                book.finish(cell, result)
    except BaseException:
        for future, (cell, _) in running.items():
            future.cancel()
            book.heart.drop(cell)
            book.wd.release(cell)
        raise
