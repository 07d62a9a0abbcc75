"""Model zoo speed: tokens/s, peak memory and achieved FLOP/s.

Reports, in one run on one machine:

1. the machine's float32 matmul peak (a large square ``torch.matmul``; bf16 on a GPU);
2. for each registered family with a preset at the scale (GPT-2, Hyena, Mamba)
   and THEX (its GPT-2 layer in the middle) at
   ``tiny`` and ``small`` scale and each sequence length: forward+backward
   tokens/s, peak memory, and model FLOP/s as a fraction of that peak (FLOPs
   counted by ``lolameme.models.flops``: 3x the forward's 2 FLOPs per
   multiply-add of every weight matrix, plus attention's 4 T d per layer and
   Hyena's FFT convolutions; see that module);
3. our ``gpt2`` against ``transformers.GPT2LMHeadModel`` of the same configuration;
4. causal attention against the Hyena operator alone (same width, same tokens
   per step) as the sequence grows, and where Hyena overtakes attention.

Each measurement runs in a forked child process (the parent only imports,
and never runs a torch op, so the children start clean). Peak memory is the
float32 weights and gradients plus the most a training step adds on top of
the state after a warm-up step (activations and temporaries). On a CPU that
is the peak resident set during the timed steps (high-water mark reset via
/proc/self/clear_refs) minus the resident set before them; on a GPU,
``torch.cuda.max_memory_allocated`` minus ``memory_allocated``. Every step processes about
the same number of tokens (batch = tokens_per_step / seq_len, at least 1).
The machine may be shared: the load average is printed before and
after, and the numbers are only comparable within one run.

    python benchmarks/models.py            # full grid (~10 min on 2 CPU cores)
    python benchmarks/models.py --quick    # reduced grid (well under a minute)
    python benchmarks/models.py --quick --families gpt2,hyena --families-only --threads 1 --out /tmp/a.md
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

import torch

from lolameme.atomic import atomic_write_text
from lolameme.machine import cpu_model, load_average

RESULTS = Path(__file__).resolve().parent / "results" / "models.md"


# -- machine ---------------------------------------------------------------------------






def machine_lines(device: str, threads: int) -> list[str]:
    lines = [
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores, torch threads per measurement {threads}",
        f"- torch {torch.__version__}, Python {platform.python_version()}, device {device}",
    ]
    if device == "cuda":
        lines.append(f"- GPU: {torch.cuda.get_device_name(0)} (bf16 autocast)")
    return lines


# -- measurement in a child process -------------------------------------------------------
def _rss_reset_and_read() -> int:
    """Reset this process's peak RSS and return the current RSS in bytes (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kb("VmRSS") * 1024
    except OSError:
        return 0


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _run_child(job: dict, connection) -> None:
    try:
        connection.send(_measure(job))
    except BaseException as exc:  # report, never hang the parent
        connection.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        connection.close()


def _build(job: dict, device: str) -> tuple[torch.nn.Module, float]:
    """The module to time and its training FLOPs per token."""
    from lolameme.models import build_model
    from lolameme.models.flops import training_flops_per_token

    kind, seq_len = job["kind"], job["seq_len"]
    torch.manual_seed(0)
    if kind == "model":
        model = build_model(job["name"], vocab_size=job["vocab_size"], max_seq_len=seq_len, dropout=0.0)
        flops = training_flops_per_token(model.config, seq_len, job["batch"])
    elif kind == "hf_gpt2":
        import transformers

        ours = build_model(job["name"], vocab_size=job["vocab_size"], max_seq_len=seq_len, dropout=0.0)
        width = ours.config.d_embed
        config = transformers.GPT2Config(
            vocab_size=job["vocab_size"], n_positions=seq_len, n_embd=width, n_layer=ours.config.n_layer,
            n_head=ours.config.options("gpt2").n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
            bos_token_id=0, eos_token_id=0,
        )
        model = transformers.GPT2LMHeadModel(config)
        model.config.use_cache = False
        flops = training_flops_per_token(ours.config, seq_len, job["batch"])
    elif kind in ("attention", "hyena"):
        from lolameme.models.attention import CausalSelfAttention
        from lolameme.models.hyena import HyenaOperator

        width = job["width"]
        if kind == "attention":
            model = CausalSelfAttention(width, job["n_head"], dropout=0.0)
            flops = 3 * (2 * 4 * width * width + 4 * seq_len * width)
        else:
            model = HyenaOperator(width, max_len=seq_len)
            flops = 3 * (
                2 * 4 * width * width + 2 * 3 * 3 * width
                + width * (10 * torch.log2(torch.tensor(2.0 * seq_len)).item() + 8) + 2 * width
            )
    else:
        raise ValueError(kind)
    return model.to(device), flops


