"""save_pretrained / from_pretrained, and GPT-2 export to transformers with equal logits."""

from __future__ import annotations

import json

import pytest
import torch

from lolameme.errors import CheckpointError, ModelError
from lolameme.models import StackModel, build_model


@pytest.mark.parametrize("spec", ["thex-tiny-2", "mamba:32*2", "gpt2:32*2"])
def test_save_pretrained_round_trips_config_and_weights(tmp_path, spec):
    torch.manual_seed(0)
    model = build_model(spec, vocab_size=29, max_seq_len=16, n_head=4).eval()
    model.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    assert json.loads((tmp_path / "m" / "config.json").read_text())["layers"] == model.config.layers
    loaded = StackModel.from_pretrained(tmp_path / "m").eval()
    assert loaded.config == model.config
    idx = torch.randint(0, 29, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(loaded(idx), model(idx), rtol=0, atol=0)


def test_from_pretrained_names_what_is_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        StackModel.from_pretrained(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="not a directory"):
        StackModel.from_pretrained(tmp_path / "nothing" / "here")


def test_gpt2_stack_exports_to_transformers_with_equal_logits():
    transformers = pytest.importorskip("transformers")
    from lolameme.models.hub import to_transformers_gpt2

    torch.manual_seed(0)
    ours = build_model("gpt2:32*2", vocab_size=41, n_head=4, max_seq_len=20, dropout=0.0, pad_vocab_multiple=8).eval()
    theirs = to_transformers_gpt2(ours)
    assert isinstance(theirs, transformers.GPT2LMHeadModel)
    idx = torch.randint(0, 41, (2, 20))
    with torch.no_grad():
        assert (theirs(idx).logits - ours(idx)).abs().max().item() < 1e-5
    with pytest.raises(ModelError, match="only GPT-2-family"):
        to_transformers_gpt2(build_model("hyena:32,gpt2:32", vocab_size=41, n_head=4))
    with pytest.raises(ModelError, match="pos_encoding is 'rotary'"):
        to_transformers_gpt2(build_model("gpt2:32", vocab_size=41, n_head=4, pos_encoding="rotary"))


def test_a_missing_hf_extra_is_one_line_naming_it(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "huggingface_hub", None)  # as if not installed
    with pytest.raises(ModelError, match=r"huggingface_hub is not installed.*pip install 'lolameme\[hf\]'"):
        StackModel.from_pretrained("someone/some-model")
