"""Fixtures of the analysis tests (the hand-built models and run directories come from analysis_helpers)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from analysis_helpers import SMALL_CORPUS, programs

from lolameme.analysis.annotate import annotate
from lolameme.data.api import generate_dataset
from lolameme.tokenizers import get_tokenizer


@pytest.fixture(scope="session")
def char_tok():
    return get_tokenizer("char")


@pytest.fixture
def copy_samples(char_tok):
    texts, labels = programs()
    return annotate(char_tok, texts, labels, reverse_answer=False, globals_table=None, latent=None)


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("analysis") / "data"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few globals appear rarely in 64 programs: expected here
        generate_dataset("base", data, overrides=SMALL_CORPUS)
    return data
