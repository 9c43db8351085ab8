"""``.npy`` files opened as read-only memory maps, their header checked first.

``np.load(path, mmap_mode="r")`` reads nothing but the header; a file shorter than its
header says (a copy cut short) would map past its end, and NumPy's message ("mmap length
is greater than file size") names neither the file nor the fix. :func:`open_npy` reads
the header itself and refuses, naming the file and what is wrong: a missing file, no
``.npy`` magic, pickled objects, a truncated file, text or complex numbers where features
are wanted. A file truncated *while* it is mapped cannot be caught this way: reading its
missing pages stops the process with SIGBUS (do not rewrite files that a run reads).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from .csvread import refuse_special_file
from .idx import DatasetError, DatasetNotFoundError

__all__ = ["open_npy", "npy_header"]


def npy_header(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], np.dtype[Any], bool, int]:
    """(shape, dtype, fortran_order, data offset) from the header of the ``.npy`` at path;
    the file is checked to hold every byte the header promises."""
    path = Path(path)
    refuse_special_file(path, "a .npy file")
    try:
        with open(path, "rb") as fh:
            version = npy_format.read_magic(fh)
            read = npy_format.read_array_header_1_0 if version == (1, 0) else \
                npy_format.read_array_header_2_0
            shape, fortran, dtype = read(fh)
            offset = fh.tell()
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a directory, not a .npy file") from None
    except (ValueError, EOFError, SyntaxError) as exc:
        raise DatasetError(f"{path}: not a NumPy .npy file ({exc}); save arrays with "
                           "np.save(path, array)") from None
    if dtype.hasobject:
        raise DatasetError(f"{path}: holds Python objects (dtype {dtype}), which are read by "
                           "unpickling and never loaded here; save numbers or fixed-width "
                           "text (np.save(path, array.astype(float)) or .astype(str))")
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = path.stat().st_size
    if size < expected:
        raise DatasetError(f"{path}: the file is truncated: its header describes an array of "
                           f"shape {shape} and dtype {dtype} ({expected:,} bytes with the "
                           f"header) but the file has {size:,} bytes; copy or save it again")
    return tuple(int(n) for n in shape), dtype, bool(fortran), offset


def open_npy(path: str | os.PathLike[str], what: str = "array", features: bool = False
             ) -> np.ndarray:
    """The ``.npy`` at path as a read-only memory map (nothing read but the header).

    ``features``: a 2-D table of numbers (rows, features), else the error naming the
    problem; ``what`` names the array in messages ("X", "labels").
    """
    shape, dtype, _, _ = npy_header(path)
    if features:
        if len(shape) != 2:
            hint = " (one feature: save X.reshape(-1, 1))" if len(shape) == 1 else \
                " (flatten images: X.reshape(len(X), -1))" if len(shape) > 2 else ""
            raise DatasetError(f"{path}: {what} must be 2-D (rows, features); got shape "
                               f"{shape}{hint}")
        if dtype.kind not in "biuf":
            raise DatasetError(f"{path}: {what} must hold numbers (integers or floats); got "
                               f"dtype {dtype}: encode text and complex values as numbers first")
    if 0 in shape:
        raise DatasetError(f"{path}: {what} is empty (shape {shape}); give at least one row")
    if len(shape) == 0:
        raise DatasetError(f"{path}: {what} is a single value (shape ()); save one row per "
                           "sample")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:  # the header was read above: the map itself failed
        raise DatasetError(f"{path}: cannot map the file: {exc}") from None
