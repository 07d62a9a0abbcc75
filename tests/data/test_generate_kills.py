"""``generate`` killed at random points: what remains is nothing complete-looking or the whole dataset.

Each round starts ``lolameme generate --overwrite`` on the same directory (so every round is
also a rerun over what the previous kill left), kills it with SIGKILL after a seeded random
delay (a fraction of one uninterrupted run's wall time, so the kills land mid-run on fast and
slow machines alike), and checks the directory: either it has no manifest (it does not look complete), or
its manifest verifies and its files are byte-identical to an uninterrupted run. A last,
uninterrupted rerun must then succeed and reproduce the reference bytes, and leave no
temporary files behind.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lolameme.data.api import generate_dataset
from lolameme.data.io import verify_dataset

KILLS = 24
CONFIG = {"dataset_size": 30000, "test_dataset_size": 2000, "global_var_count": 50,
          "global_variables_num_appearance": 1}


def _data_files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())
            if p.is_file() and not p.name.startswith(".") and p.name != "README.md"}


def _generate(out: Path, workers: int) -> subprocess.Popen:
    sets = [f"--set={key}={value}" for key, value in CONFIG.items()]
    return subprocess.Popen([sys.executable, "-m", "lolameme.cli", "generate", "--out", str(out), "--overwrite",
                             "--workers", str(workers), *sets],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _uninterrupted_seconds(out: Path) -> float:
    """Wall time of one whole ``generate`` subprocess (2 workers, interpreter start included)."""
    start = time.monotonic()
    proc = _generate(out, workers=2)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    return time.monotonic() - start


@pytest.mark.slow
def test_killed_generate_leaves_nothing_complete_looking_or_the_whole_dataset(tmp_path):
    reference = tmp_path / "reference"
    generate_dataset("base", reference, overrides=CONFIG)
    expected = _data_files(reference)
    out = tmp_path / "out"
    span = _uninterrupted_seconds(tmp_path / "timed")  # kill delays scale with this machine's speed
    rng = random.Random(20260101)
    outcomes = {"no manifest": 0, "complete": 0}
    for round_ in range(KILLS):
        proc = _generate(out, workers=rng.choice([1, 2]))
        time.sleep(rng.uniform(0.1, 1.3) * span)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        err = proc.stderr.read()
        assert "Traceback" not in err and "being written by another process" not in err, (round_, err)
        if (out / "manifest.json").exists():
            verify_dataset(out)
            assert _data_files(out) == expected, f"round {round_}: a complete-looking dataset differs"
            outcomes["complete"] += 1
        else:
            outcomes["no manifest"] += 1
    assert outcomes["no manifest"] >= KILLS // 8, outcomes  # some kills really landed mid-run
    final = _generate(out, workers=2)
    assert final.wait(timeout=600) == 0, final.stderr.read()
    verify_dataset(out)
    assert _data_files(out) == expected
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
