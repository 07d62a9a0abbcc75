"""Shared pytest set-up.

Tests run as ``pytest -n 2`` on a 2-core machine: each worker keeps to one
OpenMP/torch thread, since tiny models gain nothing from more and oversubscribed
threads spin and wait. Set before anything imports torch.
"""

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def load_benchmark():
    """Load ``benchmarks/NAME.py`` as a module (the benchmarks are scripts, not a package)."""
    import importlib.util
    from pathlib import Path

    def load(name: str):
        path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"{name}_benchmark", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
