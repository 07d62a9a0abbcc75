"""``lolameme listops ...`` verbs (owned by the ListOps module)."""

from __future__ import annotations

from pathlib import Path

import typer

listops_app = typer.Typer(help="ListOps (Long Range Arena) data: import LRA's released files.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``listops`` command group to the top-level app."""
    app.add_typer(listops_app, name="listops")


@listops_app.command("import")
def import_(
    directory: Path = typer.Argument(..., help="LRA listops folder with basic_train.tsv, basic_val.tsv, basic_test.tsv"),
    out: Path = typer.Option(..., "--out", "-o", help="dataset directory to write"),
    fmt: str = typer.Option("parquet", "--format", help="parquet or jsonl"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing complete dataset"),
    strict: bool = typer.Option(False, "--strict", help="fail on the first label that disagrees with our evaluator"),
) -> None:
    """Convert LRA's ListOps TSV files into a dataset, checking every label with our evaluator."""
    from rich.console import Console
    from rich.table import Table

    from lolameme.data.listops import import_lra

    manifest = import_lra(directory, out, fmt=fmt, overwrite=overwrite, strict=strict, progress=True)
    table = Table(title=f"LRA ListOps imported to {out}")
    for column in ("split", "rows", "label disagreements", "majority class", "sha256"):
        table.add_column(column)
    for name, entry in manifest["splits"].items():
        disagreements = manifest["label_disagreements"][name]
        label_stats = manifest["label_stats"][name]
        rate = label_stats["majority_rate"]
        majority = f"{label_stats['majority_class']} ({rate:.1%})" if rate is not None else "-"
        table.add_row(name, f"{entry['rows']:,}", str(disagreements["count"]), majority, entry["sha256"][:16] + "…")
    console = Console()
    console.print(table)
    for name, disagreements in manifest["label_disagreements"].items():
        for example in disagreements["examples"]:
            console.print(f"[yellow]disagreement[/] {manifest['source']['files'][name]}:{example['line']}: "
                          f"file says {example['file_label']}, evaluator says {example['computed_label']}")
    if manifest["duplicates_found"]:
        console.print(f"[yellow]{manifest['duplicates_found']} tree(s) occur more than once (kept)[/]")
