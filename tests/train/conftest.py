"""Fixtures of the trainer's tests (datasets come from train_helpers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import write_dataset


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """200 programs of 1-3 statements."""
    return write_dataset(tmp_path / "data", 200)
