"""Per-family training settings, measured: which learning rate, weight decay and shape let a model learn?

Each *cell* trains one model on one dataset for a fixed number of optimizer steps (steps, not
minutes, so cells that share a machine stay comparable) and then decodes the test split greedily:

    python benchmarks/family_tuning.py --grid copies --jobs 1 --steps 1500 --only "hyena lr1e-3"
    python benchmarks/family_tuning.py --grid mqar --jobs 14 --steps 5000 --seeds 0 --summary /tmp/mqar.json

A grid is a list of named cells (``GRIDS`` below): the model preset or layer specification,
the training keys that differ from the grid's base recipe, and ``filter_decay`` -- whether the
Hyena filter parameters decay like every other matrix (the setting before per-family parameter
groups) or not (the reference's setting, :mod:`lolameme.models.param_groups`). Each finished
cell writes one small JSON record to ``--records`` (benchmarks/results/tuning/ when kept).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from typing import Any

from lolameme.atomic import atomic_write_json

RECORDS = Path(__file__).resolve().parent / "results" / "tuning"

#: The copies-only stage of the base task without globals: every statement a literal or a variable.
COPIES = {"preset": "base", "split": "test_without_globals",
          "overrides": {"global_var_count": 0, "expression_max_depth": 1, "dataset_size": 100_000,
                        "test_dataset_size": 1000}}
COPY_RECIPE = {"tokenizer": "words", "reverse_answer": True, "model_overrides": {"pos_encoding": "rotary"},
               "loss": "weighted", "answer_weight": 0.5, "lr": 3e-3, "min_lr_ratio": 0.2, "warmup_steps": 100,
               "batch_size": 32, "val_every": 500}
MQAR = {"split": "test", "overrides": {"train_examples": 100_000, "test_examples": 1000}}
MQAR_RECIPE = {"tokenizer": "char", "loss": "answer", "lr": 1e-3, "min_lr_ratio": 0.1, "warmup_steps": 100,
               "batch_size": 64, "val_every": 1000, "model_overrides": {"pos_encoding": "rotary"}}


AR = {"preset": "associative-recall", "split": "test", "overrides": {"train_examples": 20_000, "test_examples": 500}}
AR_RECIPE = {"tokenizer": "char", "loss": "answer", "lr": 1e-3, "min_lr_ratio": 0.1, "warmup_steps": 50,
             "batch_size": 32, "val_every": 10_000, "model_overrides": {"pos_encoding": "rotary"}}


def _ar(name: str, layers: str, filter_decay: bool = False, **train: Any) -> dict[str, Any]:
    width = int(layers.split(",")[0].split(":")[1].split("*")[0])  # the first layer's width
    overrides = {"pos_encoding": "rotary", "layers": layers, "d_embed": width, "n_head": 4,
                 **train.pop("model_overrides", {})}
    return {"name": f"ar-{name}", "data": AR, "recipe": AR_RECIPE, "model": layers, "filter_decay": filter_decay,
            "train": {**train, "model_overrides": overrides}}


def _copies(name: str, model: str, filter_decay: bool = False, **train: Any) -> dict[str, Any]:
    return {"name": name, "data": COPIES, "recipe": COPY_RECIPE, "model": model, "train": train,
            "filter_decay": filter_decay}


def _mqar(pairs: int, model: str, name: str, **train: Any) -> dict[str, Any]:
    data = {**MQAR, "preset": f"mqar-64-{pairs}"}
    return {"name": f"mqar{pairs}-{name}", "data": data, "recipe": MQAR_RECIPE, "model": model, "train": train,
            "filter_decay": False}


def _wide(width: int, depth: int) -> dict[str, Any]:
    return {"layers": f"hyena:{width}*{depth}", "d_embed": width}


GRIDS: dict[str, list[dict[str, Any]]] = {
    "copies": [
        _copies("hyena lr3e-3 filter-decay", "hyena-tiny", True, lr=3e-3),
        _copies("hyena lr1e-3 filter-decay", "hyena-tiny", True, lr=1e-3),
        _copies("hyena lr3e-4 filter-decay", "hyena-tiny", True, lr=3e-4),
        _copies("hyena lr3e-3", "hyena-tiny", lr=3e-3),
        _copies("hyena lr1e-3", "hyena-tiny", lr=1e-3),
        _copies("hyena lr3e-4", "hyena-tiny", lr=3e-4),
        _copies("hyena lr1e-3 ctx512", "hyena-tiny", lr=1e-3, max_seq_len=512),
        _copies("hyena lr1e-3 wd0", "hyena-tiny", lr=1e-3, weight_decay=0.0),
        _copies("hyena 208x3 lr1e-3", "hyena-tiny", lr=1e-3, model_overrides={"pos_encoding": "rotary", **_wide(208, 3)}),
        _copies("hyena 256x2 lr1e-3", "hyena-tiny", lr=1e-3, model_overrides={"pos_encoding": "rotary", **_wide(256, 2)}),
        _copies("hyena 104x12 lr1e-3", "hyena-tiny", lr=1e-3, model_overrides={"pos_encoding": "rotary", **_wide(104, 12)}),
        _copies("thex-3 lr3e-3", "thex-tiny-3", lr=3e-3),
        _copies("thex-3 lr1e-3", "thex-tiny-3", lr=1e-3),
        _copies("thex-3 lr1e-3 learned-pos", "thex-tiny-3", lr=1e-3, model_overrides={"pos_encoding": "learned"}),
        _copies("thex-0 lr1e-3", "thex-tiny-0", lr=1e-3),
        _copies("gpt2 lr3e-3", "gpt2-tiny", lr=3e-3),
    ],
    "ar": [
        _ar("hyena64x2 lr3e-3 filter-decay", "hyena:64*2", True, lr=3e-3),
        _ar("hyena64x2 lr1e-3 filter-decay", "hyena:64*2", True, lr=1e-3),
        _ar("hyena64x2 lr3e-4 filter-decay", "hyena:64*2", True, lr=3e-4),
        _ar("hyena64x2 lr3e-3", "hyena:64*2", lr=3e-3),
        _ar("hyena64x2 lr1e-3", "hyena:64*2", lr=1e-3),
        _ar("hyena64x2 lr3e-4", "hyena:64*2", lr=3e-4),
        _ar("hyena64x2 lr1e-3 ctx512", "hyena:64*2", lr=1e-3, max_seq_len=512),
        _ar("hyena64x2 lr1e-3 full-loss", "hyena:64*2", lr=1e-3, loss="full"),
        _ar("gpt2-64x2 lr1e-3", "gpt2:64*2", lr=1e-3),
        _ar("gpt2-64x2 lr3e-3", "gpt2:64*2", lr=3e-3),
        _ar("thex64 lr1e-3", "hyena:64,gpt2:64,hyena:64", lr=1e-3),
        _ar("thex64 lr1e-3 no-pos", "hyena:64,gpt2:64,hyena:64", lr=1e-3, model_overrides={"pos_encoding": "none"}),
    ],
    "mqar": [
        *[_mqar(pairs, "gpt2-tiny", "gpt2-tiny") for pairs in (4, 8)],
        *[_mqar(pairs, "hyena-tiny", "hyena-tiny") for pairs in (4, 8)],
        *[_mqar(pairs, "thex-tiny-3", "thex-tiny-3") for pairs in (4, 8)],
        *[_mqar(pairs, "hyena-tiny", f"hyena-{w}x2", model_overrides={"pos_encoding": "rotary", **_wide(w, 2)})
          for pairs in (4, 8) for w in (64, 128, 256)],
    ],
}


def ensure_data(runs: Path, data: dict[str, Any]) -> Path:
    from lolameme.data.api import generate_dataset

    tag = data["preset"] + "-" + "-".join(f"{k}{v}" for k, v in sorted(data["overrides"].items()))
    out = runs / f"data-{tag}"
    if not (out / "manifest.json").is_file():
        generate_dataset(data["preset"], out, overrides=data["overrides"], overwrite=True)
    return out


def _patch_filter_decay(filter_decay: bool) -> None:
    """With ``filter_decay``, let the Hyena filter matrices decay like every other matrix (the setting
    before per-family parameter groups); otherwise train with the product's groups unchanged."""
    if not filter_decay:
        return
    from lolameme.models.param_groups import parameter_groups
    from lolameme.train import optim

    def groups(model, cfg):
        result = parameter_groups(model, cfg.weight_decay, cfg.lr_scale)
        for group in result:
            if group["name"] == "hyena_filter":
                result.append({**group, "name": "filter_matrices", "weight_decay": cfg.weight_decay,
                               "params": [p for p in group["params"] if p.dim() >= 2]})
                group["params"] = [p for p in group["params"] if p.dim() < 2]
                break
        return result

    optim.param_groups = groups


