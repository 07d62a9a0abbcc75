"""``lolameme train`` (and ``plot``, ``export``): flags, an optional config file and ``--set`` overrides -> one TrainConfig.

The layers resolve through :func:`lolameme.train.config.resolve_config`, lowest first:
TrainConfig defaults, the recipe (``--recipe NAME``; else the model's default recipe,
``--recipe none`` opts out), the config file (YAML/JSON, same keys), the flags,
``--set key=value`` (``--set model.pos_encoding=rotary`` sets a model option).
With ``--resume`` the run's saved config is the base and only the budget and logging keys
may change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from lolameme.errors import ModelError


def register(app: typer.Typer) -> None:
    """Add this package's subcommands to the top-level app."""
    app.command("train")(train_command)
    app.command("plot")(plot_command)
    app.command("export")(export)


def plot_command(
    runs: List[Path] = typer.Argument(..., help="run directories (or their metrics.jsonl files)"),
    out: Path = typer.Option(Path("curves.png"), "--out", "-o", help="PNG file to write"),
) -> None:
    """Draw the learning curves (loss, validation exact match, learning rate) of one or more runs to a PNG."""
    from lolameme.train.curves import plot_runs

    typer.echo(str(plot_runs(list(runs), out)))


def train_command(
    data: Optional[Path] = typer.Option(None, "--data", "-d", help="dataset directory (needs a train split)"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="model preset or layer spec (see `lolameme models`)"),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="char (default), gpt2 or listops"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="run directory to write (or, with --resume, to continue)"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML/JSON file with the same keys as the flags"),
    recipe: Optional[str] = typer.Option(None, "--recipe", "-r",
                                         help="training recipe: a name (default for tiny models: their recipe; "
                                              "'none' for the plain defaults) or a recipe .yaml file"),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="budget: optimizer steps"),
    epochs: Optional[float] = typer.Option(None, "--epochs", min=0, help="budget: passes over the training split"),
    tokens: Optional[int] = typer.Option(None, "--tokens", min=1, help="budget: input tokens"),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", min=0, help="budget: minutes of wall-clock training"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="samples per optimizer step (all ranks)"),
    grad_accum: Optional[int] = typer.Option(None, "--grad-accum", min=1, help="micro-batches per optimizer step"),
    lr: Optional[float] = typer.Option(None, "--lr", help="peak learning rate"),
    loss: Optional[str] = typer.Option(None, "--loss", help="answer (default), full or weighted"),
    reverse_answer: Optional[bool] = typer.Option(None, "--reverse-answer/--no-reverse-answer",
                                                  help="write answer digits least significant first"),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed of initialisation, data order and validation slice"),
    device: Optional[str] = typer.Option(None, "--device", help="auto (default), cpu or cuda"),
    compile_: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="torch.compile the model"),
    set_: List[str] = typer.Option([], "--set", help="any config key: key=value; model.KEY=VALUE for model options"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out from its last checkpoint"),
    log_to: Optional[str] = typer.Option(None, "--log-to", help="also mirror metrics.jsonl to tensorboard and/or "
                                         "wandb, comma-separated (pip install 'lolameme[tracking]')"),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="token caches go here (default: DATA/.cache, "
                                             "or the user cache when the dataset is read-only)"),
) -> None:
    """Train a model on a dataset; writes checkpoints, metrics.jsonl and the resolved config to --out."""
    from lolameme.train.tracking import open_mirrors, parse_log_to
    from lolameme.train.trainer import train

    if cache_dir is not None:  # through the environment, so DDP ranks and workers see it too
        from lolameme.data.io import CACHE_ENV

        os.environ[CACHE_ENV] = str(cache_dir.absolute())
    flags = {
        "data": data, "model": model, "tokenizer": tokenizer, "out": out, "steps": steps, "epochs": epochs,
        "tokens": tokens, "time_budget": time_budget, "batch_size": batch_size, "grad_accum": grad_accum, "lr": lr,
        "loss": loss, "reverse_answer": reverse_answer, "seed": seed, "device": device, "compile": compile_,
    }
    cfg = command_config({k: v for k, v in flags.items() if v is not None}, config, recipe, set_, resume)
    trackers = parse_log_to(log_to)
    with open_mirrors(trackers, Path(cfg.out), cfg.to_json()) as mirrors:
        result = train(cfg, resume=resume, mirrors=mirrors)
    best = result.best
    summary = f"trained {result.step} steps, {result.tokens:,} tokens in {result.elapsed / 60:.1f} min -> {result.run_dir}"
    if best:
        summary += (f"; best validation at step {best['step']}: exact {best['val_exact']:.3f}, "
                    f"answer loss {best['val_answer_loss']:.3f}")
    typer.echo(summary)


def command_config(flags: dict, config: Path | None, recipe: str | None, sets: list[str], resume: bool):
    """The TrainConfig of one ``lolameme train`` command: resolved from its layers, or with ``--resume``
    the run's saved config with the budget and logging keys given."""
    from lolameme.configfile import deep_merge, read_config_file
    from lolameme.errors import ConfigError
    from lolameme.train.checkpoint import CONFIG_FILE
    from lolameme.train.config import parse_set, resolve_values, validate_config
    from lolameme.train.trainer import resolve_resume_config

    given = deep_merge(deep_merge(read_config_file(config) if config else {}, flags), parse_set(sets))
    if resume and given.get("out") is None:
        raise ConfigError("--resume needs --out RUN (the run directory to continue)")
    if resume and (Path(given["out"]) / CONFIG_FILE).is_file():
        return resolve_resume_config(Path(given["out"]), {k: v for k, v in given.items() if k != "out"})
    # a new run, or --resume where none started yet (the trainer says it starts from scratch)
    values = resolve_values(flags, recipe=recipe, file=config, sets=sets)
    missing = [f"--{k}" for k in ("data", "out") if values.get(k) is None]
    if missing:
        raise ConfigError(f"missing {' and '.join(missing)} (flags or config file keys)")
    return validate_config(values)


def export(
    run: Path = typer.Argument(..., help="run directory written by `lolameme train` (a GPT-2-family model)"),
    to: str = typer.Option(..., "--to", help="format: hf (a transformers GPT2LMHeadModel directory)"),
    out: Path = typer.Argument(..., help="directory to write (must not exist unless --overwrite)"),
    checkpoint: str = typer.Option("best", "--checkpoint", help="best, last or a step number"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace OUT if it exists"),
) -> None:
    """Export a trained run for other tools: ``--to hf`` writes GPT2LMHeadModel weights, config and tokenizer."""
    from lolameme.train.export import export_run_to_transformers

    if to != "hf":
        raise ModelError(f"--to {to!r} is not an export format; accepted: hf")
    which = checkpoint if checkpoint in ("best", "last") else _step(checkpoint)
    export_run_to_transformers(run, out, which, overwrite=overwrite)
    typer.echo(f"wrote {out} (transformers GPT2LMHeadModel + tokenizer); load it with AutoModelForCausalLM.from_pretrained")


def _step(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ModelError(f"--checkpoint {text!r} not understood; accepted: best, last or a step number") from None
