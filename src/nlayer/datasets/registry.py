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

    Parameters
    ----------
    name : {"digits", "mnist", "fashion-mnist"}
    data_dir : str or path-like, optional
        A folder holding the image set's IDX files (else ``$NLAYER_DATA`` and the cache).
    download : bool, default True
        Download missing image files into the cache.
    cache_dir : str or path-like, optional
    test_size : float, default 0.2
        ``digits``: the share of images held out, in [0, 1).
    seed : int, default 0
        ``digits``: the seed of the split.

    Returns
    -------
    Dataset
        Pixels scaled to [0, 1] (``pixel_scale`` is the raw value of white).

    Raises
    ------
    DatasetError
        If ``name`` is unknown, ``test_size`` out of range or a file corrupt; (its subclass)
        :class:`DatasetNotFoundError` if the image files are neither found nor downloaded.
    ImportError
        ``digits`` without scikit-learn.

    Examples
    --------
    >>> from nlayer.datasets import load_dataset
    >>> ds = load_dataset("digits")  # doctest: +SKIP
    >>> ds.X_train.shape, ds.X_test.shape, ds.class_names[:3]  # doctest: +SKIP
    ((1437, 64), (360, 64), ['0', '1', '2'])
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