def _measure(job: dict) -> dict:
    device = job["device"]
    torch.set_num_threads(job["threads"])
    if job["kind"] == "matmul":
        return _measure_matmul(job)
    model, flops_per_token = _build(job, device)
    model.train()
    batch, seq_len = job["batch"], job["seq_len"]
    generator = torch.Generator().manual_seed(1)
    if job["kind"] in ("attention", "hyena"):
        inputs = torch.randn(batch, seq_len, job["width"], generator=generator).to(device)

        def step() -> None:
            with _autocast(device):
                out = model(inputs)
            out.float().square().mean().backward()
    else:
        idx = torch.randint(0, job["vocab_size"], (batch, seq_len), generator=generator).to(device)
        targets = torch.roll(idx, -1, dims=1)
        hf = job["kind"] == "hf_gpt2"

        def step() -> None:
            with _autocast(device):
                logits = model(idx).logits if hf else model(idx)
            loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
            loss.backward()

    warm_start = time.perf_counter()
    step()  # warm-up: allocator, kernels, code pages; gradients now exist
    _sync(device)
    # A step much longer than the time budget (long sequences) is timed once, not twice.
    min_steps = 1 if time.perf_counter() - warm_start > 3 * job["min_seconds"] else job["min_steps"]
    resting = _rss_reset_and_read() if device == "cpu" else torch.cuda.memory_allocated()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    steps, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while steps < min_steps or (time.perf_counter() - start < job["min_seconds"] and steps < 50):
        step()
        _sync(device)
        steps += 1
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    tokens_per_s = steps * batch * seq_len / elapsed
    high_water = torch.cuda.max_memory_allocated() if device == "cuda" else _status_kb("VmHWM") * 1024
    parameters = sum(p.numel() for p in model.parameters())
    # Weights and gradients (float32) plus what a step adds on top of the resting state (activations).
    peak = 2 * 4 * parameters + max(0, high_water - resting)
    return {
        "tokens_per_s": tokens_per_s,
        "flops_per_s": tokens_per_s * flops_per_token,
        "tokens_per_cpu_s": steps * batch * seq_len / cpu,
        "flops_per_cpu_s": steps * batch * seq_len / cpu * flops_per_token,
        "peak_bytes": peak,
        "steps": steps,
        "parameters": parameters,
    }


def _measure_matmul(job: dict) -> dict:
    device, size = job["device"], job["size"]
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    torch.matmul(a, b)
    _sync(device)
    best, best_cpu = float("inf"), float("inf")
    for _ in range(job["repeats"]):
        start, cpu_start = time.perf_counter(), time.process_time()
        torch.matmul(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu_start)
    return {
        "flops_per_s": 2 * size**3 / best,
        "flops_per_cpu_s": 2 * size**3 / best_cpu,
        "dtype": str(dtype).replace("torch.", ""),
    }


def _autocast(device: str):
    if device == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(job: dict) -> dict:
    """Run one job in a fresh forked child (its own peak memory), return its result dict."""
    context = mp.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_run_child, args=(job, sender))
    process.start()
    sender.close()
    result = receiver.recv() if receiver.poll(job.get("timeout", 600)) else {"error": "timed out"}
    process.join(timeout=10)
    if process.is_alive():
        process.kill()
    return result