def run_cell(cell: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    from lolameme.eval.evaluate import EvalSettings, evaluate_run
    from lolameme.train.config import make_config
    from lolameme.train.trainer import train

    _patch_filter_decay(cell["filter_decay"])
    run_dir = Path(cell["run_dir"])
    train_keys = {**cell["recipe"], **cell["train"]}
    values = {**train_keys, "data": cell["data_dir"], "out": str(run_dir), "model": cell["model"], "progress": False,
              "seed": cell["seed"], "steps": cell["steps"], "recipe": "none"}  # the keys above are the whole recipe
    config = make_config(values, source=cell["name"])
    start = time.monotonic()
    result = train(config)
    wall = time.monotonic() - start
    report = evaluate_run(run_dir, splits=[cell["split"]], settings=EvalSettings(
        limit=cell["eval_limit"], batch_size=100, progress=False))[cell["split"]]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else _cpu()
    record = {"name": cell["name"], "model": cell["model"], "seed": cell["seed"], "steps": result.step,
              "train": train_keys, "filter_decay": cell["filter_decay"], "data": cell["data"],
              "exact_match": report["exact_match"], "majority_baseline": report["majority_baseline"],
              "n": report["n"], "best_val": result.best, "train_wall_s": round(wall, 1), "device": device,
              "params": _params(run_dir), "slices": _small_slices(report)}
    Path(cell["records"]).mkdir(parents=True, exist_ok=True)
    atomic_write_json(Path(cell["records"]) / f"{cell['tag']}.json", record)
    return record


def _params(run_dir: Path) -> int:
    from lolameme.models import model_from_config

    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["model"]
    return model_from_config(config).num_parameters()


def _small_slices(report: dict[str, Any]) -> dict[str, Any]:
    keep = ("query", "hops", "distance")
    return {k: [{"value": s.get("value"), "n": s.get("n"), "exact_match": s.get("exact_match")} for s in v]
            for k, v in report.get("slices", {}).items() if k in keep}


def _cpu() -> str:
    from lolameme.machine import cpu_model

    return f"{cpu_model()} ({os.cpu_count()} cores)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", choices=sorted(GRIDS), default="copies")
    p.add_argument("--only", default="", help="comma-separated cell names: run only these (in this order)")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--seeds", default="0")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--eval-limit", type=int, default=1000)
    p.add_argument("--runs", type=Path, default=Path("/tmp/lolameme-runs/tuning"))
    p.add_argument("--records", type=Path, default=RECORDS, help="one JSON record per finished cell")
    p.add_argument("--summary", type=Path, default=None, help="also write this invocation's records as one JSON list")
    args = p.parse_args(argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    grid = {cell["name"]: cell for cell in GRIDS[args.grid]}
    unknown = [name for name in wanted if name not in grid]
    if unknown:
        p.error(f"unknown cell(s) {unknown}; grid {args.grid} has: {', '.join(grid)}")
    cells = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for cell in [grid[name] for name in wanted] or GRIDS[args.grid]:
            data_dir = ensure_data(args.runs, cell["data"])
            tag = f"{args.grid}--{cell['name'].replace(' ', '_')}--steps{args.steps}--seed{seed}"
            cells.append({**cell, "data_dir": str(data_dir), "split": cell["data"]["split"], "seed": seed,
                          "steps": args.steps, "run_dir": str(args.runs / tag), "tag": tag,
                          "eval_limit": args.eval_limit, "records": str(args.records)})
    print(f"[tuning] {len(cells)} cells, {args.jobs} side by side", flush=True)
    finished = []
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        for r in pool.imap_unordered(run_cell, cells):
            finished.append(r)
            if args.summary is not None:
                atomic_write_json(args.summary, finished)
            print(f"[tuning] {r['name']:<32} seed {r['seed']} exact {100 * r['exact_match']:5.1f}% "
                  f"(majority {100 * r['majority_baseline']:.1f}%) {r['steps']} steps {r['train_wall_s']:.0f}s "
                  f"{r['device']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
