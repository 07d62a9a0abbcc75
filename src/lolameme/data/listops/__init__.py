"""ListOps (Nangia & Bowman 2018) exactly as Long Range Arena generates it.

The task module behind ``lolameme generate --preset listops-1000`` and
``lolameme listops import``; see docs/listops.md for the rules.

* :mod:`.rules` - operators, text form, length accounting, the evaluator;
* :mod:`.config` - the validated config (LRA's flag names);
* :mod:`.sampler` - vectorised, chunked, seeded tree sampling;
* :mod:`.dataset` - workers, in-order merge, dedup, splits, manifest;
* :mod:`.lra_files` - reading LRA's released TSV files.
"""

from lolameme.data.listops.config import ListOpsConfig, load_config
from lolameme.data.listops.dataset import generate
from lolameme.data.listops.lra_files import import_lra, read_lra_tsv
from lolameme.data.listops.rules import Analysis, analyze, evaluate, lra_length, normalize

__all__ = ["ListOpsConfig", "load_config", "generate", "import_lra", "read_lra_tsv",
           "Analysis", "analyze", "evaluate", "lra_length", "normalize"]
