"""Learning recipes on a fixed CPU budget: what exact match does each recipe reach?

For every (recipe, model) cell: train on the task for a fixed wall-clock budget with one
torch thread per cell, then decode the test split greedily and report exact match

* overall, beside the majority-answer baseline;
* by *chain*: ``copy`` (the printed value is a literal or variable copied along its whole
  dependency chain, no operator on it) against ``arithmetic``, and by the operators on the
  chain (``add``, ``mul``, ``add+sub``, ...). The dataset has no such column, so it is
  derived from the program text by :func:`lolameme.lang.trace.chain_operators`: the backward
  slice of the printed variable, the same slice the generator's ``n_relevant``/``hops`` count;
* by ``hops`` and ``uses_globals`` (the generator's annotations);

and the learning curve over time: teacher-forced exact match on the run's held-out
validation rows at every validation (curriculum stage changes marked).

The task is the ``base`` preset (5 statements, values 1..100, depth 1-2) with
``global_var_count: 0`` by default -- "the base task without globals", scored on its
``test_without_globals`` split. Nothing else is changed; easier variants appear only as
curriculum stages inside recipes, labelled there.

    python benchmarks/learning.py --recipes plain,tiny --models gpt2-tiny --minutes 30 --jobs 2
    python benchmarks/learning.py --report-only     # rebuild the Markdown from finished cells

Cells train in ``RUNS/<recipe>--<model>--<budget>--seed<k>/`` (outside the repository) and each
finished cell's record is kept in ``--records`` (benchmarks/results/learning/, committed), one
JSON file per cell and finishing time, so reruns add rows instead of replacing them. The
Markdown table (benchmarks/results/learning.md unless --out) is rebuilt from every record
after each cell, so separate invocations and machines add up to one table. The
machine is shared: its CPU model and load averages are recorded per cell.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from lolameme.atomic import atomic_write_json, atomic_write_text
from lolameme.machine import cpu_model

RESULTS = Path(__file__).resolve().parent / "results" / "learning.md"
RECORDS = Path(__file__).resolve().parent / "results" / "learning"
#: Recipes only the benchmark compares (the package ships the others); loaded by path.
BENCHMARK_RECIPES = Path(__file__).resolve().parent / "recipes"
DEFAULT_RUNS = Path("/tmp/lolameme-runs/learning")
TASK_SPLIT = "test_without_globals"


# -- the derived slice ---------------------------------------------------------------------
def chain_ops(program: str) -> str:
    """Operators on the printed value's dependency chain, sorted and joined by '+'; 'copy' if none."""
    from lolameme.lang.trace import chain_operators

    return "+".join(sorted(chain_operators(program))) or "copy"


