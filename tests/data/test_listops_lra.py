"""Reading LRA's released ListOps TSV files (header, label column, parentheses)."""

import random

import pytest
from typer.testing import CliRunner

from lolameme.cli import app
from lolameme.data.io import load_dataset
from lolameme.data.listops import import_lra, read_lra_tsv
from lolameme.errors import DatasetError, LolamemeError

from test_listops_rules import reference_text, reference_tree, reference_value  # noqa: E402


def lra_source(tree) -> str:
    """LRA's to_string: a list is left-nested pairs, each wrapped as '( a b )'."""
    if isinstance(tree, int):
        return str(tree)
    text = f"[{tree[0]}"
    for child in tree[1:]:
        text = f"( {text} {lra_source(child)} )"
    return f"( {text} ] )"


def write_lra(path, rows):
    path.write_text("Source\tTarget\n" + "".join(f"{source}\t{target}\n" for source, target in rows))


@pytest.fixture()
def lra_dir(tmp_path):
    rng = random.Random(5)
    trees = []
    while len(trees) < 30:
        tree = reference_tree(rng, 1, 6, 4)
        if not isinstance(tree, int):
            trees.append(tree)
    directory = tmp_path / "listops-1000"
    directory.mkdir()
    write_lra(directory / "basic_train.tsv", [(lra_source(t), reference_value(t)) for t in trees[:20]])
    write_lra(directory / "basic_val.tsv", [(lra_source(t), reference_value(t)) for t in trees[20:25]])
    write_lra(directory / "basic_test.tsv", [(lra_source(t), reference_value(t)) for t in trees[25:]])
    return directory, trees


def test_lra_source_format_is_lras():
    assert lra_source(["MAX", 2, 9]) == "( ( ( [MAX 2 ) 9 ) ] )"


def test_import_converts_and_checks_every_label(lra_dir, tmp_path):
    directory, trees = lra_dir
    manifest = import_lra(directory, tmp_path / "out")
    splits, _ = load_dataset(tmp_path / "out")
    assert {name: t.num_rows for name, t in splits.items()} == {"train": 20, "val": 5, "test": 5}
    assert splits["train"].column("input").to_pylist() == [reference_text(t) for t in trees[:20]]
    assert splits["train"].column("label").to_pylist() == [str(reference_value(t)) for t in trees[:20]]
    assert all(d["count"] == 0 for d in manifest["label_disagreements"].values())
    assert manifest["source"]["files"] == {"train": "basic_train.tsv", "val": "basic_val.tsv", "test": "basic_test.tsv"}
    lengths = splits["test"].column("lra_length").to_pylist()
    assert lengths == [len(reference_text(t).split()) for t in trees[25:]]


def test_disagreements_are_reported_and_strict_fails(lra_dir, tmp_path):
    directory, trees = lra_dir
    wrong = (reference_value(trees[0]) + 1) % 10
    lines = (directory / "basic_train.tsv").read_text().splitlines()
    lines[1] = f"{lra_source(trees[0])}\t{wrong}"
    (directory / "basic_train.tsv").write_text("\n".join(lines) + "\n")
    manifest = import_lra(directory, tmp_path / "out")
    report = manifest["label_disagreements"]["train"]
    assert report["count"] == 1
    assert report["examples"] == [{"line": 2, "file_label": str(wrong), "computed_label": str(reference_value(trees[0]))}]
    with pytest.raises(DatasetError, match="basic_train.tsv:2"):
        import_lra(directory, tmp_path / "strict", strict=True)
    result = CliRunner().invoke(app, ["listops", "import", str(directory), "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert "disagreement" in result.output and "basic_train.tsv:2" in result.output


@pytest.mark.parametrize("content, message", [
    ("Input\tLabel\n( [MAX 1 ) 2 ] )\t2\n", "expected the LRA header"),
    ("Source\tTarget\n( ( [MAX 1 ) 2 )\t2\n", "basic_train.tsv:2: malformed ListOps source.*unbalanced"),
    ("Source\tTarget\n( ( [MAX 1 ) 2 ) ] )\t12\n", "Target '12' is not a digit"),
    ("Source\tTarget\n( ( [MAX 1 ) 2 ) ] )\n", "expected 2 tab-separated fields"),
    ("Source\tTarget\n( ( [MEAN 1 ) 2 ) ] )\t1\n", "unknown operator"),
])
def test_malformed_files_raise_dataset_error(tmp_path, content, message):
    (tmp_path / "basic_train.tsv").write_text(content)
    with pytest.raises(DatasetError, match=message) as caught:
        import_lra(tmp_path, tmp_path / "out")
    assert isinstance(caught.value, LolamemeError)
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_missing_directory_or_files(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        import_lra(tmp_path / "nope", tmp_path / "out")
    with pytest.raises(DatasetError, match="basic_train.tsv"):
        import_lra(tmp_path, tmp_path / "out")
    result = CliRunner().invoke(app, ["listops", "import", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "DatasetError" in result.output


def test_reader_yields_rows_with_line_numbers(lra_dir):
    directory, trees = lra_dir
    rows = list(read_lra_tsv(directory / "basic_val.tsv"))
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]
    assert rows[0].target == reference_value(trees[20])
