"""``analyze_run`` and ``lolameme analyze`` end to end, and every refusal leaving nothing half written."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest
from analysis_helpers import make_run
from typer.testing import CliRunner

from lolameme.analysis import report as report_module
from lolameme.analysis import AnalysisSettings, analyze_run
from lolameme.cli import app
from lolameme.data.io import DatasetWriter
from lolameme.errors import CheckpointError, DatasetError, TokenizerError

QUICK = AnalysisSettings(limit=24, max_pairs=3, folds=3, batch_size=16, progress=False)


def _leftovers(run):
    return [p.name for p in run.iterdir() if p.name.startswith(".analysis")]


def test_thex_run_gets_every_measure(tmp_path, small_data):
    run = make_run(tmp_path / "run", small_data, "thex-tiny-1")
    out = analyze_run(run, split="test_with_globals", settings=QUICK)
    assert out == run / "analysis"
    names = {p.name for p in out.iterdir()}
    assert {"report.md", "meta.json", "attention.png", "probes.png", "patching.png", "filters.png"} <= names
    for table in ("accuracy", "attention", "probes", "patching", "filter_impulse", "filter_reach"):
        assert pq.read_table(out / f"{table}.parquet").num_rows > 0
    kinds = set(pq.read_table(out / "patching.parquet").column("kind").to_pylist())
    assert kinds == {"chain", "noise", "global"}
    attention = pq.read_table(out / "attention.parquet").to_pandas()
    assert set(attention.layer) == {1}                              # THEX-1: layer 1 is the attention layer
    report = (out / "report.md").read_text()
    for heading in ("Attention attribution", "Linear probes", "Causal patching", "Hyena filters"):
        assert heading in report
    assert json.loads((out / "meta.json").read_text())["rows"] == 24
    assert not _leftovers(run)


@pytest.mark.parametrize("family", ["hyena", "mamba"])
def test_runs_without_attention_say_attribution_does_not_apply(tmp_path, small_data, family):
    run = make_run(tmp_path / "run", small_data, f"{family}-tiny")
    out = analyze_run(run, split="test_without_globals", settings=QUICK)
    assert not (out / "attention.png").exists() and (out / "patching.png").exists()
    assert (out / "filters.png").exists() == (family == "hyena")
    report = (out / "report.md").read_text()
    assert f"attribution: the model ({family}:" in report
    assert "global patching pairs: no program of these rows allows a global pair" in report


def _listops_run(tmp_path):
    data = tmp_path / "listops"
    with DatasetWriter(data) as writer:
        for split in ("train", "test"):
            writer.split(split).write({"input": ["[MAX 2 9 ]"] * 12, "label": ["9"] * 12})
        writer.finish({"task": "listops", "config": {}, "seed": 0})
    run = make_run(tmp_path / "lo-run", data, "gpt2-tiny", tokenizer="listops")
    config = json.loads((run / "config.json").read_text())
    config["data"]["task"] = "listops"
    (run / "config.json").write_text(json.dumps(config))
    return run


@pytest.mark.parametrize("case, error, message", [
    ("no model", CheckpointError, "no best checkpoint"),
    ("missing split", DatasetError, "no split 'test_nope'"),
    ("other tokenizer", TokenizerError, "cannot encode this program"),
    ("listops", DatasetError, "'listops' dataset; its samples carry no trace"),
    ("trace format", CheckpointError, "'trace' format"),
    ("short context", DatasetError, "longer than the model's context of 16 tokens"),
])
def test_bad_input_is_refused_and_the_previous_analysis_survives(tmp_path, small_data, case, error, message):
    split = "test_nope" if case == "missing split" else "test_without_globals"
    if case == "listops":
        run, split = _listops_run(tmp_path), "test"
    else:
        run = make_run(tmp_path / "run", small_data, tokenizer="listops" if case == "other tokenizer" else "char",
                       train_extra={"answer_format": "trace"} if case == "trace format" else None,
                       context=16 if case == "short context" else 128)
    if case == "no model":
        shutil.rmtree(run / "best")
    (run / "analysis").mkdir()
    (run / "analysis" / "report.md").write_text("previous")
    with pytest.raises(error, match=message):
        analyze_run(run, split=split, settings=QUICK)
    assert (run / "analysis" / "report.md").read_text() == "previous"
    assert [p.name for p in (run / "analysis").iterdir()] == ["report.md"] and not _leftovers(run)


def test_a_failure_while_writing_leaves_nothing_half_written(tmp_path, small_data, monkeypatch):
    run = make_run(tmp_path / "run", small_data)

    def broken(tables, path):
        path.write_bytes(b"half a png")
        raise OSError("disk full")
    monkeypatch.setitem(report_module.FIGURES, "probes", broken)
    with pytest.raises(OSError, match="disk full"):
        analyze_run(run, split="test_without_globals", settings=QUICK)
    assert not (run / "analysis").exists() and not _leftovers(run)


def test_cli_writes_the_report_and_reports_errors_in_one_line(tmp_path, small_data):
    run = make_run(tmp_path / "run", small_data)
    result = CliRunner().invoke(app, ["analyze", str(run), "--split", "test_without_globals", "--limit", "20",
                                      "--max-pairs", "3", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "report.md").exists()
    bad = CliRunner().invoke(app, ["analyze", str(run), "--split", "nope"])
    assert bad.exit_code == 2 and "DatasetError" in bad.output and "Traceback" not in bad.output
    assert not (run / "analysis").exists()
