"""One cell in a ``torchrun`` process: ``python -m lolameme.experiments.worker JOB.json RESULT.json``.

Started by :func:`lolameme.experiments.backend.run_cell_torchrun`; every rank
trains, rank 0 evaluates and writes the result (atomically) for the parent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lolameme.atomic import atomic_write_json
from lolameme.experiments.backend import CellJob, run_cell


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m lolameme.experiments.worker JOB.json RESULT.json", file=sys.stderr)
        return 2
    job = CellJob.from_json(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    result = run_cell(job)
    if result is not None:
        atomic_write_json(Path(argv[1]), result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
