"""Greedy decoding and teacher-forced scores: stop at <eos>, and batching never changes the result."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lolameme.errors import ModelError
from lolameme.eval.decode import greedy_decode
from lolameme.train.batching import length_sorted_batches
from lolameme.train.scoring import teacher_forced_scores

EOS, PAD, V = 2, 0, 16


class Scripted(torch.nn.Module):
    """Predicts ``table[last token]`` at every position, and counts its calls."""

    def __init__(self, table: dict[int, int]):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.table = table
        self.calls = 0

    def forward(self, idx):
        self.calls += 1
        nxt = torch.tensor([[self.table.get(int(t), 15) for t in row] for row in idx])
        return F.one_hot(nxt, V).float() * 10


class TinyCausal(torch.nn.Module):
    """A random one-layer causal attention model: position t mixes tokens 0..t only."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.emb = torch.nn.Embedding(V, 32)
        self.pos = torch.nn.Embedding(64, 32)
        self.qkv = torch.nn.Linear(32, 96)
        self.out = torch.nn.Linear(32, V)

    def forward(self, idx):
        x = self.emb(idx) + self.pos(torch.arange(idx.shape[1]))
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        x = x + F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(x) * 5


def test_decoding_stops_at_eos():
    model = Scripted({5: 6, 6: 7, 7: EOS, EOS: 9})
    out = greedy_decode(model, [[1, 5]], eos_id=EOS, max_new_tokens=10, pad_id=PAD)
    assert out == [[6, 7]]
    assert model.calls == 3  # 6, 7, <eos>: no step after the only row finished


def test_decoding_stops_at_length_limit_without_eos():
    model = Scripted({5: 5})
    assert greedy_decode(model, [[1, 5]], eos_id=EOS, max_new_tokens=4) == [[5, 5, 5, 5]]


def test_rows_finish_independently_in_one_batch():
    model = Scripted({5: EOS, 6: 7, 7: 8, 8: EOS})
    out = greedy_decode(model, [[1, 5], [1, 1, 6], [1, 8]], eos_id=EOS, max_new_tokens=6, batch_size=8)
    assert out == [[], [7, 8], []]


def test_batched_decoding_equals_one_by_one():
    model = TinyCausal()
    gen = torch.Generator().manual_seed(1)
    prompts = [torch.randint(3, V, (int(n),), generator=gen).tolist() for n in torch.randint(1, 20, (25,), generator=gen)]
    alone = [greedy_decode(model, [p], eos_id=EOS, max_new_tokens=8)[0] for p in prompts]
    batched = greedy_decode(model, prompts, eos_id=EOS, max_new_tokens=8, batch_size=7)
    assert batched == alone
    assert any(len(a) > 1 for a in alone)  # the check is not vacuous


def test_teacher_forced_scores_batched_equal_alone():
    model = TinyCausal(seed=3)
    seqs = [[1, 4, 5, 6, 3, 7, 8, EOS], [1, 9, 3, 10, EOS], [1, 4, 4, 4, 4, 4, 3, 11, 12, 13, EOS]]
    starts = [5, 3, 7]
    together = teacher_forced_scores(model, seqs, starts, batch_size=3)
    alone = [teacher_forced_scores(model, [s], [a]) for s, a in zip(seqs, starts)]
    assert together.n_correct.tolist() == [a.n_correct[0] for a in alone]
    assert together.n_tokens.tolist() == [3, 2, 4]
    for loss, single in zip(together.loss_sum, alone):
        assert abs(loss - single.loss_sum[0]) < 1e-4


def test_teacher_forced_counts_right_tokens():
    model = Scripted({3: 7, 7: 8, 8: EOS})
    scores = teacher_forced_scores(model, [[1, 4, 3, 7, 8, EOS], [1, 3, 7, 9, EOS]], [3, 2])
    assert scores.n_tokens.tolist() == [3, 3] and scores.n_correct.tolist() == [3, 1]
    assert scores.loss_sum[0] < scores.loss_sum[1]
    assert scores.exact.tolist() == [True, False]
    assert scores.summary()["val_exact"] == 0.5 and scores.summary()["val_token_accuracy"] == 4 / 6


def test_final_exact_asks_only_for_the_final_answer():
    """A trace answer (7 8) then the final answer (9 <eos>): the model gets the trace wrong, the final answer right."""
    model = Scripted({3: 7, 7: 5, 8: 9, 9: EOS})
    scores = teacher_forced_scores(model, [[1, 4, 3, 7, 8, 9, EOS]], [3], final_starts=[5])
    assert scores.n_correct.tolist() == [3] and scores.n_tokens.tolist() == [4]
    assert scores.exact.tolist() == [False] and scores.final_exact.tolist() == [True]


def test_teacher_forced_scores_refuse_what_does_not_fit():
    model = Scripted({})
    with pytest.raises(ModelError, match="context is 4"):
        teacher_forced_scores(model, [[1, 4, 3, 7, 8, EOS]], [3], context=4)
    with pytest.raises(ModelError, match="outside sequence 0"):
        teacher_forced_scores(model, [[1, 4, 3]], [4])


def test_teacher_forced_scores_restore_the_training_mode():
    model = TinyCausal(seed=1).train()
    teacher_forced_scores(model, [[1, 4, 3, 7, EOS]], [3])
    assert model.training


def test_length_sorted_batches_cover_every_row_once():
    lengths = [5, 1, 9, 3, 3, 7]
    batches = list(length_sorted_batches(lengths, 4))
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert batches[0] == [2, 5, 0, 3]


def _zoo_model(preset: str):
    """A zoo model with weights large enough that its outputs depend on the whole context
    (a freshly initialised one mostly copies the last token, which would make the checks weak)."""
    from lolameme.models import build_model

    torch.manual_seed(0)
    model = build_model(preset, vocab_size=V, max_seq_len=64)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.3)
    return model.eval()


FAMILIES = ["gpt2-tiny", "hyena-tiny", "thex-tiny-3"]


@pytest.mark.parametrize("preset", FAMILIES)
def test_every_family_is_causal_so_right_padding_is_invisible(preset):
    model = _zoo_model(preset)
    gen = torch.Generator().manual_seed(4)
    prefix = torch.randint(3, V, (1, 20), generator=gen)
    a = torch.cat([prefix, torch.randint(3, V, (1, 30), generator=gen)], dim=1)
    b = torch.cat([prefix, torch.full((1, 30), PAD)], dim=1)
    with torch.no_grad():
        assert torch.allclose(model(a)[:, :20], model(b)[:, :20], atol=1e-4)
        assert not torch.allclose(model(a)[:, 20:], model(b)[:, 20:], atol=1e-4)


@pytest.mark.parametrize("preset", FAMILIES)
def test_batched_decoding_equals_one_by_one_for_every_family(preset):
    model = _zoo_model(preset)
    gen = torch.Generator().manual_seed(2)
    prompts = [torch.randint(3, V, (int(n),), generator=gen).tolist() for n in torch.randint(2, 40, (12,), generator=gen)]
    alone = [greedy_decode(model, [p], eos_id=EOS, max_new_tokens=6)[0] for p in prompts]
    batched = greedy_decode(model, prompts, eos_id=EOS, max_new_tokens=6, batch_size=5, context=64)
    assert batched == alone
    assert len({tuple(a) for a in alone}) > 3  # outputs differ between prompts: the check has teeth
    scores = teacher_forced_scores(model, [p + a + [EOS] for p, a in zip(prompts, alone)],
                                   [len(p) for p in prompts], batch_size=5)
    assert all(c >= len(a) for c, a in zip(scores.n_correct, alone))  # greedy tokens are the argmax under teacher forcing
