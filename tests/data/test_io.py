import json

import pytest

from lolameme.data.io import DatasetWriter, load_dataset, load_split, read_manifest, sha256_file
from lolameme.configfile import parse_overrides
from lolameme.errors import ConfigError, DatasetError


def _write(out, fmt="parquet", overwrite=False, rows=3):
    with DatasetWriter(out, fmt=fmt, overwrite=overwrite) as writer:
        split = writer.split("train")
        split.write({"input": [f"x = {i};print(x)" for i in range(rows)], "label": [str(i) for i in range(rows)],
                     "hops": list(range(rows))})
        writer.write_json("globals.json", {"aB": 3})
        return writer.finish({"task": "lolameme", "seed": 0})


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_round_trip_and_manifest(tmp_path, fmt):
    manifest = _write(tmp_path / "d", fmt)
    assert manifest["splits"]["train"]["rows"] == 3
    assert manifest["splits"]["train"]["sha256"] == sha256_file(tmp_path / "d" / f"train.{fmt}")
    splits, read = load_dataset(tmp_path / "d")
    assert read == manifest
    assert splits["train"].column("label").to_pylist() == ["0", "1", "2"]
    assert not list((tmp_path / "d").glob("*.tmp"))


def test_existing_dataset_needs_overwrite(tmp_path):
    _write(tmp_path / "d")
    before = (tmp_path / "d" / "train.parquet").read_bytes()
    with pytest.raises(DatasetError, match="overwrite"):
        _write(tmp_path / "d", rows=5)
    assert (tmp_path / "d" / "train.parquet").read_bytes() == before
    assert _write(tmp_path / "d", rows=5, overwrite=True)["splits"]["train"]["rows"] == 5


def test_interrupted_write_leaves_no_manifest(tmp_path):
    with pytest.raises(RuntimeError):
        with DatasetWriter(tmp_path / "d") as writer:
            writer.split("train").write({"input": ["a"], "label": ["1"]})
            raise RuntimeError("interrupted")
    assert not (tmp_path / "d" / "manifest.json").exists()
    assert not list((tmp_path / "d").glob("*.parquet*"))
    with pytest.raises(DatasetError, match="manifest.json is missing"):
        read_manifest(tmp_path / "d")


def test_corruption_detected(tmp_path):
    _write(tmp_path / "d", fmt="jsonl")
    path = tmp_path / "d" / "train.jsonl"
    path.write_text(path.read_text().replace('"0"', '"9"'))
    with pytest.raises(DatasetError, match="sha256"):
        load_split(tmp_path / "d", "train", verify=True)
    with pytest.raises(DatasetError, match="no split 'test'"):
        load_split(tmp_path / "d", "test")


def test_batches_need_core_columns(tmp_path):
    with DatasetWriter(tmp_path / "d") as writer:
        with pytest.raises(DatasetError, match="label"):
            writer.split("train").write({"input": ["a"]})


def test_overrides_parse_yaml_scalars():
    assert parse_overrides(["a=1", "b=meme", "c.d=0.5", "e=[1, 2]"]) == {"a": 1, "b": "meme", "c": {"d": 0.5}, "e": [1, 2]}
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["novalue"])


def test_jsonl_accepts_arrow_columns(tmp_path):
    import pyarrow as pa

    with DatasetWriter(tmp_path / "d", fmt="jsonl") as writer:
        writer.split("train").write({"input": pa.array(["a = 1;print(a)"]), "label": pa.array(["1"])})
        writer.finish({"task": "lolameme"})
    assert json.loads((tmp_path / "d" / "train.jsonl").read_text()) == {"input": "a = 1;print(a)", "label": "1"}
