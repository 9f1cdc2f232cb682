"""Input: one reader (:mod:`.source`, :mod:`.text`) of record batches mapped to Datasets."""

try:
    import pyarrow  # noqa: F401 - a runtime dependency; its absence is a broken install
except ImportError:  # pragma: no cover - exercised with pyarrow hidden, see tests
    from losscli.errors import InputError

    raise InputError(
        "losscli reads files with pyarrow, which is not installed: pip install pyarrow"
    ) from None

from losscli.io.columns import InputOptions, build_dataset, load_dataset  # noqa: E402

__all__ = ["InputOptions", "build_dataset", "load_dataset"]
