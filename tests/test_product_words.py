"""The product speaks of itself only.

A reader of the code, the docs, a report or ``--help`` cannot look up a ticket number,
a work schedule or who built which part, so none of those words may ship. The patterns
below are what such text looks like; a link to another project's tracker is fine (URLs
are removed before matching).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = re.compile(
    r"\bissues?\b"                       # "issue 8", "the limit", "learning-recipes issue"
    r"|(?<![\w&/])#\d{1,4}\b"            # "#14" ticket references
    r"|\brooms?\b"                       # packages called rooms
    r"|\bsessions? \d+|\bworking session|\bone session\b"
    r"|\brounds? \d+"                    # "round 3", "rounds 1-2"
    r"|\b(?:first|original|initial) plan\b|\bthe plan (?:was|said|called for)\b"  # not LatentPlan / SplitPlan
    r"|\bengineers?\b",
    re.IGNORECASE,
)
URL = re.compile(r"https?://\S+")
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".json"}


def shipped_files() -> list[Path]:
    """Package source and data (experiment specs included), docs, README, reports, benchmarks and tests."""
    roots = [ROOT / "src" / "lolameme", ROOT / "docs", ROOT / "reports",
             ROOT / "benchmarks", ROOT / "tests"]
    files = [ROOT / "README.md"]
    for root in roots:
        files += [p for p in root.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES
                  and "__pycache__" not in p.parts]
    return [p for p in files if p.resolve() != Path(__file__).resolve()]


def offending_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if FORBIDDEN.search(URL.sub("", line))]


@pytest.mark.parametrize("text, bad", [
    ("the target of issue 8", True), ("see #14", True), ("each room's cli.py", True),
    ("what each round 3 showed", True), ("fit one working session", True), ("the first plan", True),
    ("the plan was to", True), ("the plan's rule table", False),
    ("see https://github.com/org/repo/issues/14", False), ("round(x, 3)", False),
    ("a colour #1f77b4", False), ("no space left for a prompt", False), ("self._session_start", False),
])
def test_the_patterns_catch_what_they_should(text, bad):
    assert bool(offending_lines(text)) is bad


def test_shipped_text_speaks_of_the_product_only():
    found = []
    for path in shipped_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{path.relative_to(ROOT)}: {line[:120]}" for line in offending_lines(text)]
    assert not found, "words about how the product was made:\n" + "\n".join(found)


def _command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    for name, sub in getattr(command, "commands", {}).items():  # a group: walk its subcommands
        paths += _command_paths(sub, (*path, name))
    return paths


def test_every_subcommands_help_speaks_of_the_product_only():
    from lolameme.cli import app

    runner = CliRunner()
    paths = _command_paths(typer.main.get_command(app))
    assert len(paths) > 10  # the walk reached the subcommands
    found = []
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        found += [f"lolameme {' '.join(path)} --help: {line}" for line in offending_lines(result.output)]
    assert not found, "\n".join(found)
