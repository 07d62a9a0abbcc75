"""Shared pytest set-up.

Tests run as ``pytest -n 2`` on a 2-core machine: each worker keeps to one
OpenMP/torch thread, since tiny models gain nothing from more and oversubscribed
threads spin and wait. Set before anything imports torch.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
