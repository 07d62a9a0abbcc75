"""The README's benchmarks at two revisions of this repository, in alternating runs on one machine.

Why: a change that reorganises code must leave every measured figure within noise, and figures
from different days or machines cannot show that. This script exports both revisions with
``git archive``, then runs each benchmark script of each revision against that revision's own
``src/`` in the order before, after, before, after, ... so that both sides see the same machine
load, and writes one table of both sides' figures.

    python benchmarks/compare_revisions.py --before e434c53 --after HEAD --repeats 2
    python benchmarks/compare_revisions.py --parse-only /tmp/lolameme-compare   # table from earlier outputs

Run it on a quiet machine (nothing else running): the generator rows take well under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "before-after.md"
BENCHMARKS = ("lang", "generate", "listops", "models", "train")
SIDES = ("before", "after")


def benchmark_args(bench: str, side: str, rep: int, work: Path) -> list[str]:
    """Each benchmark's arguments: its README configuration, one torch thread, no writes into the repo."""
    return {
        "lang": ["--programs", "20000", "--repeats", "5", "--seed", "0", "--no-write"],
        "generate": [],
        "listops": ["--also-one-worker"],
        "models": ["--quick", "--threads", "1", "--out", str(work / f"{side}-models-{rep}.md")],
        "train": ["--threads", "1"],
    }[bench]


