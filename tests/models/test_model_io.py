"""Save and load through safetensors round-trips every preset exactly."""

from __future__ import annotations

import pytest
import torch

from lolameme.errors import CheckpointError
from lolameme.models import build_model, list_presets, load_model, save_model

CPU_PRESETS = [name for name, _ in list_presets() if "-tiny" in name or "-small" in name]


def assert_same_model(a, b) -> None:
    assert a.config == b.config
    state_a, state_b = a.state_dict(), b.state_dict()
    assert list(state_a) == list(state_b)
    for name in state_a:
        assert torch.equal(state_a[name], state_b[name]), name


@pytest.mark.parametrize("name", CPU_PRESETS)
def test_cpu_presets_round_trip_exactly(name, tmp_path):
    torch.manual_seed(0)
    model = build_model(name, vocab_size=67, max_seq_len=64)
    path = save_model(model, tmp_path / "model.safetensors")
    loaded = load_model(path)
    assert_same_model(model, loaded)
    idx = torch.randint(0, 67, (2, 16))
    assert torch.equal(model.eval()(idx), loaded.eval()(idx))
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temporary left behind


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gpt2", "thex-13"])
def test_paper_presets_round_trip_exactly(name, tmp_path):
    """Paper scale (124M / 156M parameters): gpt2 and one THEX cover every module kind at full size."""
    torch.manual_seed(0)
    model = build_model(name)
    loaded = load_model(save_model(model, tmp_path / "model.safetensors"))
    assert_same_model(model, loaded)


def test_loading_a_missing_or_foreign_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "absent.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_model(tmp_path / "junk.safetensors")
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(CheckpointError, match="metadata"):
        load_model(tmp_path / "plain.safetensors")
