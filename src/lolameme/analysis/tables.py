"""Rows in, a pyarrow table out: every measure builds its long-format table this way."""

from __future__ import annotations

from typing import Any

import pyarrow as pa


class Rows:
    """Collects rows for the named columns; ``table()`` gives the Parquet-ready table."""

    def __init__(self, *names: str):
        self.columns: dict[str, list[Any]] = {name: [] for name in names}

    def add(self, *values: Any) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"row of {len(values)} values for {len(self.columns)} columns")
        for column, value in zip(self.columns.values(), values):
            column.append(value)

    def table(self) -> pa.Table:
        return pa.table(self.columns)