# -- the grid ------------------------------------------------------------------------------
def grid(quick: bool) -> dict:
    if quick:
        return {
            "scales": ["tiny"],
            "lengths": [128, 512],
            "tokens_per_step": 2048,
            "hf_lengths": [128],
            "mixer_lengths": [256, 2048],
            "matmul_size": 1024,
            "min_seconds": 0.3,
        }
    return {
        "scales": ["tiny", "small"],
        "lengths": [128, 512, 2048, 8192],
        "tokens_per_step": 8192,
        "hf_lengths": [128, 512],
        "mixer_lengths": [256, 512, 1024, 2048, 4096, 8192],
        "matmul_size": 2048,
        "min_seconds": 1.0,
    }


def family_presets(scale: str, families: list[str] | None = None) -> list[tuple[str, str]]:
    """(label, preset) of every registered mixer family with a preset at ``scale``, then THEX."""
    from lolameme.models import get_mixer, list_presets, mixer_names, resolve_config

    presets = {name for name, _ in list_presets()}
    chosen = [n for n in mixer_names() if f"{n}-{scale}" in presets and (families is None or n in families)]
    rows = [(get_mixer(n).label, f"{n}-{scale}") for n in chosen]
    if families is None or "thex" in families:
        depth = resolve_config(f"hyena-{scale}", vocab_size=8).n_layer
        rows.append(("THEX", f"thex-{scale}-{depth // 2}"))
    return rows


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def fmt_bytes(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced grid, well under a minute")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--vocab-size", type=int, default=256, help="vocabulary of the benchmarked models")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Markdown results file")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch threads per measurement (1 gives stable CPU-time numbers on a shared machine)")
    parser.add_argument("--families", default=None,
                        help="comma-separated families to measure, e.g. gpt2,hyena,mamba (default: all, and THEX)")
    parser.add_argument("--families-only", action="store_true",
                        help="only the families table (skips the transformers and mixer-alone sections)")
    args = parser.parse_args(argv)
    plan = grid(args.quick)
    # Import once here, so every forked child starts with them loaded.
    import lolameme.models  # noqa: F401
    import lolameme.models.flops  # noqa: F401

    try:
        from transformers import GPT2LMHeadModel  # noqa: F401
    except ImportError:
        pass
    threads = args.threads
    common = {"device": args.device, "threads": threads, "min_steps": 2, "min_seconds": plan["min_seconds"]}
    started = time.time()
    lines = [f"# Model zoo benchmark ({'quick' if args.quick else 'full'} grid)", ""]
    lines += machine_lines(args.device, threads)
    lines.append(f"- load average at start (1/5/15 min): {load_average()}")

    def emit(text: str = "") -> None:
        """Print a line and rewrite the results file, so an interrupted run keeps what it measured."""
        lines.append(text)
        print(text, flush=True)
        write_atomically(args.out, "\n".join(lines) + "\n")

    for line in lines:
        print(line, flush=True)

    peak = measure({**common, "kind": "matmul", "size": plan["matmul_size"], "repeats": 5})
    if "error" in peak:
        raise SystemExit(f"matmul peak failed: {peak['error']}")
    peak_flops = peak["flops_per_s"]
    peak_cpu = peak["flops_per_cpu_s"]
    emit(f"- measured matmul peak: {peak_flops / 1e9:,.1f} GFLOP/s wall-clock, {peak_cpu / 1e9:,.1f} GFLOP per CPU-second "
         f"({peak['dtype']}, {plan['matmul_size']}^3, best of 5)")
    emit("- CPU-time columns divide by the process's CPU time instead of wall time: on a machine shared with "
         "other jobs they estimate what the same threads do when they get the cores (exact with 1 thread; "
         "with more, spin-waiting is counted as work)")
    emit("")

    def job(kind: str, seq_len: int, **extra) -> dict:
        batch = max(1, plan["tokens_per_step"] // seq_len)
        return {**common, "kind": kind, "seq_len": seq_len, "batch": batch, "vocab_size": args.vocab_size, **extra}

    emit("## Families: forward+backward")
    emit("")
    emit(f"Tokens per step ~{plan['tokens_per_step']} (batch = tokens / length); vocabulary {args.vocab_size}; "
         "MFU = model FLOP/s / measured matmul peak; "
         "peak memory = float32 weights + gradients + the most one step adds (activations).")
    emit("")
    emit("| family | preset | params | length | batch | tokens/s | tokens/CPU-s | peak memory | GFLOP/s | MFU | MFU (CPU time) |")
    emit("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for scale in plan["scales"]:
        for family, name in family_presets(scale, args.families.split(",") if args.families else None):
            for seq_len in plan["lengths"]:
                spec = job("model", seq_len, name=name)
                result = measure(spec)
                if "error" in result:
                    emit(f"| {family} | {name} | | {seq_len} | {spec['batch']} | error: {result['error']} | | | |")
                    continue
                emit(
                    f"| {family} | {name} | {result['parameters']:,} | {seq_len} | {spec['batch']} | "
                    f"{fmt_rate(result['tokens_per_s'])} | {fmt_rate(result['tokens_per_cpu_s'])} | "
                    f"{fmt_bytes(result['peak_bytes'])} | {result['flops_per_s'] / 1e9:,.1f} | "
                    f"{result['flops_per_s'] / peak_flops:.0%} | {result['flops_per_cpu_s'] / peak_cpu:.0%} |"
                )

    if args.families_only:
        emit("")
        emit(f"- load average at end: {load_average()}; wall time {time.time() - started:,.0f} s")
        return 0
    emit("")
    emit("## Ours vs transformers GPT2LMHeadModel (same configuration, forward+backward)")
    emit("")
    emit("| preset | length | batch | ours tokens/s | transformers tokens/s | ours / transformers | same, per CPU-second |")
    emit("|---|---:|---:|---:|---:|---:|---:|")
    for scale in plan["scales"]:
        for seq_len in plan["hf_lengths"]:
            ours = measure(job("model", seq_len, name=f"gpt2-{scale}"))
            theirs = measure(job("hf_gpt2", seq_len, name=f"gpt2-{scale}"))
            if "error" in ours or "error" in theirs:
                emit(f"| gpt2-{scale} | {seq_len} | | {ours.get('error', '')} | {theirs.get('error', '')} | |")
                continue
            emit(
                f"| gpt2-{scale} | {seq_len} | {max(1, plan['tokens_per_step'] // seq_len)} | "
                f"{fmt_rate(ours['tokens_per_s'])} | {fmt_rate(theirs['tokens_per_s'])} | "
                f"{ours['tokens_per_s'] / theirs['tokens_per_s']:.2f}x | "
                f"{ours['tokens_per_cpu_s'] / theirs['tokens_per_cpu_s']:.2f}x |"
            )

    emit("")
    width, heads = 256, 8
    emit(f"## Attention vs Hyena operator alone (width {width}, {heads} heads, forward+backward)")
    emit("")
    emit("| length | batch | attention tokens/s | Hyena tokens/s | Hyena / attention | same, per CPU-second |")
    emit("|---:|---:|---:|---:|---:|---:|")
    overtakes = None
    for seq_len in plan["mixer_lengths"]:
        attention = measure(job("attention", seq_len, width=width, n_head=heads))
        hyena = measure(job("hyena", seq_len, width=width))
        if "error" in attention or "error" in hyena:
            emit(f"| {seq_len} | | {attention.get('error', '')} | {hyena.get('error', '')} | |")
            continue
        ratio = hyena["tokens_per_s"] / attention["tokens_per_s"]
        cpu_ratio = hyena["tokens_per_cpu_s"] / attention["tokens_per_cpu_s"]
        if cpu_ratio > 1 and overtakes is None:
            overtakes = seq_len
        emit(
            f"| {seq_len} | {max(1, plan['tokens_per_step'] // seq_len)} | {fmt_rate(attention['tokens_per_s'])} | "
            f"{fmt_rate(hyena['tokens_per_s'])} | {ratio:.2f}x | {cpu_ratio:.2f}x |"
        )
    emit("")
    emit(
        f"Hyena overtakes attention (per CPU-second) from length {overtakes} on in this run."
        if overtakes else "Hyena did not overtake attention at these lengths in this run."
    )
    emit("")
    emit(f"- load average at end: {load_average()}; wall time {time.time() - started:,.0f} s")
    print(f"\nwritten to {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
