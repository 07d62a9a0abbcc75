"""``lolameme listops ...`` verbs (owned by the ListOps module)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``listops`` command group to the top-level app."""
