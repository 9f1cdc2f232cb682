"""Input: read a file (:mod:`.reader`), map its columns to a Dataset (:mod:`.columns`)."""

from losscli.io.columns import InputOptions, build_dataset, load_dataset
from losscli.io.reader import read_table

__all__ = ["InputOptions", "build_dataset", "load_dataset", "read_table"]
