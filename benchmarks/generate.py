"""LOLAMEME generation speed: ours vs a naive baseline that follows the paper's own method.

The naive baseline (written here, in plain Python) does what the paper's
appendix D.1 describes: build each program statement by statement with
``random``, translate it to Python (LoLa's symbols are Python's; a latent
rule becomes ``(2*a op b//2)``), label it with ``exec``, drop duplicate
texts with a set, and write JSONL. Ours is ``lolameme generate --preset base``
(100k train + 2 x 10k test programs, labelled, annotated, deduplicated and
written as Parquet with a manifest) with 1 and 2 workers.

Both run in the same process on the same machine, so the ratios stay
meaningful when other jobs share the CPU; CPU seconds (including worker
processes) are reported beside wall time for the same reason.

    python benchmarks/generate.py                    # base preset, 1 and 2 workers, naive baseline
    python benchmarks/generate.py --large 4000000    # also: operator-pretraining at 4M rows, time + peak RSS
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import string
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import lolameme.data.generator  # noqa: F401 - imported before timing, like the baseline's modules
from lolameme.data.api import generate_dataset, resolve_config
from lolameme.machine import describe

RESULTS = Path(__file__).parent / "results" / "generate.md"


# ---------------------------------------------------------------- naive baseline (the paper's method)

class NaiveGenerator:
    """The paper's generator in plain Python: random names, statement by statement, exec for labels."""

    def __init__(self, config, seed: int = 0):
        self.c = config
        self.rng = random.Random(seed)
        low, high = config.var_length_bounds
        names: set[str] = set()
        while len(names) < config.global_var_count + config.local_var_count:
            letters = [self.rng.choice(string.ascii_lowercase) for _ in range(self.rng.randint(low, high))]
            letters[1:] = [ch.upper() if self.rng.random() < config.var_name_underscore_probability else ch
                           for ch in letters[1:]]
            names.add("".join(letters))
        names = sorted(names)
        self.rng.shuffle(names)
        self.locals = names[: config.local_var_count]
        self.globals = {n: self.rng.randint(config.min_int_value, config.max_int_value)
                        for n in names[config.local_var_count:]}
        self.global_names = list(self.globals)
        self.ops = config.operators["lola"]

    def operand(self, assigned: list[str], with_globals: bool) -> str:
        u = self.rng.random()
        if u < self.c.constant_probability:
            return str(self.rng.randint(self.c.min_int_value, self.c.max_int_value))
        if u < self.c.constant_probability + self.c.local_read_probability and assigned:
            return self.rng.choice(assigned)
        if with_globals:
            return self.rng.choice(self.global_names)
        return str(self.rng.randint(self.c.min_int_value, self.c.max_int_value))

    def expression(self, depth: int, assigned: list[str], with_globals: bool) -> tuple[str, str]:
        """(LoLa text, Python text) of an expression of the given depth (1 = bare operand)."""
        if depth == 1:
            text = self.operand(assigned, with_globals)
            return text, text
        left_depth, right_depth = depth - 1, self.rng.randint(1, depth - 1)
        if self.rng.random() < 0.5:
            left_depth, right_depth = right_depth, left_depth
        left, py_left = self.expression(left_depth, assigned, with_globals)
        right, py_right = self.expression(right_depth, assigned, with_globals)
        op = self.rng.choice(self.ops)
        if left_depth == right_depth == 1 and left[0].isalpha() and right[0].isalpha() \
                and left[0] < "x" and right[0] >= "x":  # latent types A op B: the paper's *2 and /2
            py_left, py_right = f"({py_left}*2)", f"({py_right}//2)"
        return f"({left} {op} {right})", f"({py_left} {op} {py_right})"

    def program(self, with_globals: bool) -> tuple[str, str, str]:
        statements, python, assigned = [], [], []
        for _ in range(self.c.statement_count):
            if with_globals and self.rng.random() < self.c.global_assign_probability:
                target = self.rng.choice(self.global_names)
                text = py = str(self.globals[target])
            else:
                target = self.rng.choice(self.locals)
                depth = self.rng.randint(self.c.expression_min_depth, self.c.expression_max_depth)
                text, py = self.expression(depth, assigned, with_globals)
            statements.append(f"{target} = {text}")
            python.append(f"{target} = {py}")
            if target not in assigned:
                assigned.append(target)
        printed = self.rng.choice(assigned)
        return ";".join(statements) + f";print({printed})", "\n".join(python), printed

    def run(self, rows: int, out: Path) -> int:
        seen: set[str] = set()
        with open(out, "w", encoding="utf-8") as handle:
            while len(seen) < rows:
                text, python, printed = self.program(with_globals=True)
                if text in seen:
                    continue
                scope = dict(self.globals)
                try:
                    exec(python, {}, scope)  # noqa: S102 - the paper's labelling method, on our own text
                except ZeroDivisionError:
                    continue
                seen.add(text)
                handle.write(json.dumps({"input": text, "label": str(scope[printed])}) + "\n")
        return rows


# ---------------------------------------------------------------- measurement

