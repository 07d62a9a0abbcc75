"""The write-then-rename helpers leave either the old content or the whole new one, and the lock excludes."""

import multiprocessing as mp
import os
from pathlib import Path

import pytest

from lolameme.atomic import (OutputLockedError, atomic_dir, atomic_path, atomic_write_json,
                             atomic_write_text, exclusive_lock, temporary_name)


def test_temporary_names_are_unique_and_hidden(tmp_path: Path):
    names = {temporary_name(tmp_path / "x.json") for _ in range(100)}
    assert len(names) == 100
    assert all(n.name.startswith(".x.json.") for n in names)


def test_failed_write_keeps_old_file_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_json_round_trip(tmp_path: Path):
    atomic_write_json(tmp_path / "o.json", {"a": 1})
    assert (tmp_path / "o.json").read_text() == '{\n  "a": 1\n}\n'


def test_atomic_dir_refuses_to_overwrite_unless_asked(tmp_path: Path):
    final = tmp_path / "d"
    with atomic_dir(final) as tmp:
        (tmp / "f").write_text("1")
    with pytest.raises(FileExistsError):
        with atomic_dir(final) as tmp:
            (tmp / "f").write_text("2")
    assert (final / "f").read_text() == "1"
    with atomic_dir(final, replace=True) as tmp:
        (tmp / "f").write_text("3")
    assert (final / "f").read_text() == "3"
    assert sorted(os.listdir(tmp_path)) == ["d"]


def _hold(directory: str, ready, release) -> None:
    with exclusive_lock(directory):
        ready.set()
        release.wait(10)


def test_lock_excludes_a_second_process_and_dies_with_its_holder(tmp_path: Path):
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), ready, release))
    holder.start()
    assert ready.wait(20)
    with pytest.raises(OutputLockedError, match="another process"):
        with exclusive_lock(tmp_path):
            pass
    holder.kill()
    holder.join()
    with exclusive_lock(tmp_path, wait=True, timeout=5):
        pass
