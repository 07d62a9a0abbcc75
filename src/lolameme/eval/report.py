"""Evaluation reports as rich tables: every score printed beside its majority baseline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


#: Trace scores (reports of runs that write a trace before the answer): column title and key.
TRACE_COLUMNS = (("trace acc", "trace_accuracy"), ("consistency", "consistency"))


def scores_table(reports: Mapping[str, Mapping[str, Any]], title: str = "Exact match") -> Table:
    """One row per split: n, exact match, majority baseline, trace scores (if any), token accuracy and loss."""
    table = Table(title=title)
    traced = any("trace_accuracy" in r for r in reports.values())
    extra = TRACE_COLUMNS if traced else ()
    for name, justify in (("split", "left"), ("format", "left"), ("n", "right"), ("exact match", "right"),
                          ("majority baseline", "right"), *((c, "right") for c, _ in extra),
                          ("token acc", "right"), ("token loss", "right")):
        table.add_column(name, justify=justify, no_wrap=name == "split")  # split names must stay whole
    for split, r in reports.items():
        table.add_row(split, r.get("answer_format", "direct"), str(r["n"]), _pct(r["exact_match"]),
                      _pct(r["majority_baseline"]), *(_pct(r.get(key)) for _, key in extra),
                      _pct(r["token_accuracy"]), _num(r["token_loss"]))
    return table


def slices_table(report: Mapping[str, Any]) -> Table:
    """Every slice of one split: annotation, value, n, exact match beside the baseline."""
    table = Table(title=f"{report['split']}: by annotation (majority answer {report['majority_answer']!r})")
    extra = TRACE_COLUMNS if "trace_accuracy" in report else ()
    for name, justify in (("annotation", "left"), ("value", "left"), ("n", "right"), ("exact match", "right"),
                          ("majority baseline", "right"), *((c, "right") for c, _ in extra), ("token acc", "right")):
        table.add_column(name, justify=justify)
    for column, slices in report["slices"].items():
        for i, s in enumerate(slices):
            table.add_row(column if i == 0 else "", s["value"], str(s["n"]), _pct(s["exact_match"]),
                          _pct(s["majority_baseline"]), *(_pct(s.get(key)) for _, key in extra),
                          _pct(s["token_accuracy"]))
    return table


def print_reports(reports: Mapping[str, Mapping[str, Any]], *, slices: bool = True,
                  console: Console | None = None, title: str = "Exact match") -> None:
    console = console or Console()
    console.print(scores_table(reports, title))
    if slices:
        for report in reports.values():
            if report["slices"]:
                console.print(slices_table(report))
    cropped = {s: r["n_cropped"] for s, r in reports.items() if r.get("n_cropped")}
    if cropped:
        console.print(f"[yellow]prompts cropped on the left to fit the model's context: {cropped}[/yellow]")
