"""``lolameme quickstart``: the whole pipeline on a laptop CPU in a few minutes.

Three stages, each announced, each showing its own progress:

1. generate a small ``base``-preset LOLAMEME corpus (``lolameme generate``);
2. train a tiny model on it for a fixed wall-clock budget (``lolameme train``);
3. score it on both test splits (``lolameme eval``) and print exact match beside
   the majority-answer baseline.

Everything lands under one directory (``OUT/data``, ``OUT/run``), and a rerun
reuses what is finished: the dataset if complete, the run if trained (or
resumes an interrupted one). ``overwrite`` starts over.

Training follows a named recipe (``lolameme.train.recipes``, ``--recipe``): by
default the model's own (``words-copy-first`` for the tiny presets: the best measured in
docs/training.md), else :data:`FALLBACK_RECIPE`.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from lolameme.errors import CheckpointError, ConfigError

#: The quickstart's own training keys, on top of the recipe: how the run is watched, not how it learns.
#: (The tokenizer is the recipe's: ``words`` in the tiny presets' default, else ``char``.)
QUICKSTART_KEYS: dict[str, Any] = {"checkpoint_every": 200}
#: The recipe of a model that has no default recipe of its own.
FALLBACK_RECIPE = "weighted"


#: The quickstart's model: on a CPU gpt2-tiny takes about a third of the time per step of
#: hyena-tiny or thex-tiny-3 (measured with the same batch on the same machine), so it sees
#: three times as many programs in the same few minutes.
DEFAULT_MODEL = "gpt2-tiny"


@dataclass
class QuickstartSettings:
    out: Path = Path("lolameme-quickstart")
    minutes: float = 4.0
    model: str = DEFAULT_MODEL
    recipe: str | None = None  # None: the model's default recipe (lolameme.train.recipes), else FALLBACK_RECIPE
    train_size: int = 20_000
    test_size: int = 500
    device: str = "cpu"
    seed: int = 0
    overwrite: bool = False
    eval_batch_size: int = 64


def run_quickstart(settings: QuickstartSettings, console: Console | None = None) -> dict[str, dict[str, Any]]:
    """Run the three stages and return the evaluation reports (split -> report)."""
    console = console or Console(stderr=True)
    out = Path(settings.out)
    started = time.monotonic()
    console.rule(f"[bold]lolameme quickstart[/bold]: everything goes to {out}")
    _check_model(settings.model)

    data_dir = _dataset(settings, out / "data", console)
    run_dir = _train(settings, data_dir, out / "run", console)

    from lolameme.eval.evaluate import EvalSettings, evaluate_run
    from lolameme.eval.report import print_reports

    console.rule("3/3 evaluate on both test splits (greedy decoding, exact match)")
    reports = evaluate_run(run_dir, settings=EvalSettings(batch_size=settings.eval_batch_size, device=settings.device))
    print_reports(reports, slices=False, console=Console(), title=f"{settings.model} after {settings.minutes:g} min: exact match")
    _print_hops(reports, Console())
    console.print(f"done in {time.monotonic() - started:.0f}s. Next:\n"
                  f"  lolameme eval {run_dir}            # all slices: hops, globals, latent rules, noise, depth\n"
                  f"  lolameme train --data {data_dir} --model thex-tiny-3 --out runs/thex --steps 2000\n"
                  f"  files: {run_dir}/metrics.jsonl, {run_dir}/eval/*.json, {run_dir}/eval/*.predictions.parquet")
    return reports


def _check_model(model: str) -> None:
    """Fail on a bad model name now, not after generating the corpus."""
    from lolameme.models import resolve_config
    from lolameme.tokenizers import get_tokenizer

    resolve_config(model, vocab_size=get_tokenizer("char").vocab_size)  # any vocabulary checks the name


def _dataset(settings: QuickstartSettings, data_dir: Path, console: Console) -> Path:
    from lolameme.data.api import generate_dataset

    console.rule(f"1/3 generate a base-preset corpus: {settings.train_size:,} training programs")
    wanted = {"dataset_size": settings.train_size, "test_dataset_size": settings.test_size, "seed": settings.seed,
              "global_var_count": global_var_count(settings.train_size)}
    if (data_dir / "manifest.json").exists() and not settings.overwrite:
        from lolameme.data.io import read_manifest

        found = read_manifest(data_dir).get("config", {})
        differ = {k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v}
        if differ:
            raise ConfigError(f"{data_dir} holds a dataset generated with other settings "
                              f"(key: (found, wanted) {differ}); pass --overwrite or another --out")
        console.print(f"reusing the complete dataset in {data_dir} (--overwrite regenerates it)")
        return data_dir
    manifest = generate_dataset("base", data_dir, overrides=wanted, overwrite=settings.overwrite, progress=True)
    rows = ", ".join(f"{name} {entry['rows']:,}" for name, entry in manifest["splits"].items())
    console.print(f"wrote {data_dir}: {rows}")
    return data_dir


def global_var_count(train_size: int) -> int:
    """Globals for a corpus of ``train_size`` programs: few enough that each is read about as often
    as the paper's 100k-program corpus reads its 500 (programs read ~5 globals each), so a small
    corpus still lets the model memorise their values."""
    return max(5, min(500, train_size // 200))


def _train(settings: QuickstartSettings, data_dir: Path, run_dir: Path, console: Console) -> Path:
    from lolameme.train.config import make_config
    from lolameme.train.trainer import train

    console.rule(f"2/3 train {settings.model} on the {settings.device.upper()} for {settings.minutes:g} minutes")
    has_run = (run_dir / "config.json").exists()
    finished = has_run and (run_dir / "best" / "meta.json").exists() and _finished(run_dir)
    if has_run and settings.overwrite:
        _remove_run(run_dir)
        has_run = finished = False
    if has_run and not settings.overwrite:
        from lolameme.train.checkpoint import read_run_config

        trained_model = read_run_config(run_dir)["train"].get("model")
        if trained_model != settings.model:
            raise ConfigError(f"{run_dir} holds a {trained_model} run, not {settings.model}; "
                              "pass --overwrite or another --out")
    if finished:
        console.print(f"reusing the trained run in {run_dir} (--overwrite retrains it)")
        return run_dir
    recipe = quickstart_recipe(settings)
    console.print(f"recipe {recipe.name!r}: {recipe.description}")
    config = make_config({**QUICKSTART_KEYS, "recipe": settings.recipe or recipe.name, "data": str(data_dir),
                          "out": str(run_dir), "model": settings.model, "time_budget": settings.minutes,
                          "device": settings.device, "seed": settings.seed,
                          "val_samples": min(256, settings.train_size // 10)},
                         source="quickstart settings")
    if has_run:
        console.print(f"resuming the interrupted run in {run_dir}")
    result = train(config, resume=has_run)
    best = result.best or {}
    console.print(f"trained {result.step} steps, {result.tokens:,} tokens in {result.elapsed:.0f}s; "
                  f"best validation (teacher-forced) exact {best.get('val_exact', float('nan')):.3f} "
                  f"at step {best.get('step', '?')}")
    return run_dir


def quickstart_recipe(settings: QuickstartSettings):
    """The named recipe, or the model's default for LOLAMEME, or the fallback."""
    from lolameme.train.recipes import default_recipe, get_recipe

    return get_recipe(settings.recipe or default_recipe(settings.model, "lolameme") or FALLBACK_RECIPE)


