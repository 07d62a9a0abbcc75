"""``lolameme analyze``: where and how a trained model finds a variable's value; see docs/analysis.md."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from lolameme.analysis.settings import AnalysisSettings

_DEFAULTS = AnalysisSettings()  # the defaults live in one place


def register(app: typer.Typer) -> None:
    """Add the analysis verb to the top-level app."""
    app.command("analyze")(analyze_command)


def analyze_command(
    run: Path = typer.Argument(..., help="run directory written by `lolameme train`"),
    split: str = typer.Option(..., "--split", "-s", help="split to analyse, e.g. test_without_globals"),
    data: Optional[Path] = typer.Option(None, "--data", "-d", help="dataset directory (default: the run's own)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="analyse only the first N rows"),
    checkpoint: str = typer.Option("best", "--checkpoint", help="best, last or a step number"),
    max_pairs: int = typer.Option(_DEFAULTS.max_pairs, "--max-pairs", min=1, help="causal-patching pairs per kind"),
    batch_size: int = typer.Option(_DEFAULTS.batch_size, "--batch-size", min=1, help="programs per forward pass"),
    seed: int = typer.Option(_DEFAULTS.seed, "--seed",
                             help="seed of the fresh-init model, control task, folds and pairs"),
    out: Optional[Path] = typer.Option(None, "--out", help="output directory (default RUN/analysis)"),
) -> None:
    """Attention attribution, linear probes, causal patching and Hyena filters: RUN/analysis/report.md."""
    from lolameme.analysis.run import analyze_run
    from lolameme.eval.cli import _checkpoint

    settings = AnalysisSettings(limit=limit, checkpoint=_checkpoint(checkpoint), batch_size=batch_size,
                                max_pairs=max_pairs, seed=seed)
    written = analyze_run(run, split=split, data=data, settings=settings, out_dir=out)
    typer.echo(f"wrote {written}/report.md, figures and Parquet tables")
