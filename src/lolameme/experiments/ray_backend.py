"""Cells as Ray tasks: ``lolameme experiment run SPEC --backend ray [--address HOST:PORT]``.

The process that launches the sweep (the *driver*) does all the bookkeeping it
does for local jobs: it generates the datasets, claims each cell (with a
heartbeat), submits the cell as a Ray task asking for the CPUs (``--threads``)
and GPUs (``--nproc``, when the cluster has GPUs) it needs, and writes the
cell's ``result.json`` when the task returns. So the work directory stays the
single record of what is done, and a result is written once, by one process.

Tasks read their dataset from, and write their run directory to, the work
directory, so on a cluster of several machines it must be a shared file system
mounted at the same path everywhere (``--work /shared/...``); results, reports
and run directories then all land there. On one machine (a local Ray started by
the driver) any directory works.

A worker that dies mid-cell (killed, out of memory, its node lost) is retried
by Ray up to :data:`MAX_RETRIES` times; the retry starts from an empty run
directory. A cell that raises (bad settings, a bug) is not retried: it fails,
is released, and the next run retries it, as with local jobs.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from lolameme.errors import ExperimentError

RAY_HINT = "pip install 'lolameme[ray]'"
#: How often Ray reruns a cell whose worker process died (not a cell that raised).
MAX_RETRIES = 3
CONNECT_TIMEOUT = 5.0  # seconds to wait for a TCP answer from --address


def import_ray():
    """The ``ray`` module, or a one-line error naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise ExperimentError(f"--backend ray needs the optional package 'ray': {RAY_HINT}") from None
    return ray


def check_address(address: str) -> None:
    """Fail in one line, within seconds, when nothing answers at ``HOST:PORT``."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ExperimentError(f"--address {address!r}: expected HOST:PORT of a Ray head node (e.g. 10.0.0.5:6379)")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        raise ExperimentError(f"--address {address}: no Ray cluster answers there ({exc.strerror or exc}); "
                              "start one with `ray start --head --port PORT`, or leave out --address "
                              "to run on a local Ray") from None


def connect_ray(address: str | None, log: Callable[[str], None] = print):
    """Connect to the cluster at ``address``, or start a local one; an existing connection is reused."""
    ray = import_ray()
    if address:
        check_address(address)
    if ray.is_initialized():
        return ray
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"at {address}" if address else "locally"
        raise ExperimentError(f"cannot start Ray {where}: {str(exc).splitlines()[0]}") from None
    resources = ray.cluster_resources()
    log(f"Ray cluster {'at ' + address if address else '(local)'}: {resources.get('CPU', 0):.0f} CPUs, "
        f"{resources.get('GPU', 0):.0f} GPUs, {len(ray.nodes())} node(s)")
    return ray


def run_remote(cell_fn: Callable[[Any], dict[str, Any]], job) -> dict[str, Any]:
    """What a Ray task runs: the cell, from an empty run directory (a retry may find a dead attempt's files)."""
    shutil.rmtree(job.run_dir, ignore_errors=True)
    return cell_fn(job)


def ray_submitter(ray, cell_fn: Callable[[Any], dict[str, Any]], threads: int, nproc: int) -> Callable[[Any], Future]:
    """``submit(job) -> Future``: one Ray task per cell, asking for ``threads`` CPUs and, on GPUs, ``nproc`` of them."""
    gpus = nproc if ray.cluster_resources().get("GPU", 0) > 0 else 0
    task = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)(run_remote)
    options = task.options(num_cpus=threads, num_gpus=gpus)

    def submit(job) -> Future:
        return options.remote(cell_fn, job).future()

    return submit
