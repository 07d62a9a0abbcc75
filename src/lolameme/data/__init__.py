"""Datasets: presets, generators (LOLAMEME programs, ListOps) and the on-disk format.

No torch here: generating and reading data needs only numpy and pyarrow.
"""

from lolameme.data.api import generate_dataset, resolve_config
from lolameme.data.io import DatasetWriter, load_dataset, load_split, read_manifest

__all__ = ["generate_dataset", "resolve_config", "DatasetWriter", "load_dataset", "load_split", "read_manifest"]
