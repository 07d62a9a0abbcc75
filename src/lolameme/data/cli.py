"""Dataset verbs: ``lolameme presets``, ``lolameme generate`` and ``lolameme listops import``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from lolameme.data import listops_cli


def register(app: typer.Typer) -> None:
    app.command("presets")(presets)
    app.command("generate")(generate)
    listops_cli.register(app)


def presets() -> None:
    """List the dataset presets (LOLAMEME and ListOps)."""
    from rich.console import Console
    from rich.table import Table

    from lolameme.data.presets import list_presets

    table = Table(title="dataset presets (override any key with --set key=value)")
    for column in ("preset", "task", "description"):
        table.add_column(column)
    for preset in list_presets():
        table.add_row(preset.name, preset.task, preset.description)
    Console().print(table)


def generate(
    out: Path = typer.Option(..., "--out", "-o", help="dataset directory to write"),
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help="preset name (see `lolameme presets`)"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML/JSON config file (may name a preset)"),
    set_: List[str] = typer.Option([], "--set", help="override one key: key=value (repeatable)"),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="worker processes (output is identical for any count)"),
    fmt: str = typer.Option("parquet", "--format", help="parquet or jsonl"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing complete dataset"),
) -> None:
    """Generate a dataset directory (splits + manifest.json) from a preset."""
    from rich.console import Console
    from rich.table import Table

    from lolameme.data.api import generate_dataset
    from lolameme.configfile import parse_overrides

    if preset is None and config is None:
        preset = "base"
    manifest = generate_dataset(preset, out, overrides=parse_overrides(set_), config_file=config,
                                workers=workers, fmt=fmt, overwrite=overwrite, progress=True)
    table = Table(title=f"{manifest['task']} dataset written to {out}")
    for column in ("split", "rows", "file", "sha256"):
        table.add_column(column)
    for name, entry in manifest["splits"].items():
        table.add_row(name, f"{entry['rows']:,}", entry["file"], entry["sha256"][:16] + "…")
    Console().print(table)
