"""The sample layout, the answer-only loss mask on a hand example, and digit reversal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lolameme.tokenizers import get_tokenizer
from lolameme.train.batching import collate
from lolameme.train.format import answer_from_ids, encode_sample, prompt_ids, reverse_digits
from lolameme.train.loss import StepTotals, step_loss


@pytest.fixture
def tok():
    return get_tokenizer("char")


def test_layout_is_bos_program_sep_answer_eos(tok) -> None:
    ids, start = encode_sample(tok, "a = 7;print(a)", "7")
    assert ids[0] == tok.bos_id and ids[start - 1] == tok.sep_id and ids[-1] == tok.eos_id
    assert ids[:start] == prompt_ids(tok, "a = 7;print(a)")
    assert tok.decode(ids[1 : start - 1]) == "a = 7;print(a)"
    assert answer_from_ids(tok, ids[start:]) == "7"


def test_answer_from_ids_stops_at_eos(tok) -> None:
    generated = [*tok.encode("42"), tok.eos_id, *tok.encode("99")]
    assert answer_from_ids(tok, generated) == "42"
    assert answer_from_ids(tok, tok.encode("42")) == "42"  # length limit hit before <eos>


@pytest.mark.parametrize("label, reversed_", [("-48", "-84"), ("120", "021"), ("7", "7"), ("0", "0"), ("abc", "abc")])
def test_reverse_digits_round_trips(tok, label: str, reversed_: str) -> None:
    assert reverse_digits(label) == reversed_
    assert reverse_digits(reversed_) == label
    ids, start = encode_sample(tok, "x = 1;print(x)", label, reverse_answer=True)
    assert tok.decode(ids[start:]) == reversed_
    assert answer_from_ids(tok, ids[start:], reverse_answer=True) == label


def test_answer_only_mask_on_a_hand_example(tok) -> None:
    # <bos> a = 5 ; p r i n t ( a ) <sep> 5 <eos>: targets are ids[1:], answer targets are "5" and <eos>
    ids, start = encode_sample(tok, "a=5;print(a)", "5")
    other, other_start = encode_sample(tok, "b=12;print(b)", "12")
    batch = collate([(np.array(ids), start), (np.array(other), other_start)], tok.pad_id)
    assert batch.inputs.shape == (2, len(other) - 1)
    answer_targets = batch.targets[0][batch.answer_mask[0]].tolist()
    assert answer_targets == [tok.encode("5")[0], tok.eos_id]
    assert batch.targets[1][batch.answer_mask[1]].tolist() == [*tok.encode("12"), tok.eos_id]
    program_targets = batch.targets[0][batch.program_mask[0]].tolist()
    assert program_targets == [*tok.encode("a=5;print(a)"), tok.sep_id]
    assert not (batch.answer_mask & batch.program_mask).any()
    # padding is neither answer nor program
    assert int((batch.answer_mask[0] | batch.program_mask[0]).sum()) == len(ids) - 1
    assert batch.inputs[0, len(ids) :].eq(tok.pad_id).all()


def test_loss_modes_weigh_answer_and_program(tok) -> None:
    ids, start = encode_sample(tok, "a=5;print(a)", "5")
    batch = collate([(np.array(ids), start)], tok.pad_id)
    ce = torch.zeros(batch.targets.shape)
    ce[batch.answer_mask] = 2.0
    ce[batch.program_mask] = 1.0
    totals = StepTotals(n_answer=int(batch.answer_mask.sum()), n_program=int(batch.program_mask.sum()))
    assert step_loss(ce, batch, totals, "answer").item() == pytest.approx(2.0)
    n_a, n_p = totals.n_answer, totals.n_program
    assert step_loss(ce, batch, totals, "full").item() == pytest.approx((2 * n_a + n_p) / (n_a + n_p))
    # weighted: a mix of the two *means*, not a per-token mean
    assert step_loss(ce, batch, totals, "weighted", 0.5).item() == pytest.approx(1.5)
    assert step_loss(ce, batch, totals, "weighted", 0.8).item() == pytest.approx(0.8 * 2 + 0.2 * 1)
