"""Our ``gpt2`` stack with the weights of transformers' GPT2LMHeadModel gives the same logits."""

from __future__ import annotations

import pytest
import torch

from lolameme.models import build_model
from lolameme.models.hub import load_transformers_gpt2 as load_hf_gpt2_weights

transformers = pytest.importorskip("transformers")


def test_logits_match_transformers_gpt2():
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=97, n_positions=40, n_embd=64, n_layer=3, n_head=4,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, activation_function="gelu_new",
        layer_norm_epsilon=1e-5, tie_word_embeddings=True, bos_token_id=0, eos_token_id=0,
    )
    theirs = transformers.GPT2LMHeadModel(config).eval()
    ours = build_model("gpt2:64*3", vocab_size=97, n_head=4, max_seq_len=40, dropout=0.0, pos_encoding="learned").eval()
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())
    load_hf_gpt2_weights(ours, theirs)
    idx = torch.randint(0, 97, (3, 40))
    with torch.no_grad():
        expected = theirs(idx).logits
        got = ours(idx)
    assert got.shape == expected.shape == (3, 40, 97)
    assert (got - expected).abs().max().item() < 1e-5
    # The comparison can fail: perturbing one weight breaks it.
    with torch.no_grad():
        ours.layers[1].mixer.proj.bias[0] += 0.01  # one entry: a uniform shift would vanish in LayerNorm
        assert (ours(idx) - expected).abs().max().item() > 1e-5
