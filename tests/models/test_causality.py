"""Changing tokens after position t never changes the outputs up to t."""

from __future__ import annotations

import pytest
import torch

from lolameme.models import build_model

SPECS = [
    ("gpt2:32*2", "learned"),
    ("gpt2:32*2", "rotary"),
    ("hyena:36*2", "none"),
    ("hyena:36,gpt2:32,hyena:36", "none"),
    ("gpt2:32,hyena:36*2,gpt2:32", "rotary"),
    ("hyena:48,gpt2:32,hyena:36,gpt2:64", "learned"),
]


@pytest.mark.parametrize("spec, positions", SPECS)
def test_outputs_up_to_t_ignore_later_tokens(spec, positions):
    torch.manual_seed(0)
    model = build_model(spec, vocab_size=23, n_head=4, max_seq_len=24, dropout=0.0, pos_encoding=positions)
    model = model.double().eval()
    idx = torch.randint(0, 23, (3, 24))
    reference = model(idx)
    for t in (0, 5, 17, 22):
        changed = idx.clone()
        changed[:, t + 1 :] = torch.randint(0, 23, (3, 23 - t))
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 1) % 23  # surely different
        out = model(changed)
        torch.testing.assert_close(out[:, : t + 1], reference[:, : t + 1], rtol=0, atol=1e-10)
        # The test can fail: later outputs do see the change.
        assert not torch.allclose(out[:, t + 1 :], reference[:, t + 1 :])


def test_presets_of_each_family_are_causal():
    for name in ("gpt2-tiny", "hyena-tiny", "thex-tiny-0", "thex-tiny-5"):
        torch.manual_seed(1)
        model = build_model(name, vocab_size=31, max_seq_len=16).double().eval()
        idx = torch.randint(0, 31, (2, 16))
        changed = idx.clone()
        changed[:, 9:] = (changed[:, 9:] + 1) % 31
        torch.testing.assert_close(model(changed)[:, :9], model(idx)[:, :9], rtol=0, atol=1e-10)
