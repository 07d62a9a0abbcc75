"""The recall task generators follow their definitions, never share examples across splits, and
depend on the seed alone."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest

from lolameme.data.api import generate_dataset
from lolameme.data.recall import associative, induction, mqar
from lolameme.data.recall.common import FILLER, QUERY, SYMBOLS
from lolameme.errors import ConfigError


def _rows(out, split):
    return pq.read_table(out / f"{split}.parquet").to_pylist()


def _generate(tmp_path, preset, **overrides):
    out = tmp_path / preset
    manifest = generate_dataset(preset, out, overrides=overrides)
    return out, manifest


def test_associative_recall_follows_safari(tmp_path):
    out, manifest = _generate(tmp_path, "associative-recall", train_examples=300, test_examples=100)
    keys, values = manifest["keys"], manifest["values"]
    assert (keys, values) == ("0123", "4567")  # vocabulary 10: 8 symbols, keys first
    for row in _rows(out, "train") + _rows(out, "test"):
        pairs, query = row["input"].split(QUERY)
        assert len(pairs) == 20 and len(query) == 1 and row["n_pairs"] == 10
        shown = dict()
        for k, v in zip(pairs[::2], pairs[1::2]):
            assert k in keys and v in values
            assert shown.setdefault(k, v) == v  # one value per key within an example
        assert query in shown and row["label"] == shown[query]  # without allow_dot the key was shown
        last = max(i for i in range(0, 20, 2) if pairs[i] == query)
        assert row["distance"] == 21 - last


def test_associative_recall_allow_dot_answers_unseen_keys_with_the_noop(tmp_path):
    out, _ = _generate(tmp_path, "associative-recall", vocab_size=20, input_seq_len=4, allow_dot=True,
                       train_examples=200, test_examples=50)
    rows = _rows(out, "train")
    unseen = [r for r in rows if not r["key_shown"]]
    assert unseen and all(r["label"] == FILLER and r["input"][-1] not in r["input"][:-2:2] for r in unseen)


def test_mqar_follows_zoology(tmp_path):
    out, manifest = _generate(tmp_path, "mqar-64-4", train_examples=400, test_examples=100)
    rows = _rows(out, "train")
    assert manifest["examples"] == {"train": 400, "test": 100} and len(rows) == 1600
    by_example: dict[int, list[dict]] = {}
    for row in rows:
        by_example.setdefault(row["example"], []).append(row)
    for group in by_example.values():
        assert [r["query"] for r in group] == [0, 1, 2, 3]
        full = group[-1]["input"]
        kv = full[:8]
        keys, values = kv[::2], kv[1::2]
        assert len(set(keys)) == 4 and len(set(values)) == 4
        assert set(keys) <= set(SYMBOLS[:31]) and set(values) <= set(SYMBOLS[31:62])
        for row in group:
            assert full.startswith(row["input"])  # each row is a prefix of one sequence
            position = len(row["input"]) - 1
            assert position >= 8 and (position - 8) % 2 == 0  # queries sit on the section's even slots
            key = row["input"][-1]
            assert row["label"] == values[keys.index(key)]
            assert row["distance"] == position - 2 * keys.index(key)
        query_section = full[8:]
        assert sorted(c for c in query_section if c != FILLER) == sorted(keys)


def test_mqar_query_slots_follow_the_power_law():
    config = mqar.load_config({}, {"num_kv_pairs": 1, "train_examples": 1, "test_examples": 1})
    examples = mqar.draw_chunk(config, np.random.default_rng(0), 4000)
    slots = Counter((len(example.rows[0]["input"]) - 1 - 2) // 2 for example in examples)
    weights = config.query_weights
    assert weights[0] > weights[1] > weights[-1]  # near slots most likely
    for slot in (0, 1, 10):
        assert abs(slots[slot] / 4000 - weights[slot]) < 0.03


def test_induction_heads_follow_safari(tmp_path):
    out, _ = _generate(tmp_path, "induction-heads", train_examples=300, test_examples=100)
    for row in _rows(out, "train"):
        text = row["input"]
        assert len(text) == 31 and text.endswith(QUERY)
        triggers = [i for i, c in enumerate(text[:-1]) if c == QUERY]
        assert len(triggers) == row["n_triggers"] >= 1
        assert all(text[t + 1] == row["label"] for t in triggers)
        assert row["distance"] == 30 - triggers[-1]


@pytest.mark.parametrize("preset", ["associative-recall", "mqar-64-4", "induction-heads"])
def test_splits_do_not_overlap_and_the_seed_decides(tmp_path, preset):
    small = {"train_examples": 300, "test_examples": 100}
    out, manifest = _generate(tmp_path, preset, **small)
    key = "example" if preset == "mqar-64-4" else None

    def sequences(split):
        rows = _rows(out, split)
        if key is None:
            return {r["input"] + r["label"] for r in rows}
        return {max((r for r in rows if r[key] == e), key=lambda r: len(r["input"]))["input"]
                for e in {r[key] for r in rows}}

    assert not sequences("train") & sequences("test")
    again = generate_dataset(preset, tmp_path / "again", overrides=small)
    other = generate_dataset(preset, tmp_path / "other", overrides={**small, "seed": 1})
    shas = lambda m: {name: entry["sha256"] for name, entry in m["splits"].items()}  # noqa: E731
    assert shas(again) == shas(manifest)
    assert shas(other)["train"] != shas(manifest)["train"]
    assert json.loads((out / "manifest.json").read_text())["config"]["seed"] == 0


@pytest.mark.parametrize("task,overrides,needle", [
    (associative, {"vocab_size": 3}, "vocab_size"),
    (associative, {"vocab_size": 200}, "vocab_size"),
    (mqar, {"num_kv_pairs": 40}, "num_kv_pairs"),
    (mqar, {"input_seq_len": 12, "num_kv_pairs": 4}, "input_seq_len"),
    (induction, {"input_seq_len": 2}, "input_seq_len"),
    (mqar, {"pairs": 4}, "pairs"),
])
def test_bad_configs_name_the_key(task, overrides, needle):
    with pytest.raises(ConfigError, match=needle):
        task.load_config({}, overrides)


def test_too_few_distinct_examples_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="distinct examples"):
        generate_dataset("associative-recall", tmp_path / "x",
                         overrides={"vocab_size": 4, "input_seq_len": 2, "train_examples": 10, "test_examples": 1})
