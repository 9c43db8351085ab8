"""Datasets for nlayer: built-in image sets, CSV files, and the IDX format.

>>> from nlayer.datasets import load_dataset
>>> ds = load_dataset("digits")            # doctest: +SKIP
"""

from .idx import DatasetError, DatasetNotFoundError, read_idx
from .registry import DATASETS, load_dataset
from .tabular import CsvSchema, Dataset, encode_csv_rows, load_csv

__all__ = [
    "DATASETS",
    "CsvSchema",
    "Dataset",
    "DatasetError",
    "DatasetNotFoundError",
    "encode_csv_rows",
    "load_csv",
    "load_dataset",
    "read_idx",
]
