"""The prepared GPU check: one command for a machine with CUDA, everything it measures in one folder.

    python benchmarks/gpu.py --out gpu-check            # about 8 minutes on one H100-class GPU

It runs, in order, each part in its own time box so that one failure never hides the others:

1. the CUDA-marked tests (``tests/cuda``: bf16 autocast training, Hyena's FFT in float32 under
   autocast, exact resume on CUDA);
2. model FLOPs utilisation (MFU) of a training step (forward + backward + AdamW) of ``gpt2`` and
   ``hyena`` at paper size in bf16, against the card's dense bf16 peak;
3. one experiment at ``small`` scale end to end (all its cells, several per GPU), with its report.
   ``benchmarks/gpu-specs/`` holds the spec it runs by default: ListOps with every cell capped at
   3 minutes of training and 1,000 test rows, so the part fits its time box; a cell's steps reached
   are in the report's compute table.

Why a script and not tests: these are measurements on whatever card is at hand, and the CPU-only
CI never sees one. ``OUT/gpu-check.json`` holds every number with the card's name; the experiment's
report lands in ``OUT/reports/small/`` (copy it to ``reports/small/`` to commit it).
Without CUDA the script says so and exits 2: it never reports numbers it did not measure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Dense bf16 peak of common cards, TFLOP/s (vendor datasheets, without sparsity).
DENSE_BF16_PEAK_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0, "L40S": 362.1, "L4": 121.0,
                          "A10": 125.0, "RTX 4090": 165.2, "RTX 3090": 71.0}


def card_peak(name: str) -> float | None:
    """The dense bf16 peak of ``name`` (the longest matching key), or None for an unknown card."""
    matches = [key for key in DENSE_BF16_PEAK_TFLOPS if key in name]
    return DENSE_BF16_PEAK_TFLOPS[max(matches, key=len)] * 1e12 if matches else None


def run_part(cmd: list[str], log: Path, timeout: float) -> dict[str, Any]:
    """Run one part as a subprocess with a time box; keep its output in ``log``."""
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        log.write_text(proc.stdout + proc.stderr)
        return {"rc": proc.returncode, "seconds": round(time.monotonic() - start, 1), "log": log.name}
    except subprocess.TimeoutExpired as exc:
        log.write_text(f"{exc.stdout or ''}{exc.stderr or ''}\n[timed out after {timeout:.0f} s]")
        return {"rc": None, "timed_out": True, "seconds": round(time.monotonic() - start, 1), "log": log.name}


def measure_mfu(preset: str, batch: int, seq_len: int, steps: int = 10, compile_model: bool = False) -> dict[str, Any]:
    """Time training steps of ``preset`` in bf16 autocast; MFU = model FLOPs / time / card peak."""
    import torch

    from lolameme.models import build_model
    from lolameme.models.flops import training_flops_per_token

    torch.manual_seed(0)
    model = build_model(preset, max_seq_len=seq_len).cuda()
    step_model = torch.compile(model) if compile_model else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    x = torch.randint(0, model.config.vocab_size, (batch, seq_len + 1), device="cuda")

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = step_model(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), x[:, 1:].flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    flops = training_flops_per_token(model.config, seq_len, batch) * batch * seq_len
    peak = card_peak(torch.cuda.get_device_name(0))
    del model, step_model, optimizer
    torch.cuda.empty_cache()
    return {"preset": preset, "batch": batch, "seq_len": seq_len, "compiled": compile_model,
            "ms_per_step": round(seconds * 1e3, 2), "model_tflops_per_s": round(flops / seconds / 1e12, 1),
            "peak_tflops": peak and round(peak / 1e12, 1), "mfu": peak and round(flops / seconds / peak, 4)}


def run_experiment(args: argparse.Namespace, py: str) -> dict[str, Any]:
    """Run the spec at small scale in a time box, then report whatever cells finished."""
    cli = [py, "-c", "import sys; from lolameme.cli import main; sys.exit(main())", "experiment"]
    common = [args.spec, "--scale", "small", "--seeds", str(args.seeds), "--work", str(args.out / "work")]
    specs = ["--specs", str(args.specs)] if args.specs else []
    run = run_part(cli + ["run", *common, *specs, "--cells-per-gpu", str(args.cells_per_gpu), "--no-report"],
                   args.out / "experiment.log", timeout=args.experiment_minutes * 60)
    report = run_part(cli + ["report", *common, *specs, "--reports", str(args.out / "reports")],
                      args.out / "experiment-report.log", timeout=120)
    return {"spec": args.spec, "seeds": args.seeds, "cells_per_gpu": args.cells_per_gpu, "run": run, "report": report}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for everything measured")
    p.add_argument("--spec", default="listops", help="experiment run at small scale")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--specs", type=Path, default=ROOT / "benchmarks" / "gpu-specs",
                   help="a folder of specs searched before the package's (default: the check's own, whose small "
                        "scale caps every cell at 3 minutes to fit the time box)")
    p.add_argument("--cells-per-gpu", type=int, default=8)
    p.add_argument("--experiment-minutes", type=float, default=5.0, help="time box of the experiment part")
    p.add_argument("--compile", action="store_true", help="also measure MFU under torch.compile")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: tests, mfu, experiment")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("gpu check: no CUDA device on this machine; nothing measured", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    result: dict[str, Any] = {"card": torch.cuda.get_device_name(0), "torch": torch.__version__,
                              "cuda": torch.version.cuda, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    py = sys.executable
    if "tests" not in skip:
        result["cuda_tests"] = run_part([py, "-m", "pytest", "-q", "-m", "cuda", "tests/cuda", "-p", "no:cacheprovider"],
                                        args.out / "cuda-tests.log", timeout=180)
    if "mfu" not in skip:
        result["mfu"] = [measure_mfu("gpt2", batch=16, seq_len=1024), measure_mfu("hyena", batch=8, seq_len=1024)]
        if args.compile:
            result["mfu"] += [measure_mfu("gpt2", 16, 1024, compile_model=True),
                              measure_mfu("hyena", 8, 1024, compile_model=True)]
    if "experiment" not in skip:
        result["experiment"] = run_experiment(args, py)
    (args.out / "gpu-check.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
