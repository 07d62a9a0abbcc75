"""Hyena forward+backward: this project's operator against the reference, same shapes, same run.

The reference is HazyResearch/safari's ``standalone_hyena.py``, read at benchmark time from a
path you give (it is not part of this repository)::

    python benchmarks/hyena_reference.py --reference /tmp/safari/standalone_hyena.py

Both operators get the same configuration (order 2, filter MLP width 64, 33 positional
features, sine frequency 14, short filter 3) and the same input. Each timed call is one
forward and one backward pass (gradients for the input and every parameter). Calls alternate
between the two operators, so a change in the machine's load touches both alike; the table
gives the median per call and the ratio reference / ours (above 1: ours is faster).
Without ``einops`` installed, the four rearrangements the reference uses are supplied here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
import types
from pathlib import Path

import torch

from lolameme.atomic import atomic_write_json, atomic_write_text
from lolameme.machine import cpu_model
from lolameme.models.hyena import HyenaOperator

RESULTS = Path(__file__).resolve().parent / "results"
SHAPES = ((8, 64, 144), (8, 512, 144), (4, 512, 288), (1, 2048, 864))
FILTER = {"order": 2, "filter_order": 64}


def _rearrange(tensor: torch.Tensor, pattern: str, **sizes: int) -> torch.Tensor:
    """The rearrangements ``standalone_hyena.py`` performs (einops semantics), and no others."""
    pattern = " ".join(pattern.split())
    if pattern in ("b l d -> b d l", "b d l -> b l d"):
        return tensor.transpose(1, 2)
    if pattern == "l (o d) -> o d l":
        length = tensor.shape[0]
        return tensor.reshape(length, sizes["o"], -1).permute(1, 2, 0)
    if pattern == "(o d) -> o d":
        return tensor.reshape(sizes["o"], -1)
    raise NotImplementedError(f"rearrange pattern {pattern!r} is not supplied here; install einops")


def load_reference(path: Path) -> types.ModuleType:
    try:
        import einops  # noqa: F401
    except ImportError:
        sys.modules["einops"] = types.SimpleNamespace(rearrange=_rearrange)  # type: ignore[assignment]
    spec = importlib.util.spec_from_file_location("standalone_hyena", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fwd_bwd(operator: torch.nn.Module, x: torch.Tensor) -> float:
    start = time.perf_counter()
    operator(x).square().mean().backward()
    elapsed = time.perf_counter() - start
    operator.zero_grad(set_to_none=True)
    x.grad = None
    return elapsed


def measure(reference: types.ModuleType, batch: int, length: int, width: int, repeats: int) -> dict:
    torch.manual_seed(0)
    ours = HyenaOperator(width, max_len=length, pos_emb_dim=33, sine_freq=14.0, **FILTER)
    theirs = reference.HyenaOperator(d_model=width, l_max=length, emb_dim=33, w=14, **FILTER)
    x = torch.randn(batch, length, width, requires_grad=True)
    for _ in range(2):
        fwd_bwd(ours, x), fwd_bwd(theirs, x)
    times: dict[str, list[float]] = {"ours": [], "reference": []}
    for _ in range(repeats):
        times["ours"].append(fwd_bwd(ours, x))
        times["reference"].append(fwd_bwd(theirs, x))
    ours_ms, ref_ms = (1000 * statistics.median(times[k]) for k in ("ours", "reference"))
    return {"batch": batch, "length": length, "width": width, "repeats": repeats, "ours_ms": round(ours_ms, 2),
            "reference_ms": round(ref_ms, 2), "ratio": round(ref_ms / ours_ms, 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path, required=True, help="path of safari's standalone_hyena.py")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS / "hyena_reference.md")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import os

    load_start = os.getloadavg()[0]
    reference = load_reference(args.reference)
    rows = []
    for batch, length, width in SHAPES:
        row = measure(reference, batch, length, width, args.repeats)
        print(json.dumps(row), flush=True)
        rows.append(row)
    header = (f"# Hyena forward+backward: ours against the reference (safari `standalone_hyena.py`)\n\n"
              f"Machine: {cpu_model()}, {os.cpu_count()} cores, {args.threads} torch thread(s), torch "
              f"{torch.__version__}, load average {load_start:.1f} at the start and {os.getloadavg()[0]:.1f} at the end. Median of {args.repeats} "
              f"alternating calls per shape. Command: `python benchmarks/hyena_reference.py --reference "
              f"PATH/standalone_hyena.py`.\n\n")
    table = ["| batch | length | width | ours (ms) | reference (ms) | reference / ours |", "|---:|---:|---:|---:|---:|---:|"]
    table += [f"| {r['batch']} | {r['length']} | {r['width']} | {r['ours_ms']} | {r['reference_ms']} | {r['ratio']} |"
              for r in rows]
    atomic_write_text(args.out, header + "\n".join(table) + "\n")
    atomic_write_json(args.out.with_suffix(".json"), {"machine": cpu_model(), "threads": args.threads,
                                                       "torch": torch.__version__, "rows": rows})
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