def slice_scores(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Exact match per slice value: chain kind, chain operators, hops, uses_globals."""
    groups: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        ops = chain_ops(row["input"])
        correct = bool(row["correct"])
        groups["chain"]["copy" if ops == "copy" else "arithmetic"].append(correct)
        groups["ops"][ops].append(correct)
        if "hops" in row:
            groups["hops"][str(row["hops"]) if row["hops"] < 3 else "3+"].append(correct)
        if "uses_globals" in row:
            groups["uses_globals"][str(bool(row["uses_globals"])).lower()].append(correct)
    return {name: {value: {"n": len(hits), "exact_match": sum(hits) / len(hits)} for value, hits in sorted(values.items())}
            for name, values in groups.items()}


# -- the machine -------------------------------------------------------------------------
def load_average() -> list[float]:
    """Load averages as numbers (stored in each cell's JSON result, unlike lolameme.machine's text)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


# -- one cell ------------------------------------------------------------------------------
def ensure_dataset(out: Path, train_size: int, test_size: int, overrides: dict[str, Any]) -> Path:
    """The benchmark's corpus (generated once; a complete directory is reused)."""
    from lolameme.data.api import generate_dataset

    if not (out / "manifest.json").is_file():
        generate_dataset("base", out, overrides={**overrides, "dataset_size": train_size,
                                                 "test_dataset_size": test_size}, overwrite=True)
    return out


def recipe_source(name: str) -> str:
    """A recipe by name: one of this benchmark's own (benchmarks/recipes/NAME.yaml), else the package's."""
    own = BENCHMARK_RECIPES / f"{name}.yaml"
    return str(own) if own.is_file() else name


def run_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """Train one (recipe, model) for the budget, evaluate, write result.json; runs in its own process."""
    import torch

    torch.set_num_threads(cell["threads"])
    from lolameme.eval.evaluate import EvalSettings, evaluate_run
    from lolameme.train.config import resolve_config
    from lolameme.train.trainer import train

    run_dir = Path(cell["run_dir"])
    values = {"data": cell["data"], "out": str(run_dir / "run"), "model": cell["model"], "device": cell["device"],
              "progress": False, "seed": cell["seed"], **cell["budget"]}
    config = resolve_config(values, recipe=recipe_source(cell["recipe"]), source=f"benchmark cell {run_dir.name}")
    load_before = load_average()
    cpu_start = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    wall_start = time.monotonic()
    result = train(config)
    train_cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu_start
    train_wall = time.monotonic() - wall_start
    reports = evaluate_run(run_dir / "run", splits=[cell["split"]], settings=EvalSettings(
        limit=cell["eval_limit"], batch_size=100, device=cell["device"], progress=False))
    report = reports[cell["split"]]
    import pyarrow.parquet as pq

    rows = pq.read_table(run_dir / "run" / "eval" / f"{cell['split']}.predictions.parquet").to_pylist()
    record = {
        "recipe": cell["recipe"], "model": cell["model"], "seed": cell["seed"], "budget": cell["budget"],
        "threads": cell["threads"], "side_by_side": cell["jobs"], "split": cell["split"], "machine": _machine(cell["device"]), "device": cell["device"],
        "tokenizer": config.tokenizer, "steps": result.step, "tokens": result.tokens,
        "programs": result.step * config.batch_size, "train_wall_s": round(train_wall, 1),
        "train_cpu_s": round(train_cpu, 1), "load_before": load_before, "load_after": load_average(),
        "exact_match": report["exact_match"], "majority_baseline": report["majority_baseline"],
        "answer_format": report.get("answer_format", "direct"),
        **{key: report[key] for key in ("trace_accuracy", "trace_exact", "consistency", "trace_by_position")
           if key in report},
        "n": report["n"], "slices": slice_scores(rows), "curve": learning_curve(run_dir / "run" / "metrics.jsonl"),
        "best_val": result.best, "finished": time.strftime("%Y-%m-%d %H:%M"),
    }
    _write_json(run_dir / "result.json", record)
    _write_json(Path(cell["records"]) / f"{run_dir.name}--{time.strftime('%Y%m%d-%H%M')}.json",
                record)
    return record


def _machine(device: str) -> str:
    """The CPU model, or the GPU's name for a cell trained on CUDA."""
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name(0)
    return cpu_model()


def _write_json(path: Path, record: dict[str, Any]) -> None:
    """A record is whole or absent (unique temporary name, then rename), in its folder made on demand."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, record, indent=1)


def learning_curve(metrics: Path) -> list[dict[str, Any]]:
    """(minutes, step, validation exact, stage) at every validation, and stage changes."""
    curve = []
    stage = 0
    for line in metrics.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event["event"] == "stage":
            stage = event["stage"]
            curve.append({"minutes": round(event["time"] / 60, 2), "step": event["step"], "stage": stage,
                          "stage_name": event.get("name")})
        elif event["event"] == "val":
            curve.append({"minutes": round(event["time"] / 60, 2), "step": event["step"], "stage": stage,
                          "val_exact": round(event["val_exact"], 4)})
        elif event["event"] == "gate":
            curve.append({"minutes": round(event["time"] / 60, 2), "step": event["step"], "stage": stage,
                          "gate_exact": round(event["gate_exact"], 4)})
    return curve


# -- the report ------------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _slice(record: dict[str, Any], name: str, value: str) -> str:
    entry = record["slices"].get(name, {}).get(value)
    return "-" if entry is None else f"{100 * entry['exact_match']:.1f}"


def curve_summary(curve: list[dict[str, Any]] | str, points: int = 4) -> str:
    """Validation exact match at about evenly spaced times, plus when each stage began.

    Records from before the curve was kept whole carry the summary itself (a string).
    """
    if isinstance(curve, str):
        return curve
    vals = [c for c in curve if "val_exact" in c]
    stages = [c for c in curve if "stage_name" in c and c["stage"] > 0]
    if not vals:
        return "-"
    picks = [vals[min(len(vals) - 1, round(k * (len(vals) - 1) / (points - 1)))] for k in range(points)]
    unique = list({p["step"]: p for p in picks}.values())
    text = " ".join(f"{p['minutes']:.0f}m:{100 * p['val_exact']:.0f}" for p in unique)
    if stages:
        text += "; stages at " + ", ".join(f"{s['minutes']:.1f}m" for s in stages)
    return text


def summary_table(records: list[dict[str, Any]]) -> list[str]:
    """The recipes x exact-match table of docs/training.md: one row per cell, by model then budget."""
    lines = ["| recipe | model | seed | budget (min) | cells side by side | CPU | steps | programs | tokens | exact match % "
             "| copy % | arithmetic % | majority answer % |", "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(records, key=_order):
        budget = r["budget"].get("time_budget", f"{r['budget'].get('steps')} steps")
        programs = f"{r['programs'] / 1e3:.0f}k" if r.get("programs") else "-"
        note = ", ".join(filter(None, [r.get("note"), trace_note(r).lstrip(", ")]))
        note = f" ({note})" if note else ""
        lines.append(f"| `{r['recipe']}`{note} | {r['model']} | {r['seed']} | {budget} | {r['side_by_side']} | {_cpu(r)} | {r['steps']} "
                     f"| {programs} | {r['tokens'] / 1e6:.1f}M | {_pct(r['exact_match'])} | {_slice(r, 'chain', 'copy')} "
                     f"| {_slice(r, 'chain', 'arithmetic')} | {_pct(r['majority_baseline'])} |")
    return lines


def _order(record: dict[str, Any]) -> tuple:
    """By model, longest budget first, best first."""
    return record["model"], -record["budget"].get("time_budget", 0), -record["exact_match"]


def _cpu(record: dict[str, Any]) -> str:
    """The CPU's make, short ("Intel Xeon", "AMD EPYC")."""
    return " ".join(record.get("machine", "?").replace("(R)", "").split()[:2])


def read_records(records: Path) -> list[dict[str, Any]]:
    """Every kept cell record."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(records.glob("*.json"))]


def write_report(records_dir: Path, out: Path) -> str:
    records = read_records(records_dir)
    lines = ["# Learning recipes: exact match on a fixed budget", "",
             "Machines: 2-core CPUs, or the GPU named in the `CPU` column for cells trained on CUDA (several cells "
             f"sharing one GPU; their budget is a step count cut short by minutes); the last run here: {cpu_model()}, "
             f"{os.cpu_count()} cores. Every CPU cell trains with 1 torch thread "
             "(the `jobs` column says how many cells ran side by side). Task: `base` preset with "
             "`global_var_count: 0` (5 statements, values 1..100), scored on `test_without_globals` by greedy "
             "exact match. `copy`: no operator on the printed value's dependency chain; `arith`: the rest. "
             "Curve: teacher-forced validation exact match (%) at minutes of training. Produced by "
             "`python benchmarks/learning.py`; every number below was measured on these shared machines "
             "(load average before/after each cell is listed). `programs`: training programs seen (steps x batch); "
             "`tokens` depend on the tokenizer (`words` writes a program in about a third of `char`'s tokens).",
             "", *seed_summary(records), "", *summary_table(records), "",
             "All slices (exact match %; `add` ... `mod`: programs whose chain uses only that operator):", "",
             "| recipe | model | budget | jobs | steps | tokens | EM % | majority % | copy % | arith % | add | sub | mul | mod "
             "| hops 1 | hops 2 | hops 3+ | n | curve (val EM %) | load before/after |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in sorted(records, key=_order):
        budget = ", ".join(f"{k} {v}" for k, v in r["budget"].items())
        lines.append(
            f"| {r['recipe']} | {r['model']} | {budget} | {r['side_by_side']} | {r['steps']} | {r['tokens'] / 1e6:.1f}M "
            f"| {_pct(r['exact_match'])} | {_pct(r['majority_baseline'])} | {_slice(r, 'chain', 'copy')} "
            f"| {_slice(r, 'chain', 'arithmetic')} | {_slice(r, 'ops', 'add')} | {_slice(r, 'ops', 'sub')} "
            f"| {_slice(r, 'ops', 'mul')} | {_slice(r, 'ops', 'mod')} | {_slice(r, 'hops', '1')} "
            f"| {_slice(r, 'hops', '2')} | {_slice(r, 'hops', '3+')} | {r['n']} | {curve_summary(r['curve'])} "
            f"| {r['load_before'][:1]}/{r['load_after'][:1]} |")
    text = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, text)
    return text


def seed_summary(records: list[dict[str, Any]]) -> list[str]:
    """Mean and spread over seeds of every (recipe, model, budget, machine) with at least two seeds."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        budget = ", ".join(f"{k} {v}" for k, v in r["budget"].items())
        groups[(r["recipe"], r["model"], budget, r["machine"])].append(r)
    lines = ["Over seeds (mean, sample std, range; only settings run with >= 2 seeds):", "",
             "| recipe | model | budget | machine | seeds | steps (mean) | exact match % | range | copy % | "
             "arithmetic % | trace accuracy % |", "|---|---|---|---|---:|---:|---:|---|---:|---:|---:|"]
    for (recipe, model, budget, machine), rs in sorted(groups.items(), key=lambda kv: _order(kv[1][0])):
        if len({r["seed"] for r in rs}) < 2:
            continue
        em = [100 * r["exact_match"] for r in rs]
        copy = [float(_slice(r, "chain", "copy")) for r in rs if _slice(r, "chain", "copy") != "-"]
        arith = [float(_slice(r, "chain", "arithmetic")) for r in rs if _slice(r, "chain", "arithmetic") != "-"]
        trace = [100 * r["trace_accuracy"] for r in rs if r.get("trace_accuracy") is not None]
        lines.append(f"| `{Path(recipe).stem}` | {model} | {budget} | {machine} | {len(rs)} "
                     f"| {sum(r['steps'] for r in rs) / len(rs):,.0f} | {_mean_std(em)} | {min(em):.1f}-{max(em):.1f} "
                     f"| {_mean_std(copy)} | {_mean_std(arith)} | {_mean_std(trace)} |")
    return lines


def _mean_std(values: list[float]) -> str:
    if not values:
        return "–"
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.1f}"
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{mean:.1f} ± {std:.1f}"


