"""The LOLAMEME dataset generator (paper sections 3, 4, 6 and appendices A, B, D.1).

The task interface used by presets, ``lolameme generate`` and the experiment
runner (see :mod:`lolameme.data.tasks`)::

    config = load_config(preset_config, overrides)     # validated once; ConfigError otherwise
    manifest = generate(config, "data/base", workers=2)  # writes splits, globals.json, manifest.json
    splits, manifest = load_dataset("data/base")       # pyarrow Tables per split + manifest

Modules, one job each: ``config`` (the validated config and the paper-key
loader), ``names`` (vocabulary), ``programs`` (drawing and running programs
with numpy), ``render`` (program text), ``hashing`` (duplicate detection),
``splits`` (which splits, drawn how), ``chunks`` (one unit of work),
``workers`` (ordered parallel chunks), ``corpus`` (the whole dataset),
``verify`` (agreement with the interpreter). docs/generator.md explains the
choices.
"""

from lolameme.data.generator.config import GeneratorConfig, load_config
from lolameme.data.generator.corpus import AppearanceWarning, generate
from lolameme.data.io import load_dataset, load_split, read_manifest

__all__ = ["GeneratorConfig", "load_config", "generate", "load_dataset", "load_split", "read_manifest",
           "AppearanceWarning"]
