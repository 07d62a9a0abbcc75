"""benchmarks/learning.py end to end on a micro budget, and its derived copy/arithmetic slice."""

from __future__ import annotations

import json

import pytest



@pytest.fixture(scope="module")
def learning(load_benchmark):
    return load_benchmark("learning")


@pytest.mark.parametrize("program, ops", [
    ("a = 5;print(a)", "copy"),
    ("a = 5;b = a;c = (7 * 2);print(b)", "copy"),  # a lookup chain without arithmetic; the product is noise
    ("a = (5 + 1);b = a;print(b)", "add"),  # arithmetic earlier on the chain counts
    ("a = (5 + 1);a = 3;print(a)", "copy"),  # the later assignment shadows the sum
    ("a = 2;b = (a * 3);c = (b % a);print(c)", "mod+mul"),
    ("a = 2;b = (a - 3);print(a)", "copy"),
])
def test_chain_ops_on_hand_programs(learning, program: str, ops: str) -> None:
    assert learning.chain_ops(program) == ops


def test_slices_count_copy_and_arithmetic(learning) -> None:
    rows = [{"input": "a = 5;print(a)", "correct": True, "hops": 1, "uses_globals": False},
            {"input": "a = 5;b = (a + 1);print(b)", "correct": False, "hops": 2, "uses_globals": False},
            {"input": "a = (1 * 2);print(a)", "correct": True, "hops": 1, "uses_globals": False}]
    slices = learning.slice_scores(rows)
    assert slices["chain"]["copy"] == {"n": 1, "exact_match": 1.0}
    assert slices["chain"]["arithmetic"] == {"n": 2, "exact_match": 0.5}
    assert slices["ops"]["add"]["exact_match"] == 0.0 and slices["hops"]["2"]["n"] == 1


def test_benchmark_runs_end_to_end_on_a_micro_budget(learning, tmp_path) -> None:
    out = tmp_path / "learning.md"
    args = ["--recipes", "plain", "--models", "gpt2-tiny", "--steps", "2", "--train-size", "300", "--test-size", "20",
            "--eval-limit", "12", "--runs", str(tmp_path / "runs"), "--out", str(out),
            "--records", str(tmp_path / "records")]
    assert learning.main(args) == 0
    result = json.loads(next((tmp_path / "runs").glob("plain--gpt2-tiny--*/result.json")).read_text())
    assert result["steps"] == 2 and result["n"] == 12 and result["split"] == "test_without_globals"
    assert result["slices"]["chain"] and 0 <= result["exact_match"] <= 1
    text = out.read_text()
    assert "| plain | gpt2-tiny |" in text and "cores" in text
    [record] = (tmp_path / "records").glob("plain--gpt2-tiny--steps2--seed0--*.json")
    assert json.loads(record.read_text())["programs"] == 2 * 32
    # a second invocation keeps the finished cell and rebuilds the table from the kept records
    assert learning.main(args) == 0 and out.read_text().count("| plain | gpt2-tiny |") == 1
    # the table comes from the records, not the run directories (those live outside the repository)
    import shutil

    shutil.rmtree(tmp_path / "runs")
    assert learning.main([*args[:-4], "--records", str(tmp_path / "records"), "--report-only", "--out", str(out)]) == 0
    assert out.read_text().count("| plain | gpt2-tiny |") == 1
