"""benchmarks/compare_revisions.py reads the README's figures out of each benchmark script's output
(the lines below are copied from real outputs) and tables both sides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


OUTPUTS = {
    "lang": "| evaluate(text) - LoLa | {a} | 13.8 | 72,599 |\n| run_program(ast) | 270,310 | 3.7 | 270,104 |\n",
    "generate": "| ours: `lolameme generate --preset base`, 120,000 rows written (Parquet + manifest) | 2 | 0.50 s "
                "| 241,614 | 139,504 | 12.1x | 6.6x |\n",
    "listops": "| ours: chunked numpy sampler, written | 2 | 6.8 s | 14,726 | 7,643 | 13.9x | 7.2x |\n",
    "models": "| GPT-2 | gpt2-tiny | 842,496 | 128 | 16 | 10,469 | 10,471 | 65 MiB | 59.7 | 64% | 64% |\n"
              "|---|---|\n| gpt2-tiny | 128 | 16 | 9,203 | 8,628 | 1.07x | 1.07x |\n| 2048 | 1 | 11,524 | 21,388 | 1.86x | 1.86x |\n",
    "train": "| gpt2-tiny | 9,340 | 9,243 | 10,036 | -1.0% | 9,344 | 9,247 | 10,038 | {o} | +7.4% |\n",
}


@pytest.fixture(scope="module")
def compare(load_benchmark):
    return load_benchmark("compare_revisions")


def _write(work: Path, side: str, evaluate: str, overhead: str) -> None:
    for bench, text in OUTPUTS.items():
        name = f"{side}-models-1.md" if bench == "models" else f"{side}-{bench}-1.txt"
        (work / name).write_text(text.format(a=evaluate, o=overhead))


def test_every_readme_figure_is_read(compare, tmp_path) -> None:
    _write(tmp_path, "before", "80,000", "+2.0%")
    m = compare.measures(tmp_path, "before", 1)
    assert m["language: evaluate(text) - LoLa, programs per CPU-second"] == 80_000
    assert m["generator, base preset, 2 worker(s): rows/s (wall)"] == 241_614
    assert m["ListOps, 100k rows, 2 worker(s): x naive (wall)"] == 13.9
    assert m["models, fwd+bwd, gpt2-tiny, length 128: tokens per CPU-second"] == 10_471
    assert m["models: ours / transformers GPT-2 (gpt2-tiny, length 128), per CPU-second"] == 1.07
    assert m["models: Hyena / attention operator, length 2048, per CPU-second"] == 1.86
    assert m["trainer overhead vs bare fwd+bwd (CPU time), gpt2-tiny: %"] == 2.0
    assert len(m) == 10


def test_the_page_compares_both_sides(compare, tmp_path) -> None:
    _write(tmp_path, "before", "80,000", "+2.0%")
    _write(tmp_path, "after", "60,000", "-1.0%")
    (tmp_path / "revisions.json").write_text(json.dumps({"before": "aaa", "after": "bbb", "load_at_start": 0.5,
                                                          "load_at_end": 0.7, "started": "2026-01-01 00:00"}))
    out = tmp_path / "page.md"
    assert compare.main(["--parse-only", str(tmp_path), "--repeats", "1", "--out", str(out)]) == 0
    page = out.read_text()
    assert "| language: evaluate(text) - LoLa, programs per CPU-second | 80,000 | 60,000 | -25% |" in page
    assert "| trainer overhead vs bare fwd+bwd (CPU time), gpt2-tiny: % | 2 | -1 | -3.0 points |" in page
    assert json.loads(out.with_suffix(".json").read_text())["before"] == "aaa"
