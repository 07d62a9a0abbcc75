"""evaluate_split end to end on a hand-made dataset, and the refusals of mismatched inputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lolameme.errors import DatasetError, TokenizerError
from lolameme.eval.evaluate import (EvalSettings, TrainedOn, check_compatible, default_splits, evaluate_split,
                                   prediction_text)
from lolameme.tokenizers import get_tokenizer

QUIET = EvalSettings(progress=False, batch_size=2)


def test_scores_predictions_and_slices(copy_model, char_tok, tiny_dataset):
    report, table = evaluate_split(copy_model, char_tok, tiny_dataset, "test_with_globals",
                                   train_labels=["5", "5", "2", "5"], settings=QUIET)
    assert table.column("prediction").to_pylist() == ["5", "7", "1", "2", "9"]
    assert table.column("correct").to_pylist() == [True, True, False, False, False]
    assert report["n"] == 5 and report["exact_match"] == pytest.approx(2 / 5)
    assert report["majority_answer"] == "5" and report["majority_baseline"] == pytest.approx(2 / 5)
    assert report["token_accuracy"] == pytest.approx(7 / 11)
    hops = {s["value"]: s for s in report["slices"]["hops"]}
    assert hops["1"]["exact_match"] == 1.0 and hops["1"]["majority_baseline"] == 0.5
    assert hops["3"]["exact_match"] == 0.0 and hops["3"]["n"] == 1
    assert set(report["slices"]) == {"hops", "uses_globals"}
    assert {"input", "label", "prediction", "correct", "hops"} <= set(table.column_names)


class WritesTwentyOne(torch.nn.Module):
    """After ``<sep>`` writes "2", "1", ``<eos>`` whatever the program: "21" read with reversed digits is "12"."""

    def __init__(self, tok):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        two, one = tok.encode("2")[0], tok.encode("1")[0]
        self.table = torch.full((tok.vocab_size,), tok.eos_id)
        self.table[tok.sep_id], self.table[two] = two, one
        self.vocab_size = tok.vocab_size

    def forward(self, idx):
        return F.one_hot(self.table[idx], self.vocab_size).float() + self.weight


def test_reverse_answer_is_undone_before_matching(char_tok, make_dataset, tmp_path):
    data = make_dataset(tmp_path / "rev", "lolameme", {
        "train": {"input": ["a=5"], "label": ["5"]},
        "test": {"input": ["x=12", "y=21"], "label": ["12", "21"]},
    })
    model = WritesTwentyOne(char_tok)
    report, table = evaluate_split(model, char_tok, data, "test", train_labels=["5"], reverse_answer=True,
                                   settings=QUIET)
    assert table.column("prediction").to_pylist() == ["12", "12"]
    assert table.column("correct").to_pylist() == [True, False]
    assert table.column("answer_tokens_correct").to_pylist() == [3, 0]  # teacher forcing scores "21<eos>" / "12<eos>"
    plain, plain_table = evaluate_split(model, char_tok, data, "test", train_labels=["5"], settings=QUIET)
    assert plain["exact_match"] == 0.5 and plain_table.column("prediction").to_pylist() == ["21", "21"]


def test_limit_and_default_splits(copy_model, char_tok, tiny_dataset):
    report, _ = evaluate_split(copy_model, char_tok, tiny_dataset, "test_with_globals", train_labels=["5"],
                               settings=EvalSettings(progress=False, limit=2))
    assert report["n"] == 2 and report["exact_match"] == 1.0
    assert default_splits(tiny_dataset) == ["test_with_globals"]


def test_dataset_of_another_task_is_refused(copy_model, char_tok, tiny_dataset, tmp_path, make_dataset):
    listops = make_dataset(tmp_path / "listops", "listops", {"test": {"input": ["[MAX 2 3 ]"], "label": ["3"]}})
    trained = TrainedOn(data_dir=tiny_dataset, task="lolameme", reverse_answer=False)
    with pytest.raises(DatasetError, match="'listops' dataset but the run was trained on a 'lolameme'"):
        check_compatible(trained, listops, char_tok, copy_model)
    assert check_compatible(trained, tiny_dataset, char_tok, copy_model) == "lolameme"


def test_text_outside_the_vocabulary_is_refused(copy_model, tmp_path, make_dataset):
    data = make_dataset(tmp_path / "d", "lolameme", {"test": {"input": ["x = 5"], "label": ["5"]}})
    listops_tok = get_tokenizer("listops")
    with pytest.raises(TokenizerError, match="row 0: the run's listops tokenizer cannot encode"):
        evaluate_split(copy_model, listops_tok, data, "test", train_labels=["5"], settings=QUIET)


def test_tokenizer_larger_than_model_vocabulary_is_refused(tiny_dataset):
    class Small(torch.nn.Module):
        class config:  # noqa: N801 - mimics the model zoo's model.config
            vocab_size = 20
            max_seq_len = 64

    trained = TrainedOn(data_dir=tiny_dataset, task="lolameme", reverse_answer=False)
    with pytest.raises(TokenizerError, match="101 tokens but the model's vocabulary has 20"):
        check_compatible(trained, tiny_dataset, get_tokenizer("char"), Small())


def test_missing_split_is_a_dataset_error(copy_model, char_tok, tiny_dataset):
    with pytest.raises(DatasetError, match="no split 'test_nope'"):
        evaluate_split(copy_model, char_tok, tiny_dataset, "test_nope", train_labels=["5"], settings=QUIET)


def test_special_tokens_inside_an_answer_make_it_wrong(char_tok, make_dataset, tmp_path):
    """Decoding drops special tokens; '<sep>2' must still not pass for the label '2'."""
    data = make_dataset(tmp_path / "sp", "lolameme", {"test": {"input": ["x=2"], "label": ["2"]}})
    model = WritesTwentyOne(char_tok)
    model.table[char_tok.sep_id] = char_tok.sep_id  # after <sep>: <sep>, <sep>, ... never <eos>
    report, table = evaluate_split(model, char_tok, data, "test", train_labels=["2"], settings=QUIET)
    assert table.column("prediction").to_pylist()[0].startswith("<sep><sep>")
    assert report["exact_match"] == 0.0
    two = char_tok.encode("2")[0]
    assert prediction_text(char_tok, [char_tok.sep_id, two]) == "<sep>2"
    assert prediction_text(char_tok, [two, two]) == "22"
