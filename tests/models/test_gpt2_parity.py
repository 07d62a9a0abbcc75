"""Our ``gpt2`` stack with the weights of transformers' GPT2LMHeadModel gives the same logits."""

from __future__ import annotations

import pytest
import torch

from lolameme.models import StackModel, build_model

transformers = pytest.importorskip("transformers")


def load_hf_gpt2_weights(ours: StackModel, theirs) -> None:
    """Copy a GPT2LMHeadModel's weights into our gpt2 stack (HF's Conv1D stores weights transposed)."""
    source = theirs.transformer
    with torch.no_grad():
        ours.token_embedding.weight.copy_(source.wte.weight)
        ours.position_embedding.weight.copy_(source.wpe.weight)
        for block, hf in zip(ours.layers, source.h):
            pairs = [
                (block.ln_1, hf.ln_1, False), (block.ln_2, hf.ln_2, False),
                (block.mixer.qkv, hf.attn.c_attn, True), (block.mixer.proj, hf.attn.c_proj, True),
                (block.mlp.fc_in, hf.mlp.c_fc, True), (block.mlp.fc_out, hf.mlp.c_proj, True),
            ]
            for mine, hf_module, transposed in pairs:
                mine.weight.copy_(hf_module.weight.t() if transposed else hf_module.weight)
                mine.bias.copy_(hf_module.bias)
        ours.ln_f.weight.copy_(source.ln_f.weight)
        ours.ln_f.bias.copy_(source.ln_f.bias)


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
