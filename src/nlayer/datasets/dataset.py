"""The :class:`Dataset` every loader returns: a train/test split ready for training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Dataset"]


@dataclass
class Dataset:
    """A train/test split ready for training.

    X arrays are float32 (n, features), or array-likes of rows that ``fit`` reads a
    batch at a time (data bigger than memory: :class:`~.rowsubset.RowSubset` views of a
    memory map); y is int64 class ids 0..k-1 for classification and float32 for regression.

    Parameters
    ----------
    name, task : str
    X_train, y_train, X_test, y_test : ndarray or array-like
    feature_names : list of str
    class_names : list of str or None
    source : str, default ""
    schema : CsvSchema, optional
    pixel_scale : float, optional

    Examples
    --------
    >>> import numpy as np
    >>> from nlayer.datasets import Dataset
    >>> X, y = np.zeros((6, 2), np.float32), np.array([0, 1, 0, 1, 0, 1])
    >>> ds = Dataset("toy", X[:4], y[:4], X[4:], y[4:], "classification", ["a", "b"], ["no", "yes"])
    >>> ds.n_features, ds.n_classes
    (2, 2)
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str
    feature_names: list[str]
    class_names: list[str] | None = None
    source: str = ""
    schema: Any = None  # a tabular.CsvSchema (whose module imports this one)
    #: Image sets: the raw value of a white pixel, which the loader divided by to reach [0, 1]
    #: (raw pixels from elsewhere need the same division before they reach the model).
    pixel_scale: float | None = None

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int | None:
        return None if self.class_names is None else len(self.class_names)
