"""Evaluation verbs: ``lolameme eval`` and ``lolameme quickstart``; see :mod:`lolameme.cli` for the assembly."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from lolameme.eval.quickstart import QuickstartSettings

_QUICK = QuickstartSettings()  # the quickstart's defaults live in one place


def register(app: typer.Typer) -> None:
    """Add this package's subcommands to the top-level app."""
    app.command("eval")(eval_command)
    app.command("quickstart")(quickstart_command)


def _checkpoint(which: str) -> str | int:
    from lolameme.errors import CheckpointError

    if which in ("best", "last"):
        return which
    try:
        return int(which)
    except ValueError:
        raise CheckpointError(f"--checkpoint {which!r} not understood; accepted: best, last or a step number") from None


def eval_command(
    run: Optional[Path] = typer.Argument(None, help="run directory written by `lolameme train` (or give --hf-model)"),
    data: Optional[Path] = typer.Option(None, "--data", "-d", help="dataset directory (default: the run's own)"),
    split: List[str] = typer.Option([], "--split", "-s", help="split to score (repeatable; default: every test* split)"),
    checkpoint: str = typer.Option("best", "--checkpoint", help="best, last or a step number"),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="prompts decoded together"),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", min=1,
                                                 help="decoding length limit (default: longest answer + 2)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="score only the first N rows of each split"),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N"),
    out: Optional[Path] = typer.Option(None, "--out", help="where to write SPLIT.json and predictions (default RUN/eval)"),
    slices: bool = typer.Option(True, "--slices/--no-slices", help="print the per-annotation tables"),
    answer_format: Optional[str] = typer.Option(None, "--format",
                                                help="ask for a direct answer or a trace (default: the run's format)"),
    trace_statements: Optional[str] = typer.Option(None, "--trace-statements",
                                                   help="trace: all or relevant (default: the run's)"),
    hf_model: Optional[Path] = typer.Option(None, "--hf-model", help="score a local transformers causal LM directory "
                                            "holding a lolameme tokenizer.json (e.g. from `lolameme export --to hf`)"),
) -> None:
    """Score a trained run by exact match (greedy decoding), beside the majority-answer baseline."""
    from lolameme.errors import ConfigError
    from lolameme.eval.evaluate import EvalSettings, evaluate_run, evaluate_transformers_model
    from lolameme.eval.report import print_reports
    from lolameme.train.format import AnswerFormat

    AnswerFormat(answer_format or "direct", trace_statements or "all")  # a bad value fails here, before any work
    settings = EvalSettings(batch_size=batch_size, max_new_tokens=max_new_tokens, limit=limit, device=device,
                            answer_format=answer_format, trace_statements=trace_statements)
    if (run is None) == (hf_model is None):
        raise ConfigError("give either a run directory or --hf-model DIR (with --data), not both or neither")
    if hf_model is not None:
        if data is None:
            raise ConfigError("--hf-model needs --data DIR: a transformers directory does not record its dataset")
        reports = evaluate_transformers_model(hf_model, data, splits=list(split) or None, settings=settings, out_dir=out)
        print_reports(reports, slices=slices, title=f"{hf_model} (transformers): exact match")
        typer.echo(f"wrote {out or hf_model / 'eval'}/<split>.json and <split>.predictions.parquet", err=True)
        return
    reports = evaluate_run(run, data=data, splits=list(split) or None, which=_checkpoint(checkpoint),
                           settings=settings, out_dir=out)
    print_reports(reports, slices=slices, title=f"{run} (checkpoint {checkpoint}): exact match")
    typer.echo(f"wrote {out or run / 'eval'}/<split>.json and <split>.predictions.parquet", err=True)


def quickstart_command(
    out: Path = typer.Option(_QUICK.out, "--out", "-o", help="directory for the dataset and run"),
    minutes: float = typer.Option(_QUICK.minutes, "--minutes", min=0.05, help="training budget (wall-clock minutes)"),
    model: str = typer.Option(_QUICK.model, "--model", "-m", help="model preset (see `lolameme models`)"),
    recipe: Optional[str] = typer.Option(None, "--recipe", "-r",
                                         help="training recipe name or .yaml file (default: the model's own, e.g. tiny)"),
    train_size: int = typer.Option(_QUICK.train_size, "--train-size", min=64, help="training programs to generate"),
    test_size: int = typer.Option(_QUICK.test_size, "--test-size", min=1, help="programs in each test split"),
    device: str = typer.Option(_QUICK.device, "--device", help="cpu (the quickstart's promise), auto or cuda"),
    seed: int = typer.Option(_QUICK.seed, "--seed", help="seed of the dataset and the training run"),
    overwrite: bool = typer.Option(False, "--overwrite", help="regenerate the dataset and retrain from scratch"),
) -> None:
    """Generate a small corpus, train a tiny model on it for a few minutes, and print its exact match."""
    from lolameme.eval.quickstart import QuickstartSettings, run_quickstart

    run_quickstart(QuickstartSettings(out=out, minutes=minutes, model=model, recipe=recipe, train_size=train_size,
                                      test_size=test_size, device=device, seed=seed, overwrite=overwrite))
