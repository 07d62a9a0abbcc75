"""One cell in a ``torchrun`` process: ``python -m lolameme.experiments.worker JOB.json RESULT.json``.

Started by :func:`lolameme.experiments.backend.run_cell_torchrun`; every rank
trains, rank 0 evaluates and writes the result (atomically) for the parent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lolameme.experiments.backend import CellJob, run_cell
from lolameme.experiments.store import write_json_atomic


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m lolameme.experiments.worker JOB.json RESULT.json", file=sys.stderr)
        return 2
    job = CellJob.from_json(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    result = run_cell(job)
    if result is not None:
        write_json_atomic(Path(argv[1]), result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
