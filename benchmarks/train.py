"""Trainer overhead: end-to-end training tokens/s against the bare forward+backward of the same model.

For each ``tiny`` family, on a small base-preset LOLAMEME corpus (char tokenizer, batch 32):

* **trainer** -- ``lolameme.train.trainer.Trainer`` end to end: memory-mapped token cache,
  length bucketing, collation, forward, loss, backward, clipping, AdamW, LR schedule,
  metrics. Rate = input tokens (padding excluded) between the log line after the warm-up
  steps and the last one, divided by the time between them (the trainer's own clock);
* **bare fwd+bwd** -- the same model on the same batches, collated beforehand and held in
  memory, timed over forward + cross-entropy + backward only (what the model zoo benchmark
  measures);
* **bare + AdamW** -- the same plus ``optimizer.step()``, to show which part of the gap is
  the optimizer (which any training loop pays) and which is the trainer's bookkeeping.

Overhead = bare fwd+bwd rate / trainer rate - 1 (the accepted limit: 10%). The three are
interleaved ``--repeats`` times and the median of each is reported, because the machine is
shared and its load changes while we measure; the load average is printed.

    python benchmarks/train.py            # 3 families x 3 repeats x 60 steps
    python benchmarks/train.py --quick    # 1 repeat x 25 steps
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lolameme.atomic import atomic_write_text
from lolameme.data.api import generate_dataset
from lolameme.machine import cpu_model, load_average
from lolameme.models import build_model
from lolameme.tokenizers import get_tokenizer
from lolameme.train.batching import collate, epoch_batches, select_samples, target_counts
from lolameme.train.cache import token_cache
from lolameme.train.config import make_config
from lolameme.train.loss import StepTotals, step_loss, token_cross_entropy
from lolameme.train.trainer import Trainer, fit_context

RESULTS = Path(__file__).resolve().parent / "results" / "train.md"
FAMILIES = ("gpt2-tiny", "hyena-tiny", "thex-tiny-3")
BATCH = 32
WARMUP = 5








def make_corpus(root: Path) -> Path:
    data = root / "data"
    generate_dataset("base", data, overrides={"dataset_size": 3000, "test_dataset_size": 10, "global_var_count": 20,
                                              "global_variables_num_appearance": 10})
    return data


def trainer_rate(data: Path, out: Path, family: str, steps: int) -> tuple[float, float]:
    """(wall, CPU-time) tokens/s of the trainer between its first and last log line."""
    config = make_config({"data": str(data), "out": str(out), "model": family, "steps": steps, "batch_size": BATCH,
                          "val_samples": 0, "log_every": WARMUP, "checkpoint_every": 10**9, "progress": False,
                          "device": "cpu", "seed": 0, "recipe": "none"})
    marks = []  # wall and CPU clocks at each train log line (the first comes after the warm-up steps)

    def clock(record: dict) -> None:
        if record["event"] == "train":
            marks.append((record["tokens"], time.perf_counter(), time.process_time()))

    Trainer(config, mirrors=[clock]).run()
    shutil.rmtree(out)
    (t0, w0, c0), (t1, w1, c1) = marks[0], marks[-1]
    return (t1 - t0) / (w1 - w0), (t1 - t0) / (c1 - c0)


def bare_rates(data: Path, family: str, steps: int) -> list[tuple[float, float]]:
    """(wall, CPU-time) tokens/s of fwd+bwd and of fwd+bwd+AdamW on the batches the trainer would draw."""
    tok = get_tokenizer("char")
    cache = token_cache(data, "train", tok)
    max_seq_len = fit_context(cache.lengths)
    samples, _ = select_samples(cache, np.arange(len(cache)), max_len=max_seq_len + 1, overlength="filter",
                                sep_id=tok.sep_id)
    positions = epoch_batches(samples.lengths, BATCH, 50, 0, 0)[:steps]
    batches = [collate([samples.sample(p) for p in b], tok.pad_id) for b in positions]
    totals = [StepTotals(*target_counts(samples.lengths[b], samples.answer_starts[b])) for b in positions]
    tokens = [int((samples.lengths[b] - 1).sum()) for b in positions]
    torch.manual_seed(0)
    model = build_model(family, vocab_size=tok.vocab_size, max_seq_len=max_seq_len)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)  # as the trainer
    rates = []
    for with_optimizer in (False, True):
        start = None
        for i, (batch, total) in enumerate(zip(batches, totals)):
            if i == WARMUP:
                start, cpu_start = time.perf_counter(), time.process_time()
            loss = step_loss(token_cross_entropy(model(batch.inputs), batch.targets), batch, total, "answer")
            loss.backward()
            if with_optimizer:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        n = sum(tokens[WARMUP:])
        rates.append((n / (time.perf_counter() - start), n / (time.process_time() - cpu_start)))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat of 25 steps per family")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.steps or (25 if args.quick else 60)
    repeats = args.repeats or (1 if args.quick else 3)
    header = [
        "# Trainer overhead (benchmarks/train.py)",
        "",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads",
        f"- workload: base-preset LOLAMEME corpus (3000 programs), char tokenizer, batch {BATCH}, "
        f"{steps} steps per measurement ({WARMUP} warm-up steps not timed), median of {repeats} interleaved repeats",
        f"- load average at start: {load_average()}",
    ]
    print("\n".join(header), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = make_corpus(root)
        token_cache(data, "train", get_tokenizer("char"))  # built once, outside the timings
        for family in args.families:
            runs = []
            for r in range(repeats):
                (bare_wall, bare_cpu), (opt_wall, opt_cpu) = bare_rates(data, family, steps)
                trainer_wall, trainer_cpu = trainer_rate(data, root / f"run-{family}-{r}", family, steps)
                runs.append((trainer_wall, bare_wall, opt_wall, trainer_cpu, bare_cpu, opt_cpu))
            tw, bw, ow, tc, bc, oc = (statistics.median(column) for column in zip(*runs))
            row = (f"| {family} | {tw:,.0f} | {bw:,.0f} | {ow:,.0f} | {100 * (bw / tw - 1):+.1f}% "
                   f"| {tc:,.0f} | {bc:,.0f} | {oc:,.0f} | {100 * (bc / tc - 1):+.1f}% | {100 * (oc / tc - 1):+.1f}% |")
            print(row, flush=True)
            rows.append(row)
    table = [
        "",
        "| model | trainer tok/s (wall) | bare fwd+bwd (wall) | bare fwd+bwd+AdamW (wall) | overhead vs fwd+bwd (wall) "
        "| trainer tok/CPU-s | bare fwd+bwd tok/CPU-s | bare +AdamW tok/CPU-s | overhead vs fwd+bwd (CPU) | vs +AdamW (CPU) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"- load average at end: {load_average()}",
        "",
        "Overhead = bare rate / trainer rate - 1; tokens are non-padding input tokens in both. CPU-time rates",
        "(tokens per second of this process's CPU time) are steadier than wall-clock rates on a shared machine.",
        "Numbers are only comparable within one run.",
    ]
    print("\n".join(table[1:]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS, "\n".join(header + table) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
