"""Every dataset directory carries a card that Hugging Face's loader reads split by split."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from lolameme.data.api import generate_dataset
from lolameme.data.io import load_dataset

SMALL = {"dataset_size": 120, "test_dataset_size": 12}


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_load_dataset_returns_exactly_the_manifest_splits(tmp_path, fmt):
    datasets = pytest.importorskip("datasets")  # the hf extra
    out = tmp_path / "base"
    manifest = generate_dataset("base", out, overrides=SMALL, fmt=fmt)
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf-cache"))
    assert set(loaded) == set(manifest["splits"]) == {"train", "test_with_globals", "test_without_globals"}
    for name, entry in manifest["splits"].items():
        assert loaded[name].num_rows == entry["rows"]
    ours, _ = load_dataset(out)
    assert loaded["test_without_globals"]["input"] == ours["test_without_globals"].column("input").to_pylist()


def test_card_states_config_counts_and_majority_answer(tmp_path):
    out = tmp_path / "lola"
    manifest = generate_dataset("base", out, overrides=SMALL)
    text = (out / "README.md").read_text()
    files = _front_matter(text)["configs"][0]["data_files"]
    assert files == [{"split": n, "path": e["file"]} for n, e in manifest["splits"].items()]
    tables, _ = load_dataset(out)
    labels = tables["train"].column("label").to_pylist()
    majority, count = min(Counter(labels).items(), key=lambda kv: (-kv[1], kv[0]))
    assert f"Majority answer: `{majority}`" in text
    assert f"| `train` | `train.parquet` | {len(labels):,} | {count / len(labels):.1%} |" in text
    assert "dataset_size: 120" in text and f"seed {manifest['seed']}" in text


def test_listops_dataset_gets_a_card(tmp_path):
    config = {"num_train_samples": 60, "num_valid_samples": 8, "num_test_samples": 8, "max_depth": 3,
              "max_args": 3, "min_length": 5, "max_length": 60}
    manifest = generate_dataset("listops-small", tmp_path / "ops", overrides=config)
    files = _front_matter((tmp_path / "ops" / "README.md").read_text())["configs"][0]["data_files"]
    assert [f["split"] for f in files] == list(manifest["splits"])
