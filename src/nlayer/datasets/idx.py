"""Reader for the IDX file format used by MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number ``00 00 TT NN`` (``TT`` = element
type, ``NN`` = number of dimensions), then ``NN`` big-endian uint32 sizes,
then the elements in C order, big-endian.  Files may be gzip-compressed.

This module also defines the error types shared by the whole package,
because it is the lowest-level module of ``nlayer.datasets``.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DatasetError", "DatasetNotFoundError", "IDX_TYPES", "read_idx"]


class DatasetError(ValueError):
    """Bad or unusable data: corrupt file, wrong format, bad CSV, ...

    Examples
    --------
    >>> import os, tempfile, nlayer.datasets as D
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "images.idx")
    ...     _ = open(path, "wb").write(b"not an IDX file")
    ...     try:
    ...         D.read_idx(path)
    ...     except D.DatasetError as exc:
    ...         print(type(exc).__name__)
    DatasetError
    """


class DatasetNotFoundError(DatasetError):
    """The data could not be found on disk nor downloaded.

    Examples
    --------
    >>> import tempfile, nlayer.datasets as D
    >>> with tempfile.TemporaryDirectory() as empty:
    ...     try:
    ...         D.load_dataset("mnist", data_dir=empty, download=False)
    ...     except D.DatasetNotFoundError:
    ...         print("not found")
    not found
    """


#: IDX type code -> big-endian NumPy dtype.
IDX_TYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read a raw or gzip-compressed IDX file into a native-endian array.

    Raises DatasetError (naming the file) for a bad header, a payload
    that is shorter or longer than the header says, or corrupt gzip data.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ndarray
        Of the shape and element type the header gives.

    Raises
    ------
    DatasetNotFoundError
        If there is no such file.
    DatasetError
        If the file is not a whole IDX file.

    Examples
    --------
    A gzip-compressed 2x3 array of bytes (type 0x08, 2 dimensions):

    >>> import gzip, pathlib, struct, tempfile
    >>> from nlayer.datasets import read_idx
    >>> data = bytes([0, 0, 0x08, 2]) + struct.pack(">2I", 2, 3) + bytes(range(6))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder, "tiny-idx2-ubyte.gz")
    ...     _ = path.write_bytes(gzip.compress(data))
    ...     array = read_idx(path)
    >>> array
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    path = Path(path)
    data = _read_bytes(path)
    dtype, shape, offset = _parse_header(data, path)
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - offset
    if got < expected:
        raise DatasetError(
            f"{path}: IDX payload truncated: expected {expected} bytes got {got}"
        )
    if got > expected:
        raise DatasetError(
            f"{path}: IDX file has {got - expected} trailing bytes after the "
            f"{expected}-byte payload (shape {shape})"
        )
    flat = np.frombuffer(data, dtype=dtype, offset=offset)
    return flat.reshape(shape).astype(dtype.newbyteorder("="))


def _read_bytes(path: Path) -> bytes:
    """Return the (decompressed) content of *path*."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == _GZIP_MAGIC:
                with gzip.GzipFile(fileobj=f) as gz:
                    return gz.read()
            return f.read()
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(
            f"{path}: cannot read (corrupt or truncated gzip data?): {exc}"
        ) from exc


def _parse_header(data: bytes, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """Validate the IDX header; return (dtype, shape, payload offset)."""
    if len(data) < 4:
        raise DatasetError(f"{path}: too short for an IDX header ({len(data)} bytes)")
    zero1, zero2, type_code, ndim = data[:4]
    if zero1 != 0 or zero2 != 0 or type_code not in IDX_TYPES:
        raise DatasetError(
            f"{path}: bad IDX magic number {data[:4].hex()} (expected 0000TTNN "
            f"with type TT in {sorted(f'{t:02x}' for t in IDX_TYPES)})"
        )
    if ndim == 0:
        raise DatasetError(f"{path}: IDX header declares 0 dimensions")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise DatasetError(
            f"{path}: IDX header declares {ndim} dimensions but the file ends "
            f"inside the header ({len(data)} of {offset} header bytes)"
        )
    shape = struct.unpack(f">{ndim}I", data[4:offset])
    return IDX_TYPES[type_code], tuple(shape), offset
