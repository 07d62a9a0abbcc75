import pytest

from lolameme.configfile import parse_overrides, read_config_file
from lolameme.errors import ConfigError
from lolameme.train.config import parse_set


def test_config_files(tmp_path):
    (tmp_path / "a.yaml").write_text("lr: 0.01\nstages: []\n")
    (tmp_path / "b.json").write_text('{"steps": 3}')
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "list.yaml").write_text("- 1\n")
    assert read_config_file(tmp_path / "a.yaml") == {"lr": 0.01, "stages": []}
    assert read_config_file(tmp_path / "b.json") == {"steps": 3}
    assert read_config_file(tmp_path / "empty.yaml") == {}
    with pytest.raises(ConfigError, match="mapping"):
        read_config_file(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        read_config_file(tmp_path / "missing.yaml")


def test_train_set_sends_model_keys_to_model_overrides():
    assert parse_set(["model.pos_encoding=rotary", "lr=0.003", "model=gpt2-tiny"]) == {
        "lr": 0.003, "model": "gpt2-tiny", "model_overrides": {"pos_encoding": "rotary"}}
    assert parse_overrides(["a.b=1", "a.c=x"]) == {"a": {"b": 1, "c": "x"}}
    with pytest.raises(ConfigError, match="conflicts"):
        parse_overrides(["a=1", "a.b=2"])
