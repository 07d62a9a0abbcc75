"""Recipes: the shipped files load and validate; bad recipe files fail with a ConfigError naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from lolameme.errors import ConfigError
from lolameme.train.config import make_config
from lolameme.train.recipes import default_recipe, get_recipe, load_recipe, parse_recipe, recipe_names


def test_every_shipped_recipe_loads_and_makes_a_valid_config() -> None:
    names = recipe_names()
    assert {"plain", "tiny"} <= set(names)
    for name in names:
        recipe = get_recipe(name)
        assert recipe.description
        config = make_config({**load_recipe(name), "data": "D", "out": "O", "steps": 1})
        assert config.batch_size >= 1


DEFAULT = "words-copy-first"  # the best recipe measured for tiny models (docs/training.md)


def test_tiny_models_default_to_the_best_measured_recipe() -> None:
    for model in ("gpt2-tiny", "hyena-tiny", "thex-tiny-3"):
        assert default_recipe(model) == DEFAULT
    assert get_recipe(DEFAULT).train["tokenizer"] == "words"
    assert default_recipe("gpt2") is None


def test_load_recipe_returns_a_fresh_copy() -> None:
    first = load_recipe("tiny")
    first["lr"] = 123.0
    first.setdefault("model_overrides", {})["x"] = 1
    assert load_recipe("tiny").get("lr") != 123.0
    assert "x" not in load_recipe("tiny").get("model_overrides", {})


def test_recipe_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("description: mine\ntrain: {lr: 0.01, loss: full}\n")
    assert get_recipe(path).name == "mine" and load_recipe(str(path)) == {"lr": 0.01, "loss": "full"}


@pytest.mark.parametrize("text, message", [
    ("train: {lr: 0.01}", "description"),
    ("description: x\ntrain: {lr: -1}", "lr"),
    ("description: x\ntrain: {lrr: 0.01}", "lrr"),
    ("description: x\ntrain: {data: somewhere}", "train.data is not a recipe key"),
    ("description: x\nmodel: gpt2-tiny", "unknown keys"),
    ("description: x\ntrain: {stages: [{task: {statement_count: 1}, gate: 1.5}]}", "gate"),
    ("description: x\ntrain: [1, 2]", "mapping"),
    ("[1, 2", "not valid YAML"),
])
def test_bad_recipes_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_recipe(text, name="bad")


def test_unknown_recipe_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="shipped recipes: .*tiny"):
        get_recipe("no-such-recipe")


def test_cli_applies_the_named_recipe_under_flags(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from lolameme.cli import app
    from train_helpers import write_dataset

    data = write_dataset(tmp_path / "data", 40)
    result = CliRunner().invoke(app, [
        "train", "--data", str(data), "--out", str(tmp_path / "run"), "--model", "gpt2:32*2", "--recipe", "weighted",
        "--steps", "1", "--lr", "0.005", "--set", "val_samples=0", "--set", "model.n_head=2"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["train"]
    assert saved["recipe"] == "weighted" and saved["loss"] == "weighted" and saved["lr"] == 0.005  # flag beats recipe
    bad = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "r2"), "--recipe", "nope",
                                   "--steps", "1"])
    assert bad.exit_code == 2 and "unknown recipe 'nope'" in bad.output


def test_default_recipe_follows_model_and_task(tmp_path: Path) -> None:
    from lolameme.train.cli import with_recipe
    from train_helpers import write_dataset

    lolameme = write_dataset(tmp_path / "lola", 10)
    listops = write_dataset(tmp_path / "listops", 10, task="listops")
    assert with_recipe({"data": lolameme, "model": "gpt2-tiny"}, None)["recipe"] == DEFAULT
    assert "recipe" not in with_recipe({"data": listops, "model": "gpt2-tiny"}, None)  # the curriculum is LOLAMEME's
    assert "recipe" not in with_recipe({"data": lolameme, "model": "gpt2-tiny"}, "none")
    assert "recipe" not in with_recipe({"data": lolameme, "model": "gpt2-small"}, None)
    mine = with_recipe({"data": lolameme, "model": "gpt2-tiny", "lr": 0.5, "model_overrides": {"dropout": 0.1}}, "tiny")
    assert mine["lr"] == 0.5 and mine["model_overrides"]["dropout"] == 0.1
    assert mine["model_overrides"]["pos_encoding"] == load_recipe("tiny")["model_overrides"]["pos_encoding"]