def _finished(run_dir: Path) -> bool:
    """Whether the run's metrics log has its ``end`` event (training ran to its budget)."""
    metrics = run_dir / "metrics.jsonl"
    if not metrics.exists():
        return False
    import json

    for line in reversed(metrics.read_text(encoding="utf-8").splitlines()):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        return event.get("event") == "end" and not event.get("stopped_early", False)
    return False


def _remove_run(run_dir: Path) -> None:
    """Delete a previous quickstart run, after checking it is one (never an arbitrary directory)."""
    if not (run_dir / "config.json").exists() or not (run_dir / "tokenizer.json").exists():
        raise CheckpointError(f"{run_dir} does not look like a lolameme run; refusing to delete it")
    shutil.rmtree(run_dir)


def _print_hops(reports: dict[str, dict[str, Any]], console: Console) -> None:
    """One slice in the summary, since the interesting findings are in the slices."""
    from rich.table import Table

    if not all("hops" in r["slices"] for r in reports.values()):
        return
    table = Table(title="exact match (majority baseline) by hops")
    table.add_column("hops")
    for split in reports:
        table.add_column(split, justify="right")
    values = list(dict.fromkeys(s["value"] for r in reports.values() for s in r["slices"]["hops"]))
    for value in values:
        cells = []
        for r in reports.values():
            s = next((s for s in r["slices"]["hops"] if s["value"] == value), None)
            cells.append("-" if s is None else f"{100 * s['exact_match']:.1f}% ({100 * s['majority_baseline']:.1f}%) n={s['n']}")
        table.add_row(value, *cells)
    console.print(table)
