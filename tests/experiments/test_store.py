"""Claims with heartbeats: a crashed machine's cells run again; a live one's are left alone; progress lines."""

from __future__ import annotations

import json
import time

import pytest
from test_runner import all_cells, calls, run, work  # noqa: F401  (work is a fixture)

from lolameme.experiments.cells import select_shard
from lolameme.experiments.store import CLAIM_FILE, CLAIM_TTL, Heartbeat, WorkDir


def other_host_claim(wd: WorkDir, cell, age: float) -> None:
    wd.cell_dir(cell).mkdir(parents=True, exist_ok=True)
    (wd.run_dir(cell)).mkdir(exist_ok=True)
    (wd.run_dir(cell) / "half-written").write_text("x")
    claim = {"pid": 1, "host": "a-crashed-node", "started": time.time() - age, "heartbeat": time.time() - age}
    (wd.cell_dir(cell) / CLAIM_FILE).write_text(json.dumps(claim))


@pytest.mark.parametrize("shard", [None, (2, 3)])
def test_an_expired_claim_is_rerun_and_a_fresh_one_is_left_alone(work, shard):
    wd = WorkDir(work)
    mine = select_shard(all_cells(), shard)
    expired, alive = mine[0], mine[1]
    other_host_claim(wd, expired, age=CLAIM_TTL + 5)
    other_host_claim(wd, alive, age=CLAIM_TTL - 60)
    assert wd.state(expired) == "interrupted" and wd.state(alive) == "running"
    summary = run(work, shard=shard)
    assert expired.id in summary.finished and alive.id not in calls(work)
    assert wd.state(expired) == "done" and not (wd.run_dir(expired) / "half-written").exists()
    assert summary.skipped == 1 and len(summary.finished) == len(mine) - 1


def test_heartbeat_keeps_a_held_claim_fresh_and_stops_when_dropped(work):
    wd = WorkDir(work)
    cell = all_cells()[0]
    assert wd.claim(cell)
    read = lambda: json.loads((wd.cell_dir(cell) / CLAIM_FILE).read_text())["heartbeat"]
    first = read()
    with Heartbeat(wd, every=0.05) as heart:
        heart.hold(cell)
        time.sleep(0.3)
        assert read() > first
        heart.drop(cell)
        wd.finish(cell, {"cell": cell.id, "splits": {}})
        time.sleep(0.2)
    assert not (wd.cell_dir(cell) / CLAIM_FILE).exists()  # a finished claim is never written back
    assert not wd.claim(cell)  # done


def test_run_reports_done_running_left_and_an_eta(work):
    lines: list[str] = []
    from lolameme.experiments.runner import run_experiment
    from lolameme.experiments.spec import load_spec
    from test_runner import fake_cell

    run_experiment(load_spec("listops"), "micro", seeds=2, work=work, log=lines.append, cell_fn=fake_cell)
    progress = [line for line in lines if line.startswith("cell ")]
    assert progress[0].endswith("[0 done, 1 running, 11 left of 12; ETA after the first cell finishes]")
    assert "[1 done, 0 running, 11 left of 12; ETA" in progress[1]
    assert progress[-1].endswith("[12 done, 0 running, 0 left of 12]")
