"""A tiny model of each family can overfit a handful of sequences; forward contract under autocast."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lolameme.errors import ModelError
from lolameme.models import build_model


@pytest.mark.parametrize("name", ["gpt2-tiny", "hyena-tiny", "thex-tiny-3"])
def test_tiny_models_overfit_a_handful_of_sequences(name):
    torch.manual_seed(0)
    vocab, length = 20, 24
    model = build_model(name, vocab_size=vocab, max_seq_len=length)
    data = torch.randint(0, vocab, (4, length + 1), generator=torch.Generator().manual_seed(1))
    inputs, targets = data[:, :-1], data[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for step in range(300):
        loss = F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.05:
            break
    assert first > 2.5  # starts near log(20) = 3.0: nothing was memorised beforehand
    assert loss.item() < 0.05, f"{name} only reached loss {loss.item():.3f} after {step + 1} steps"


def test_logits_are_float32_under_bf16_autocast_and_close_to_float32():
    torch.manual_seed(0)
    model = build_model("thex-tiny-2", vocab_size=50, max_seq_len=32, pos_encoding="rotary").eval()
    idx = torch.randint(0, 50, (2, 32))
    with torch.no_grad():
        exact = model(idx)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            approximate = model(idx)
    assert approximate.dtype == torch.float32
    assert (approximate - exact).abs().max() < 0.1 * exact.abs().max() + 0.05


def test_dropout_is_active_only_in_training_mode():
    torch.manual_seed(0)
    model = build_model("thex-tiny-1", vocab_size=30, max_seq_len=16, dropout=0.3)
    idx = torch.randint(0, 30, (2, 16))
    model.train()
    assert not torch.equal(model(idx), model(idx))
    model.eval()
    assert torch.equal(model(idx), model(idx))


def test_gradients_reach_every_trainable_parameter():
    torch.manual_seed(0)
    model = build_model("hyena:24,gpt2:16,hyena:24", vocab_size=13, n_head=2, max_seq_len=12, pos_encoding="learned")
    model(torch.randint(0, 13, (2, 12))).sum().backward()
    missing = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(name.endswith("filter.pos_features") for name in frozen)


@pytest.mark.parametrize(
    "idx, fragment",
    [
        (torch.zeros(1, 17, dtype=torch.long), "longer than the model's context max_seq_len=16"),
        (torch.full((1, 4), 30), r"token ids must be in \[0, 30\)"),
        (torch.full((1, 4), -1), r"token ids must be in \[0, 30\)"),
        (torch.zeros(4, dtype=torch.long), r"shape \[batch, seq_len\]"),
        (torch.zeros(1, 4), "integer tensor"),
    ],
)
def test_bad_input_is_a_model_error(idx, fragment):
    model = build_model("gpt2-tiny", vocab_size=30, max_seq_len=16)
    with pytest.raises(ModelError, match=fragment):
        model(idx)