def cpu_seconds() -> float:
    """CPU time of this process and its finished children (worker pools are reaped on exit)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn) -> tuple[float, float]:
    cpu, start = cpu_seconds(), time.perf_counter()
    fn()
    return time.perf_counter() - start, cpu_seconds() - cpu





def large_run(rows: int, workdir: Path) -> dict:
    """Operator pre-training at ``rows`` train rows, 2 workers, in a fresh process: time and peak RSS."""
    code = f"""
import json, resource, time, warnings
from lolameme.data.api import generate_dataset
start = time.perf_counter()
generate_dataset("operator-pretraining", {str(workdir / 'large')!r}, overrides={{"dataset_size": {rows}}},
                 workers=2, overwrite=True)
wall = time.perf_counter() - start
own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({{"wall": wall, "parent_rss_mb": own.ru_maxrss / 1024, "worker_rss_mb": kids.ru_maxrss / 1024,
                  "cpu": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["rows"] = rows
    report["bytes"] = sum(p.stat().st_size for p in (workdir / "large").iterdir())
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--naive-rows", type=int, default=20000, help="rows the naive baseline generates")
    parser.add_argument("--repeats", type=int, default=2, help="runs of ours per worker count (best is kept)")
    parser.add_argument("--large", type=int, default=0, help="also time operator-pretraining at this many rows")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the base preset's appearance target is not met at 100k rows (see manifest)

    lines = ["# LOLAMEME generation benchmark", "", f"Machine: {describe()}.",
             f"Command: `python benchmarks/{Path(__file__).name} {' '.join(sys.argv[1:])}`.", ""]
    config = resolve_config("base")[1]
    rows = config.dataset_size + 2 * config.test_dataset_size
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        naive = NaiveGenerator(config)
        naive_wall, naive_cpu = timed(lambda: naive.run(args.naive_rows, tmp / "naive.jsonl"))
        results = [("naive: the paper's method (random + translate to Python + exec + set + JSONL), "
                    f"{args.naive_rows:,} rows", 1, args.naive_rows / naive_wall, args.naive_rows / naive_cpu,
                    naive_wall * rows / args.naive_rows)]
        for workers in (1, 2):
            best = None
            for _ in range(args.repeats):
                wall, cpu = timed(lambda: generate_dataset("base", tmp / f"ours{workers}", workers=workers,
                                                           overwrite=True))
                if best is None or wall < best[0]:
                    best = (wall, cpu)
            results.append((f"ours: `lolameme generate --preset base`, {rows:,} rows written (Parquet + manifest)",
                            workers, rows / best[0], rows / best[1], best[0]))
        large = large_run(args.large, tmp) if args.large else None

    lines += ["Task: the `base` preset (paper A.1: 5 statements, depth 1-2, 500 globals, latent rules on). "
              "Ours: 100k train + 10k test_with_globals + 10k test_without_globals, labelled, annotated, "
              "deduplicated, written. Rates are rows per wall second and per CPU second (workers included); "
              "the naive time for the full preset is extrapolated from its rate.", "",
              "| generator | workers | time for the preset | rows/s (wall) | rows per CPU s | vs naive (wall) | vs naive (CPU) |",
              "|---|---|---|---|---|---|---|"]
    naive_rate, naive_cpu_rate = results[0][2], results[0][3]
    for name, workers, rate, cpu_rate, seconds in results:
        lines.append(f"| {name} | {workers} | {seconds:.2f} s | {rate:,.0f} | {cpu_rate:,.0f} | "
                     f"{rate / naive_rate:.1f}x | {cpu_rate / naive_cpu_rate:.1f}x |")
    two = results[-1]
    lines += ["", f"Targets: >= 100,000 rows/s with 2 workers and >= 10x naive. Measured with 2 workers: "
              f"{two[2]:,.0f} rows/s (wall), {two[2] / naive_rate:.1f}x naive (wall), "
              f"{two[3] / naive_cpu_rate:.1f}x naive per CPU second."]
    if large:
        per_row = large["wall"] / large["rows"]
        lines += ["", f"## Large run: `operator-pretraining` with dataset_size={large['rows']:,}, 2 workers", "",
                  f"- wall time {large['wall']:.1f} s ({large['rows'] / large['wall']:,.0f} rows/s), "
                  f"CPU {large['cpu']:.1f} s",
                  f"- peak RSS: parent {large['parent_rss_mb']:.0f} MB, largest worker {large['worker_rss_mb']:.0f} MB",
                  f"- output {large['bytes'] / 1e6:.0f} MB on disk",
                  f"- extrapolated to the paper's 40,000,000 rows (linear in rows; the parent's hash set grows by "
                  f"8 bytes per row, +{40e6 * 8 / 1e6:.0f} MB at 40M): about {per_row * 40e6 / 60:.0f} min, "
                  f"parent RSS about {large['parent_rss_mb'] + (40e6 - large['rows']) * 8 / 2**20:.0f} MB, "
                  f"output about {large['bytes'] / large['rows'] * 40e6 / 1e9:.1f} GB"]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
