"""``lolameme experiment run|status|report|list``: the paper's experiments from their specs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Optional

import typer

experiment_app = typer.Typer(help="Run the paper's experiments from specs (shipped with the package, or your own "
                                  "with --specs DIR / $LOLAMEME_SPECS) and report them.",
                             no_args_is_help=True)

SPEC_ARG = typer.Argument(..., help="experiment name (see `lolameme experiment list`) or path to a spec file")
SPECS_OPT = typer.Option([], "--specs", help="a folder of your own specs, searched before the package's "
                         "(repeatable; also $LOLAMEME_SPECS, separated by ':')")
SCALE_OPT = typer.Option("tiny", "--scale", "-s", help="micro, tiny, small or paper")
SEEDS_OPT = typer.Option(None, "--seeds", min=1, help="number of seeds, 0..N-1 (default: the scale's)")
WORK_OPT = typer.Option(None, "--work", help="work directory (default runs/experiments/<spec>/<scale>)")


def register(app: typer.Typer) -> None:
    """Add this package's subcommands to the top-level app."""
    app.add_typer(experiment_app, name="experiment")


def _work(spec_name: str, scale: str, work: Optional[Path]) -> Path:
    from lolameme.experiments.store import default_work_dir

    return work if work is not None else default_work_dir(spec_name, scale)


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@experiment_app.command("list")
def list_command(specs: list[Path] = SPECS_OPT) -> None:
    """List the experiment specs found."""
    from rich.console import Console
    from rich.table import Table

    from lolameme.experiments.spec import list_specs, load_spec, package_spec_dir

    table = Table(title="experiments")
    for column in ("name", "paper", "title", "models", "datasets", "scales", "from"):
        table.add_column(column)
    for path in list_specs(specs):
        spec = load_spec(path)
        source = "package" if path.parent == package_spec_dir() else str(path)
        table.add_row(spec.name, spec.paper, spec.title, str(len(spec.models)), str(len(spec.datasets)),
                      ", ".join(spec.scales), source)
    Console().print(table)


@experiment_app.command("run")
def run_command(
    spec: str = SPEC_ARG,
    scale: str = SCALE_OPT,
    seeds: Optional[int] = SEEDS_OPT,
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1,
                                       help="cells side by side (local default 1: threads split between them, one GPU "
                                            "each; Ray: cells in flight, default all)"),
    threads: Optional[int] = typer.Option(None, "--threads", min=1,
                                          help="torch threads per cell (local default cores // jobs; Ray default 1, "
                                               "the CPUs each task asks for)"),
    nproc: int = typer.Option(1, "--nproc", min=1, help="processes per cell: > 1 trains each cell under torchrun"),
    shard: Optional[str] = typer.Option(None, "--shard", help="i/n: run only shard i of n (1-based), e.g. 1/2 and 2/2"),
    work: Optional[Path] = WORK_OPT,
    specs: list[Path] = SPECS_OPT,
    backend: str = typer.Option("local", "--backend", help="local (processes of this machine) or ray (one Ray task per cell)"),
    address: Optional[str] = typer.Option(None, "--address", help="with --backend ray: HOST:PORT of a running Ray "
                                          "cluster's head (default: start a local one)"),
    log_to: Optional[str] = typer.Option(None, "--log-to", help="mirror each cell's metrics to tensorboard and/or "
                                         "wandb (comma-separated; default: the scale's log_to)"),
    report: bool = typer.Option(True, "--report/--no-report", help="write the report when the run ends"),
    reports: Path = typer.Option(Path("reports"), "--reports", help="reports root folder"),
    cells_per_gpu: Optional[int] = typer.Option(
        None, "--cells-per-gpu", help="cells sharing each GPU (sets --jobs to this times the GPU count; needs CUDA)"),
) -> None:
    """Train and evaluate every (dataset, model, setting, seed) cell; finished cells are skipped (resume)."""
    from lolameme.errors import ExperimentError
    from lolameme.experiments.cells import parse_shard
    from lolameme.experiments.runner import jobs_for_cells_per_gpu, run_experiment
    from lolameme.experiments.spec import load_spec
    from lolameme.train.tracking import parse_log_to

    if address and backend != "ray":
        raise ExperimentError("--address names a Ray cluster; add --backend ray")
    if cells_per_gpu is not None:
        jobs = jobs_for_cells_per_gpu(cells_per_gpu)
    loaded = load_spec(spec, specs)
    progress = backend == "local" and (jobs or 1) == 1 and sys.stderr.isatty()
    summary = run_experiment(loaded, scale, seeds=seeds, jobs=jobs, nproc=nproc, threads=threads, shard=parse_shard(shard),
                             work=_work(loaded.name, scale, work), progress=progress, log=_log, backend=backend,
                             address=address, log_to=None if log_to is None else parse_log_to(log_to),
                             records=records_dir(reports, scale, loaded.name))
    if report:
        path = _write_report(loaded, scale, seeds, _work(loaded.name, scale, work), reports, specs)
        _log(f"report: {path}")
    typer.echo(f"{len(summary.finished)} cell(s) finished, {summary.skipped} skipped, {summary.cells} in this shard")


