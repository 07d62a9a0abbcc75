"""Export a trained run to a Hugging Face ``transformers`` directory (``lolameme export RUN --to hf OUT``).

Here rather than in :mod:`lolameme.models.hub` because it reads a *run* (checkpoint and tokenizer),
which is the train package's business; the model-level mapping stays in the hub module.
"""

from __future__ import annotations

from pathlib import Path

from lolameme.atomic import atomic_dir
from lolameme.errors import CheckpointError
from lolameme.models.hub import to_transformers_gpt2
from lolameme.train.checkpoint import load_run


def export_run_to_transformers(run_dir: str | Path, out: str | Path, which: str | int = "best",
                               overwrite: bool = False) -> Path:
    """``lolameme export RUN --to hf OUT``: a GPT2LMHeadModel directory with the run's tokenizer."""
    loaded = load_run(run_dir, which)
    theirs = to_transformers_gpt2(loaded.model, loaded.tokenizer)
    try:
        with atomic_dir(out, replace=overwrite) as scratch:
            theirs.save_pretrained(scratch)
            loaded.tokenizer.save(Path(scratch) / "tokenizer.json")
    except FileExistsError:
        raise CheckpointError(f"{out} already exists; choose another directory or pass --overwrite") from None
    return Path(out)