def export_revision(rev: str, into: Path) -> str:
    """The tree of ``rev`` in ``into`` (its scripts write their own results there, not into this checkout)."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev], check=True, capture_output=True,
                            text=True).stdout.strip()
    if not (into / "src").is_dir():
        into.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return commit


def run_all(work: Path, benches: list[str], repeats: int, timeout: int) -> None:
    for rep in range(1, repeats + 1):
        for bench in benches:
            for side in SIDES:
                tree = work / side
                env = {**os.environ, "PYTHONPATH": str(tree / "src"), "OMP_NUM_THREADS": "1"}
                log = work / f"{side}-{bench}-{rep}.txt"
                print(f"{time.strftime('%H:%M:%S')} repeat {rep} {bench} {side} (load {os.getloadavg()[0]:.2f})",
                      flush=True)
                with open(log, "w") as out:
                    subprocess.run([sys.executable, f"benchmarks/{bench}.py", *benchmark_args(bench, side, rep, work)],
                                   cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)


def _rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|") and not line.startswith("|---")]


def _num(cell: str) -> float:
    return float(re.sub(r"[^0-9.\-]", "", cell.split()[0]))


def measures(work: Path, side: str, rep: int) -> dict[str, float]:
    """The README's figures from one side's outputs of one repeat, by name."""
    def read(bench: str) -> str:
        path = work / (f"{side}-models-{rep}.md" if bench == "models" else f"{side}-{bench}-{rep}.txt")
        return path.read_text(errors="replace") if path.exists() else ""

    m: dict[str, float] = {}
    for r in _rows(read("lang")):
        if r[0] in ("evaluate(text) - LoLa", "parse(text) then run_program - LoLa", "run_program(ast)", "trace(ast)"):
            m[f"language: {r[0]}, programs per CPU-second"] = _num(r[1])
    for r in _rows(read("generate")):
        if r[0].startswith("ours") and len(r) > 5:
            m[f"generator, base preset, {r[1]} worker(s): rows/s (wall)"] = _num(r[3])
            m[f"generator, base preset, {r[1]} worker(s): x naive (wall)"] = _num(r[5])
    for r in _rows(read("listops")):
        if r[0].startswith("ours") and len(r) > 5:
            m[f"ListOps, 100k rows, {r[1]} worker(s): seconds (wall)"] = _num(r[2])
            m[f"ListOps, 100k rows, {r[1]} worker(s): x naive (wall)"] = _num(r[5])
    for r in _rows(read("models")):
        if len(r) == 11 and r[1] in ("gpt2-tiny", "hyena-tiny", "thex-tiny-3"):
            m[f"models, fwd+bwd, {r[1]}, length {r[3]}: tokens per CPU-second"] = _num(r[6])
        elif len(r) == 7 and r[0] == "gpt2-tiny":
            m["models: ours / transformers GPT-2 (gpt2-tiny, length 128), per CPU-second"] = _num(r[6])
        elif len(r) == 6 and r[0].isdigit():
            m[f"models: Hyena / attention operator, length {r[0]}, per CPU-second"] = _num(r[5])
    for r in _rows(read("train")):
        if len(r) == 10 and r[0] != "model":
            m[f"trainer overhead vs bare fwd+bwd (CPU time), {r[0]}: %"] = _num(r[8])
    return m


def table(work: Path, repeats: int) -> tuple[list[str], dict[str, dict[str, list[float]]]]:
    runs = {side: [measures(work, side, rep) for rep in range(1, repeats + 1)] for side in SIDES}
    names = list(dict.fromkeys(k for side in SIDES for run in runs[side] for k in run))
    values = {k: {side: [run[k] for run in runs[side] if k in run] for side in SIDES} for k in names}
    lines = ["| measure | before (each repeat) | after (each repeat) | after vs before (means) |", "|---|---:|---:|---:|"]
    for name, v in values.items():
        b, a = v["before"], v["after"]
        if not (a and b):
            continue
        if name.endswith("%"):
            change = f"{statistics.mean(a) - statistics.mean(b):+.1f} points"
        else:
            change = f"{statistics.mean(a) / statistics.mean(b) - 1:+.0%}"
        lines.append(f"| {name} | {_fmt(b)} | {_fmt(a)} | {change} |")
    return lines, values


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}".rstrip("0").rstrip(".") for x in values)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", default="HEAD~1", help="the earlier revision")
    p.add_argument("--after", default="HEAD", help="the later revision")
    p.add_argument("--repeats", type=int, default=2, help="alternations of every benchmark")
    p.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    p.add_argument("--work", type=Path, default=Path("/tmp/lolameme-compare"), help="exported trees and outputs")
    p.add_argument("--timeout", type=int, default=1800, help="seconds one benchmark run may take")
    p.add_argument("--parse-only", type=Path, default=None, metavar="WORK", help="only build the table from WORK")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    work = args.parse_only or args.work
    meta_path = work / "revisions.json"
    if args.parse_only is None:
        meta = {"before": export_revision(args.before, work / "before"),
                "after": export_revision(args.after, work / "after"),
                "load_at_start": os.getloadavg()[0], "started": time.strftime("%Y-%m-%d %H:%M")}
        run_all(work, args.benchmarks.split(","), args.repeats, args.timeout)
        meta["load_at_end"] = os.getloadavg()[0]
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    meta = json.loads(meta_path.read_text())
    lines, values = table(work, args.repeats)
    print("\n".join(lines))
    from lolameme.atomic import atomic_write_json, atomic_write_text

    atomic_write_json(args.out.with_suffix(".json"), {**meta, "repeats": args.repeats, "measures": values})
    atomic_write_text(args.out, _page(meta, args.repeats, lines))
    print(f"\nwrote {args.out}")
    return 0


def _page(meta: dict, repeats: int, lines: list[str]) -> str:
    from lolameme.machine import cpu_model

    return "\n".join([
        "# The README's benchmarks before and after a change, same machine, alternating runs",
        "",
        f"Before: commit `{meta['before']}`; after: commit `{meta['after']}`. Machine: {cpu_model()}, "
        f"{os.cpu_count()} cores, no GPU, one torch thread; load average {meta['load_at_start']:.2f} at the start "
        f"and {meta.get('load_at_end', float('nan')):.2f} at the end; started {meta['started']} UTC. "
        "Each row lists every repeat of one side in the order run; the two sides alternated (before, after, "
        "before, after, ...), and each repeat is that script's own best or median (see the script). Command: "
        f"`python benchmarks/compare_revisions.py --before {meta['before']} --after {meta['after']} "
        f"--repeats {repeats}`.",
        "",
        *lines,
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
