"""``lolameme run``: run, trace or translate LOLAMEME programs."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import List, Optional

import typer

from lolameme.errors import ConfigError, LolamemeError

_LATENT_KEYS = ("boundary_a", "boundary_b", "modification_a", "modification_b", "modification_c")


def register(app: typer.Typer) -> None:
    """Add this package's subcommands to the top-level app."""
    app.command("run")(run)


def run(
    program: Optional[str] = typer.Argument(
        None, help="a LoLa, MeMe or mixed program; omit it to read programs from --file or stdin, one per line"
    ),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="read programs from FILE, one per line ('-': stdin)"),
    globals_file: Optional[Path] = typer.Option(
        None, "--globals", "-g", help='JSON global table: {"name": 24, ...} or ["name = 24", ...]'
    ),
    latent: bool = typer.Option(False, "--latent", help="apply the latent-type rules (paper defaults)"),
    latent_set: List[str] = typer.Option(
        [], "--latent-set", help=f"change one latent rule, KEY=VALUE with KEY in {', '.join(_LATENT_KEYS)} "
        "(repeatable; implies --latent)"
    ),
    show_trace: bool = typer.Option(False, "--trace", help="print the per-statement trace table"),
    to: Optional[str] = typer.Option(None, "--to", help="print the program translated to lola, meme or mixed instead"),
    seed: int = typer.Option(0, "--seed", help="seed of the random mix for --to mixed"),
) -> None:
    """Print the output of each program (or its trace, or its translation)."""
    from lolameme.lang.global_table import load_globals
    from lolameme.lang.render import DIALECT_CHOICES

    table = load_globals(globals_file) if globals_file is not None else None
    rules = _latent_rules(latent, latent_set)
    if to is not None and to not in DIALECT_CHOICES:
        raise ConfigError(f"--to {to!r} is not a dialect; expected one of {', '.join(DIALECT_CHOICES)}")
    if show_trace and to is not None:
        raise ConfigError("--trace and --to cannot be combined")
    rng = random.Random(seed)

    def one(text: str) -> str:
        return _run_one(text, table, rules, show_trace, to, rng)

    if program is not None:
        if file is not None:
            raise ConfigError("give either a PROGRAM argument or --file, not both")
        typer.echo(one(program))
        return

    lines = _read_lines(file)
    failed: list[int] = []
    n_programs = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():  # keep output lines aligned with input lines
            typer.echo("")
            continue
        n_programs += 1
        try:
            typer.echo(one(line))
        except LolamemeError as exc:
            failed.append(number)
            typer.echo(f"error: {type(exc).__name__}: {exc}")
    if failed:
        shown = ", ".join(map(str, failed[:20])) + (", ..." if len(failed) > 20 else "")
        typer.echo(f"Error: {len(failed)} of {n_programs} programs failed (line {shown})", err=True)
        raise typer.Exit(1)


def _run_one(text, table, rules, show_trace: bool, to: Optional[str], rng: random.Random) -> str:
    from lolameme.lang import evaluate, parse, render, trace

    if to is not None:
        return render(parse(text), to, rng)
    if show_trace:
        tree = parse(text)
        return _trace_table(tree, trace(tree, table, rules))
    return str(evaluate(text, table, rules))


def _trace_table(tree, t) -> str:
    """The trace as a table (statements in LoLa), followed by the summary counts."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from lolameme.lang.render import render_statement

    grid = Table(title=f"print({t.printed}) -> {t.output}", box=box.SIMPLE_HEAD)
    for column in ("#", "statement", "value", "reads", "global", "latent", "depth", "depends on", "hops", "relevant"):
        grid.add_column(column, justify="right" if column in ("#", "value", "latent", "depth", "hops") else "left")
    for statement, s in zip(tree.statements, t.statements):
        grid.add_row(
            str(s.number), render_statement(statement), str(s.value), " ".join(s.reads), " ".join(s.global_reads), str(s.latent),
            str(s.depth), " ".join(map(str, s.depends_on)), str(s.hops), "yes" if s.relevant else "noise",
        )
    console = Console(width=120, record=True, file=_Discard(), color_system=None)
    console.print(grid)
    summary = (
        f"output={t.output} hops={t.hops} n_global_reads={t.n_global_reads} n_latent={t.n_latent} "
        f"n_relevant={t.n_relevant} n_noise={t.n_noise} max_depth={t.max_depth}"
    )
    lines = [line.rstrip() for line in console.export_text().splitlines() if line.strip()]
    return "\n".join(lines + [summary])


class _Discard:
    """A file that drops writes (the console only records, for export_text)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _read_lines(file: Optional[Path]) -> list[str]:
    """Programs one per line. Lines end at ``\n`` or ``\r\n`` only: ``\f``, ``\v`` and the
    other characters ``str.splitlines`` breaks at are whitespace inside a program, so splitting
    there would misalign output lines with input lines."""
    if file is None or str(file) == "-":
        if file is None and sys.stdin.isatty():
            raise ConfigError("no program given: pass PROGRAM, --file FILE, or pipe programs on stdin")
        data, source = sys.stdin.buffer.read(), "standard input"
    else:
        source = f"programs file {str(file)!r}"
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {source}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source} is not UTF-8 text: {exc}") from None
    return split_lines(text)


def split_lines(text: str) -> list[str]:
    """``text`` cut at ``\n`` (a ``\r`` before it belongs to the line end); no final empty line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _latent_rules(latent: bool, settings: List[str]):
    from lolameme.lang import LatentRules

    if not latent and not settings:
        return None
    values: dict[str, object] = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        key = key.strip()
        if not sep or key not in _LATENT_KEYS:
            raise ConfigError(f"--latent-set {setting!r}: expected KEY=VALUE with KEY in {', '.join(_LATENT_KEYS)}")
        if key.startswith("boundary"):
            if not value.strip().isdigit():
                raise ConfigError(f"--latent-set {setting!r}: {key} must be an integer from 0 to 26")
            values[key] = int(value)
        else:
            values[key] = value.strip()
    return LatentRules(**values)
