"""--cells-per-gpu places several cells on each GPU and is refused clearly where there is no GPU."""

import pytest
import torch
from typer.testing import CliRunner

from lolameme.cli import app
from lolameme.errors import ExperimentError
from lolameme.experiments.runner import jobs_for_cells_per_gpu


def test_jobs_are_cells_per_gpu_times_gpus():
    assert jobs_for_cells_per_gpu(4, gpus=2) == 8
    assert jobs_for_cells_per_gpu(1, gpus=1) == 1


@pytest.mark.parametrize("cells, gpus, message", [(2, 0, "needs a CUDA device"), (0, 1, "at least 1")])
def test_bad_cells_per_gpu_is_an_experiment_error(cells, gpus, message):
    with pytest.raises(ExperimentError, match=message):
        jobs_for_cells_per_gpu(cells, gpus=gpus)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cli_refuses_cells_per_gpu_without_cuda_in_one_line(tmp_path):
    result = CliRunner().invoke(app, ["experiment", "run", "listops", "--scale", "micro", "--cells-per-gpu", "2",
                                      "--work", str(tmp_path / "w")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "needs a CUDA device" in lines[0]
    assert not (tmp_path / "w").exists()
