"""Fixtures of the eval tests: hand-made datasets and a model that reads the answer off the program."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from lolameme.data.io import DatasetWriter
from lolameme.tokenizers import get_tokenizer


class CopyLastChar(torch.nn.Module):
    """A causal 'model' that answers with the program's last character, then ``<eos>``.

    After ``<sep>`` it predicts the token just before ``<sep>``; after that token
    it predicts ``<eos>``. So on ``"x=5"`` it answers ``"5"``: right when the label
    is the last character, wrong otherwise, which makes exact match checkable by hand.
    """

    def __init__(self, sep_id: int, eos_id: int, vocab_size: int):
        super().__init__()
        self.sep_id, self.eos_id, self.vocab_size = sep_id, eos_id, vocab_size
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        prev = torch.cat([torch.full_like(idx[:, :1], -1), idx[:, :-1]], dim=1)
        target = torch.full_like(idx, self.eos_id)
        target = torch.where(idx == self.sep_id, prev, target)
        target = torch.where(prev == self.sep_id, torch.full_like(idx, self.eos_id), target)
        return F.one_hot(target.clamp(min=0), self.vocab_size).float() * 8 + self.weight


def write_dataset(out: Path, task: str, splits: dict[str, dict[str, list]]) -> Path:
    """A complete dataset directory with the given split columns."""
    with DatasetWriter(out) as writer:
        for name, columns in splits.items():
            writer.split(name).write(columns)
        writer.finish({"task": task, "config": {}, "seed": 0})
    return out


@pytest.fixture
def make_dataset():
    return write_dataset


@pytest.fixture
def char_tok():
    return get_tokenizer("char")


@pytest.fixture
def copy_model(char_tok):
    return CopyLastChar(char_tok.sep_id, char_tok.eos_id, char_tok.vocab_size)


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """train answers mostly "5"; the test split has 3 right-by-copying rows and 2 wrong ones."""
    return write_dataset(tmp_path / "data", "lolameme", {
        "train": {"input": ["a=5", "b=5", "c=2", "d=5"], "label": ["5", "5", "2", "5"], "hops": [1, 1, 2, 2]},
        "test_with_globals": {
            "input": ["x=5", "y=7", "z=1", "w=12", "v=9"],
            "label": ["5", "7", "5", "12", "4"],
            "hops": [1, 1, 2, 2, 3],
            "uses_globals": [True, False, True, False, True],
        },
    })
