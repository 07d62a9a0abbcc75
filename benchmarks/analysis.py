"""Analysis speed: ``lolameme analyze`` on 500 rows of a tiny model of each family, per measure.

For each of gpt2-tiny, hyena-tiny and thex-tiny-3 this trains a run for a few steps (the speed of
the analysis does not depend on how well a model learned; the number of patching pairs depends on
the data only), then times the whole analysis of 500 rows of ``test_with_globals`` (the split with
every kind of patching pair) with the default settings: wall-clock and CPU seconds per measure. The
target is at most 2 minutes per run on a 2-core CPU. The machine may be shared, so the load average
is recorded and the CPU seconds say what the measures cost when they get the core.

    python benchmarks/analysis.py                      # the three families (~5 min with training)
    python benchmarks/analysis.py --run RUN --split S  # one existing run
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import torch

from lolameme.analysis import AnalysisSettings, analyze_run
from lolameme.atomic import atomic_write_text
from lolameme.machine import describe, load_average

RESULTS = Path(__file__).resolve().parent / "results" / "analysis.md"
FAMILIES = ("gpt2-tiny", "hyena-tiny", "thex-tiny-3")
CORPUS = {"dataset_size": 4000, "test_dataset_size": 600, "seed": 0}
ROWS = 500


def prepare(work: Path, family: str) -> Path:
    """A dataset (generated once) and a run of ``family`` trained for a few steps on it."""
    from lolameme.data.api import generate_dataset
    from lolameme.train.config import make_config
    from lolameme.train.trainer import train

    data = work / "data"
    if not (data / "manifest.json").exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a small corpus meets the globals' appearance target rarely
            generate_dataset("base", data, overrides=CORPUS)
    run = work / family
    if not (run / "best").exists():
        train(make_config({"data": str(data), "out": str(run), "model": family, "tokenizer": "words",
                           "reverse_answer": True, "steps": 30, "val_samples": 64, "val_every": 30,
                           "progress": False, "seed": 0, "recipe": "none"}))
    return run


def measure(run: Path, split: str) -> dict:
    started = time.monotonic()
    out = analyze_run(run, split=split, settings=AnalysisSettings(limit=ROWS, progress=False))
    wall = time.monotonic() - started
    meta = json.loads((out / "meta.json").read_text())
    return {"run": run.name, "layers": meta["layers"], "rows": meta["rows"], "wall": wall,
            "seconds": meta["seconds"], "cpu": meta["cpu_seconds"]}


def markdown(results: list[dict], machine: str, load_after: str) -> str:
    measures = list(results[0]["seconds"])
    lines = ["# Analysis benchmark", "", f"- machine: {machine}", f"- load average at the end: {load_after}",
             f"- {ROWS} rows of test_with_globals, default settings ({AnalysisSettings().max_pairs} patching "
             f"pairs per kind, {AnalysisSettings().folds}-fold probes); wall-clock seconds, CPU seconds in brackets",
             "", "| run | layers | rows | " + " | ".join(measures) + " | CPU seconds, all measures | wall total "
             "(incl. loading and writing) |",
             "|---|---|---:|" + "---:|" * (len(measures) + 2)]
    for r in results:
        cells = [f"{r['seconds'][m]:.1f} ({r['cpu'][m]:.1f})" for m in measures]
        cpu = sum(r["cpu"].values())
        lines.append(f"| {r['run']} | `{r['layers']}` | {r['rows']} | " + " | ".join(cells)
                     + f" | {cpu:.1f} | {r['wall']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="time this run instead of the three families")
    parser.add_argument("--split", default="test_with_globals")
    parser.add_argument("--work", type=Path, default=Path("/tmp/lolameme-analysis-benchmark"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.name} into benchmarks/results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    machine = describe(args.threads)
    runs = [args.run] if args.run else [prepare(args.work, family) for family in FAMILIES]
    results = [measure(run, args.split) for run in runs]
    text = markdown(results, machine, load_average())
    print(text)
    if args.write:
        atomic_write_text(RESULTS, text)


if __name__ == "__main__":
    main()
