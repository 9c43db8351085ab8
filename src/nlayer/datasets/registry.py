"""``load_dataset(name)``: one entry point for the built-in datasets."""

from __future__ import annotations

import os

from .idx import DatasetError
from .images import load_images
from .tabular import Dataset, load_digits

__all__ = ["DATASETS", "load_dataset"]

#: Names accepted by load_dataset.
DATASETS = ("digits", "mnist", "fashion-mnist")


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    test_size: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """Load a built-in dataset by name.

    ``digits`` is split with *test_size* / *seed*; ``mnist`` and
    ``fashion-mnist`` keep their official 60000/10000 split and use
    *data_dir*, *download* and *cache_dir* to find their files.
    """
    key = str(name).strip().lower().replace("_", "-")
    if key == "digits":
        return load_digits(test_size=test_size, seed=seed)
    if key in ("mnist", "fashion-mnist"):
        return load_images(key, data_dir=data_dir, download=download, cache_dir=cache_dir)
    raise DatasetError(
        f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)} "
        "(or use --csv FILE for your own data)"
    )
