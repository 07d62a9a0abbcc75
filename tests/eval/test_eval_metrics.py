"""Exact match, the majority baseline and slices on hand-made data."""

from __future__ import annotations

import pyarrow as pa
import pytest

from lolameme.errors import EvalError
from lolameme.data.io import majority_answer
from lolameme.eval.metrics import (SampleScores, exact_match, slice_columns, slice_keys,
                                   sliced_scores, summarize)


def test_exact_match_compares_strings_verbatim():
    assert exact_match(["7", "-48", "07", "1 ", ""], ["7", "-48", "7", "1", "0"]) == [True, True, False, False, False]


def test_exact_match_refuses_unpaired_lists():
    with pytest.raises(EvalError, match="pair up"):
        exact_match(["1"], ["1", "2"])


def test_majority_answer_and_tie_break():
    assert majority_answer(["3", "5", "3", "9"]) == "3"
    assert majority_answer(["5", "3", "5", "3"]) == "3"  # tie: the smallest string, whatever the order
    with pytest.raises(EvalError, match="empty"):
        majority_answer([])


def _scores(correct):
    n = len(correct)
    return SampleScores(correct=correct, n_token_correct=[2 if c else 1 for c in correct],
                        n_answer_tokens=[2] * n, token_loss_sum=[0.5 if c else 3.0 for c in correct])


def test_summary_puts_baseline_beside_scores():
    labels = ["3", "3", "5", "7"]
    s = summarize(_scores([True, False, True, False]), labels, majority="3")
    assert s == {"n": 4, "exact_match": 0.5, "majority_baseline": 0.5,
                 "token_accuracy": 6 / 8, "token_loss": 7.0 / 8}


def test_slices_and_per_slice_baseline():
    table = pa.table({
        "input": ["a", "b", "c", "d", "e"],
        "label": ["3", "3", "5", "3", "9"],
        "hops": [1, 1, 2, 2, 3],
        "uses_globals": [True, False, True, True, False],
        "language": ["LOLA", "MEME", "LOLA", "LOLA", "MEME"],
        "tags": [[1], [2], [3], [4], [5]],  # a list column cannot be sliced and is skipped
    })
    scores = _scores([True, True, False, True, False])
    assert slice_columns(table) == ["hops", "uses_globals", "language"]
    slices = sliced_scores(table, scores, majority="3")
    hops = {s["value"]: s for s in slices["hops"]}
    assert [s["value"] for s in slices["hops"]] == ["1", "2", "3"]
    assert hops["1"]["exact_match"] == 1.0 and hops["1"]["majority_baseline"] == 1.0
    assert hops["2"]["n"] == 2 and hops["2"]["exact_match"] == 0.5 and hops["2"]["majority_baseline"] == 0.5
    assert hops["3"]["exact_match"] == 0.0 and hops["3"]["majority_baseline"] == 0.0
    globals_ = {s["value"]: s for s in slices["uses_globals"]}
    assert globals_["true"]["n"] == 3 and globals_["false"]["exact_match"] == 0.5
    assert {s["value"] for s in slices["language"]} == {"LOLA", "MEME"}


def test_many_valued_numbers_are_bucketed_into_ordered_ranges():
    values = list(range(500, 2000, 7)) + [None]
    keys = slice_keys(values)
    ranges = list(dict.fromkeys(k for k in keys if k != "missing"))
    assert 2 <= len(ranges) <= 6 and keys[-1] == "missing"
    for key, value in zip(keys, values):
        if value is not None:
            low, high = map(int, key.split("-"))
            assert low <= value <= high
    # few distinct values keep one slice each
    assert slice_keys([1, 2, 2, 3]) == ["1", "2", "2", "3"]