# -- the command ------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipes", default="tiny", help="comma-separated recipe names or recipe .yaml paths")
    p.add_argument("--models", default="gpt2-tiny", help="comma-separated model presets")
    p.add_argument("--minutes", type=float, default=30.0, help="wall-clock training budget per cell")
    p.add_argument("--steps", type=int, default=None, help="budget in optimizer steps instead (tests)")
    p.add_argument("--cap-minutes", type=float, default=None,
                   help="with --steps: also stop a cell after this many minutes (the record shows the steps reached)")
    p.add_argument("--jobs", type=int, default=1, help="cells trained side by side (1 thread each)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per cell")
    p.add_argument("--alongside", type=int, default=0,
                   help="cells of another invocation training at the same time (recorded in the table)")
    p.add_argument("--train-size", type=int, default=300_000)
    p.add_argument("--test-size", type=int, default=2000)
    p.add_argument("--eval-limit", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0, help="training seed of every cell")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where cells train and decode")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="generator override of the task (default: global_var_count=0)")
    p.add_argument("--runs", type=Path, default=DEFAULT_RUNS, help="where datasets and runs go (outside the repo)")
    p.add_argument("--out", type=Path, default=RESULTS, help="Markdown results file")
    p.add_argument("--records", type=Path, default=RECORDS, help="where finished cells' records are kept (committed)")
    p.add_argument("--report-only", action="store_true", help="only rebuild the Markdown from finished cells")
    p.add_argument("--force", action="store_true", help="rerun cells that already have a result")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import yaml

    args = parse_args(argv)
    if args.report_only:
        print(write_report(args.records, args.out))
        return 0
    overrides = {"global_var_count": 0}
    for item in args.sets:
        key, _, raw = item.partition("=")
        overrides[key.strip()] = yaml.safe_load(raw)
    tag = "-".join(f"{k}{v}" for k, v in sorted(overrides.items())).replace("/", "_")
    data = ensure_dataset(args.runs / f"data-{tag}-n{args.train_size}", args.train_size, args.test_size, overrides)
    split = TASK_SPLIT if overrides.get("global_var_count") == 0 else "test_with_globals"
    budget = {"steps": args.steps} if args.steps else {"time_budget": args.minutes}
    if args.steps and args.cap_minutes:  # a step budget, cut short by wall clock on a slow or busy machine
        budget["time_budget"] = args.cap_minutes
    cells = []
    for recipe in args.recipes.split(","):
        for model in args.models.split(","):
            name = f"{Path(recipe).stem}--{model}--{'-'.join(f'{k}{v}' for k, v in budget.items())}--seed{args.seed}"
            run_dir = args.runs / name
            if (run_dir / "result.json").is_file() and not args.force:
                print(f"[learning] {name}: finished earlier, kept (--force reruns)", flush=True)
                continue
            if run_dir.exists():
                import shutil

                shutil.rmtree(run_dir)
            run_dir.mkdir(parents=True)
            cells.append({"recipe": recipe, "model": model, "data": str(data), "run_dir": str(run_dir),
                          "budget": budget, "device": args.device, "threads": args.threads, "jobs": args.jobs + args.alongside, "seed": args.seed,
                          "split": split, "eval_limit": args.eval_limit, "records": str(args.records)})
    print(f"[learning] {cpu_model()}, {os.cpu_count()} cores, load {load_average()}; {len(cells)} cells, "
          f"{args.jobs} side by side, {args.threads} thread(s) each", flush=True)
    if args.jobs == 1:
        for cell in cells:
            _announce(run_cell(cell))
            write_report(args.records, args.out)
    else:
        with mp.get_context("spawn").Pool(args.jobs) as pool:
            for record in pool.imap_unordered(run_cell, cells):
                _announce(record)
                write_report(args.records, args.out)
    print(write_report(args.records, args.out))
    return 0


def _announce(record: dict[str, Any]) -> None:
    print(f"[learning] {record['recipe']} / {record['model']}: exact {100 * record['exact_match']:.1f}% "
          f"(copy {_slice(record, 'chain', 'copy')}%, arithmetic {_slice(record, 'chain', 'arithmetic')}%"
          f"{trace_note(record)}), {record['steps']} steps in {record['train_wall_s']:.0f}s", flush=True)


def trace_note(record: dict[str, Any]) -> str:
    """", trace 63.1%, consistency 97.0%" for a cell that wrote traces; "" for a direct one."""
    if record.get("answer_format", "direct") == "direct":
        return ""
    return f", trace {_pct(record.get('trace_accuracy'))}%, consistency {_pct(record.get('consistency'))}%"


if __name__ == "__main__":
    sys.exit(main())
