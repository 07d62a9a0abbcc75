"""`lolameme quickstart` end to end on a micro budget, and its rerun reusing what is finished."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lolameme.cli import app
from lolameme.eval.quickstart import global_var_count


def test_global_count_scales_with_corpus():
    assert global_var_count(100_000) == 500  # the paper's base corpus keeps its 500 globals
    assert global_var_count(20_000) == 100 and global_var_count(64) == 5


@pytest.mark.slow
def test_quickstart_micro_budget_end_to_end(tmp_path):
    out = tmp_path / "qs"
    # the 'weighted' recipe: the tiny models' default curriculum cannot draw its stage variants from 200 programs
    args = ["quickstart", "--out", str(out), "--minutes", "0.05", "--train-size", "200", "--test-size", "12",
            "--recipe", "weighted"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    for stage in ("1/3 generate", "2/3 train gpt2-tiny", "3/3 evaluate"):
        assert stage in first.output
    assert "majority" in first.output and "exact match" in first.output
    for split in ("test_with_globals", "test_without_globals"):
        report = json.loads((out / "run" / "eval" / f"{split}.json").read_text())
        assert report["n"] == 12 and 0 <= report["exact_match"] <= 1 and report["majority_baseline"] is not None
        assert (out / "run" / "eval" / f"{split}.predictions.parquet").exists()

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "reusing the complete dataset" in again.output and "reusing the trained run" in again.output
    other = CliRunner().invoke(app, [*args, "--train-size", "300"])
    assert other.exit_code == 2 and "generated with other settings" in other.output
    other_model = CliRunner().invoke(app, [*args, "--model", "hyena-tiny"])
    assert other_model.exit_code == 2 and "holds a gpt2-tiny run, not hyena-tiny" in other_model.output


def test_quickstart_reports_bad_model_cleanly(tmp_path):
    result = CliRunner().invoke(app, ["quickstart", "--out", str(tmp_path / "q"), "--model", "gpt9-huge",
                                      "--train-size", "64", "--test-size", "2", "--minutes", "0.05"])
    assert result.exit_code == 2
    assert "gpt9-huge" in result.output and "Traceback" not in result.output
