"""Input at the edges: absurd sizes, odd values, bad files, and worker processes of a killed run.

Every case here once ended in a traceback, an out-of-memory kill, a minute of work or a wrong
answer; each must now be one clear error (or, for the workers, a prompt exit).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lolameme import machine
from lolameme.cli import app
from lolameme.configfile import parse_overrides, read_config_file
from lolameme.data.api import resolve_config
from lolameme.errors import ConfigError, DatasetError

GB = 1e9


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    return lines[0]


@pytest.fixture
def machine_of_24_gb(monkeypatch):
    monkeypatch.setattr(machine, "physical_memory", lambda: int(24 * GB))


@pytest.mark.parametrize("key, value, needs", [
    ("global_var_count", 100_000_000, "~75 GB"),
    ("local_var_count", 1_000_000_000, "~750 GB"),
    ("statement_count", 1_000_000_000, "~[0-9,]+ GB"),
    ("dataset_size", 10**15, "~[0-9,]+ GB"),
])
def test_generator_sizes_are_bounded_by_memory(machine_of_24_gb, key, value, needs):
    with pytest.raises(ConfigError, match=rf"{key}.*needs {needs} of memory") as caught:
        resolve_config("base", {key: value})
    assert "24 GB" in str(caught.value) and "\n" not in str(caught.value)


def test_sizes_a_machine_can_hold_are_accepted(machine_of_24_gb):
    resolve_config("base", {"global_var_count": 1_000_000, "dataset_size": 40_000_000})


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 1e300])
def test_mean_var_length_must_be_a_finite_length(value):
    with pytest.raises(ConfigError, match="mean_var_length"):
        resolve_config("base", {"mean_var_length": value})


def test_listops_depth_validation_is_bounded():
    started = time.monotonic()
    resolve_config("listops-small", {"max_depth": 1_000_000})
    with pytest.raises(ConfigError, match="max_depth"):
        resolve_config("listops-small", {"max_depth": 0})
    assert time.monotonic() - started < 2


def test_listops_sizes_are_bounded_by_memory(machine_of_24_gb):
    with pytest.raises(ConfigError, match="max_length=100000000.*needs"):
        resolve_config("listops-small", {"max_length": 100_000_000})
    with pytest.raises(ConfigError, match="num_train"):
        resolve_config("listops-small", {"num_train_samples": 10**12})
    with pytest.raises(ConfigError, match="max_args=1000000000 must be at most max_length"):
        resolve_config("listops-small", {"max_args": 10**9})


def test_a_config_nested_5000_deep_is_one_line(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        read_config_file(path)
    line = _one_line_error(CliRunner().invoke(app, ["generate", "-o", str(tmp_path / "x"), "-c", str(path)]))
    assert "nested too deeply" in line


def test_set_yaml_errors_are_one_line():
    with pytest.raises(ConfigError) as caught:
        parse_overrides(["dataset_size=[1, 2"])
    assert "\n" not in str(caught.value) and "line 1" in str(caught.value)


@pytest.mark.parametrize("text, value", [("*3", "*3"), ("/2", "/2"), ("&x", "&x"), ("@2", "@2"), ("3", 3), ("", "")])
def test_set_takes_the_documented_latent_syntax_unquoted(text, value):
    assert parse_overrides([f"latent_type_a_modification={text}"]) == {"latent_type_a_modification": value}


def test_latent_modification_star_three_reaches_the_manifest(tmp_path):
    result = CliRunner().invoke(app, ["generate", "-o", str(tmp_path / "d"), "--set", "latent_type_a_modification=*3",
                                      "--set", "dataset_size=20", "--set", "test_dataset_size=5",
                                      "--set", "global_variables_num_appearance=0"])
    assert result.exit_code == 0, result.output
    assert '"modification_a": "*3"' in (tmp_path / "d" / "manifest.json").read_text()


def test_workers_zero_is_one_line(tmp_path):
    line = _one_line_error(CliRunner().invoke(app, ["generate", "-o", str(tmp_path / "d"), "--workers", "0"]))
    assert "--workers" in line


def test_a_binary_lra_file_is_one_line(tmp_path):
    from lolameme.data.listops import import_lra

    (tmp_path / "lra").mkdir()
    (tmp_path / "lra" / "basic_train.tsv").write_bytes(b"Source\tTarget\n( [MAX 2 3 ] )\t3\n" + bytes(range(128, 256)))
    with pytest.raises(DatasetError, match="not UTF-8"):
        import_lra(tmp_path / "lra", tmp_path / "out")
    line = _one_line_error(CliRunner().invoke(app, ["listops", "import", str(tmp_path / "lra"), "-o",
                                                    str(tmp_path / "out2")]))
    assert "not UTF-8" in line


@pytest.mark.parametrize("make, reason", [
    (lambda d: d / "file" / "out", "Not a directory"),
    (lambda d: d / "dangling", "leads nowhere"),
    (lambda d: d / "loop", "leads nowhere"),
    (lambda d: d / "loop" / "below", "symbolic links"),
    (lambda d: Path("/sys/lolameme-test"), "not permitted"),
])
def test_output_path_problems_are_one_line(tmp_path, make, reason):
    (tmp_path / "file").write_text("")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop")
    if make(tmp_path).parts[:2] == ("/", "sys") and not Path("/sys").is_dir():
        pytest.skip("no /sys here")
    line = _one_line_error(CliRunner().invoke(app, ["generate", "-o", str(make(tmp_path)), "--set", "dataset_size=10"]))
    assert reason in line


def test_a_read_only_output_directory_is_one_line(tmp_path, monkeypatch):
    import errno

    from lolameme import atomic

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "ro"))

    monkeypatch.setattr(atomic, "exclusive_lock", read_only)
    monkeypatch.setattr("lolameme.data.io.exclusive_lock", read_only)
    line = _one_line_error(CliRunner().invoke(app, ["generate", "-o", str(tmp_path / "ro"), "--set", "dataset_size=10"]))
    assert "Read-only file system" in line


def test_an_empty_out_is_refused_not_read_as_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _one_line_error(CliRunner().invoke(app, ["generate", "--out", ""]))
    assert "--out" in line and "empty" in line
    assert list(tmp_path.iterdir()) == []


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in map(int, (task / "children").read_text().split()):
            found += [child, *_descendants(child)]
    return found


def _is_worker(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"resource_tracker" not in command  # the tracker ends by itself once the workers have gone


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


# LOLAMEME workers are forked children; ListOps workers are children of a forkserver.
POOLS = {"lolameme": ["--set", "dataset_size=400000", "--set", "statement_count=100"],
         "listops": ["-p", "listops-1000"]}


def _start_pool(out: Path, task: str) -> tuple[subprocess.Popen, list[int]]:
    """A two-worker ``generate`` in its own process group, once its workers are busy."""
    proc = subprocess.Popen([sys.executable, "-m", "lolameme.cli", "generate", "-o", str(out), "-w", "2",
                             *POOLS[task]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        workers = [pid for pid in _descendants(proc.pid) if _is_worker(pid)]
    assert len(workers) >= 2, "the pool never started"
    time.sleep(1.0)  # the workers are busy with chunks now
    return proc, workers


def _gone_within(workers: list[int], seconds: float) -> bool:
    stopped = time.monotonic()
    while any(_alive(w) for w in workers) and time.monotonic() - stopped < 5:
        time.sleep(0.05)
    left = [w for w in workers if _alive(w)]
    for pid in left:  # do not leave them running if the test fails
        os.kill(pid, signal.SIGKILL)
    return not left and time.monotonic() - stopped < seconds


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("task", sorted(POOLS))
def test_pool_workers_exit_with_a_killed_generate(tmp_path, task):
    proc, workers = _start_pool(tmp_path / "d", task)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _gone_within(workers, 2.0), "workers outlived a killed generate"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("task", sorted(POOLS))
def test_ctrl_c_stops_generate_and_its_workers_quietly(tmp_path, task):
    proc, workers = _start_pool(tmp_path / "d", task)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: the whole process group
    assert proc.wait(timeout=30) == 130
    assert "Traceback" not in proc.stderr.read()
    assert _gone_within(workers, 2.0), "workers outlived an interrupted generate"
    assert not (tmp_path / "d" / "manifest.json").exists()
