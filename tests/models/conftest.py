"""Model tests use one torch thread: the models are tiny, and with several test
workers (and colleagues) sharing two cores, more threads only spin and wait."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