@experiment_app.command("status")
def status_command(
    spec: str = SPEC_ARG,
    scale: str = SCALE_OPT,
    seeds: Optional[int] = SEEDS_OPT,
    shard: Optional[str] = typer.Option(None, "--shard", help="i/n: show only shard i of n"),
    work: Optional[Path] = WORK_OPT,
    specs: list[Path] = SPECS_OPT,
) -> None:
    """Show which cells are done, stale (the spec changed since), running, interrupted or pending."""
    from collections import Counter

    from rich.console import Console
    from rich.table import Table

    from lolameme.experiments.cells import enumerate_cells, parse_shard, seed_list, select_shard
    from lolameme.experiments.runner import keyed_work_dir
    from lolameme.experiments.spec import load_spec
    from lolameme.experiments.store import STATES, read_json

    loaded = load_spec(spec, specs)
    n_seeds = seeds or loaded.scale(scale).seeds
    all_cells = enumerate_cells(loaded, scale, seed_list(n_seeds))
    wd = keyed_work_dir(loaded, scale, _work(loaded.name, scale, work), all_cells)
    cells = select_shard(all_cells, parse_shard(shard))
    table = Table(title=f"{loaded.name} at {scale}: {wd.root}")
    for column in ("cell", "state", "scores"):
        table.add_column(column)
    states = Counter()
    for cell in cells:
        state = wd.state(cell)
        states[state] += 1
        scores = ""
        if state == "done":
            result = read_json(wd.result_path(cell))
            scores = "  ".join(f"{s}={v.get('exact_match', 0):.4f}" for s, v in result["splits"].items())
        table.add_row(cell.id, state, scores)
    console = Console()
    console.print(table)
    console.print(", ".join(f"{states[s]} {s}" for s in STATES) +
                  f" of {len(cells)} cells")


@experiment_app.command("report")
def report_command(
    spec: str = SPEC_ARG,
    scale: str = SCALE_OPT,
    seeds: Optional[int] = SEEDS_OPT,
    work: Optional[Path] = WORK_OPT,
    specs: list[Path] = SPECS_OPT,
    reports: Path = typer.Option(Path("reports"), "--reports", help="reports root folder"),
) -> None:
    """Write reports/<scale>/<spec>.md (+ PNG figures, results table) and the summary reports/README.md."""
    from lolameme.experiments.spec import load_spec

    loaded = load_spec(spec, specs)
    path = _write_report(loaded, scale, seeds, _work(loaded.name, scale, work), reports, specs)
    typer.echo(str(path))


def records_dir(reports: Path, scale: str, spec_name: str) -> Path:
    """Where finished cells' results are kept by settings key, beside the reports (small JSON, to commit)."""
    return reports / scale / "records" / spec_name


def _write_report(spec, scale: str, seeds: Optional[int], work: Path, reports: Path, specs: list[Path]) -> Path:
    """Rebuild the results table from the work dir (if there is one), copy it beside the report, write both."""
    from lolameme.errors import ExperimentError
    from lolameme.experiments.cells import enumerate_cells, seed_list
    from lolameme.experiments.report import write_report
    from lolameme.experiments.results import build_table, read_table, write_table
    from lolameme.experiments.runner import keyed_work_dir
    from lolameme.experiments.summary import RESULTS_SUFFIX, write_summary

    out_dir = reports / scale
    out_dir.mkdir(parents=True, exist_ok=True)
    copy = out_dir / f"{spec.name}{RESULTS_SUFFIX}"
    # results of stale cells (made before the spec changed) stay out of the report
    wd = keyed_work_dir(spec, scale, work, enumerate_cells(spec, scale, seed_list(seeds or spec.scale(scale).seeds)),
                        records_dir(reports, scale, spec.name))
    if (wd.root / "cells").is_dir():
        write_table(build_table(wd.results()), wd.results_table())
        shutil.copyfile(wd.results_table(), copy)
    elif not copy.is_file():
        raise ExperimentError(f"no results for {spec.name} at {scale}: neither {wd.root}/cells nor {copy} exists; "
                              f"run `lolameme experiment run {spec.name} --scale {scale}` first")
    rows = read_table(copy).to_pylist()
    n_seeds = seeds or max([spec.scale(scale).seeds, *(r["seed"] + 1 for r in rows)])
    expected = len(enumerate_cells(spec, scale, seed_list(n_seeds)))
    path = write_report(spec, scale, rows, out_dir, seeds=n_seeds, expected_cells=expected)
    write_summary(reports, specs)
    return path
