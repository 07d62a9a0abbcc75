"""CLI verbs of this room; see :mod:`lolameme.cli` for how rooms are assembled."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this room's commands to the top-level app."""
