"""Reading a model file's zip of ``.npy`` members without trusting any of it.

A model file is a zip archive (what ``np.savez`` writes) of ``.npy`` members.
``np.load`` would trust what the archive declares: a member's ``.npy`` header
can declare a shape of terabytes in a file of a few hundred bytes, a member can
be compressed with a method NumPy does not expect or carry the encrypted flag,
and a plain ``.npy`` gets NumPy's message about pickled data. So this module
reads the archive itself, in two steps:

1. :class:`Archive` opens the zip, checks every member's name (against a
   predicate given by the caller), compression method (stored or deflate),
   flags (no encryption) and declared sizes (each within the file, their sum
   within the file, or for deflate within deflate's maximum ratio and a global
   cap), then parses each member's ``.npy`` header (bounded length, a strict
   character set, then NumPy's own parser with ``max_header_size``) and checks
   its dtype, shape and that the data it declares fills the member exactly.
   Nothing of the data is read yet: the caller compares these shapes with what
   the model's architecture implies.
2. :meth:`Archive.read` reads one member's data into an array of the declared
   shape, in bounded chunks, and checks the zip's CRC.

Every failure is a :class:`~nlayer.errors.ModelFileError` naming the file and
the problem. Nothing is ever unpickled or executed.
"""

import functools
import io
import os
import re
import struct
import tokenize
import warnings
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy_format

from ..errors import ModelFileError

__all__ = ["Archive", "MAX_MEMBERS", "MAX_TOTAL_BYTES"]

MAX_MEMBERS = 65_536  # 10,000 layers of 4 arrays each, optimiser and checkpoint arrays
MAX_TOTAL_BYTES = 1 << 36  # 64 GiB of array data, whatever the archive declares
MAX_NPY_HEADER = 1024  # NumPy writes 128 bytes for the arrays nlayer saves
DEFLATE_MAX_RATIO = 1032  # deflate cannot expand data by more than this
_MAX_ENTRY_BYTES = 512  # a directory entry: 46 bytes, the name, extras (zip64: 32)
_CHUNK = 1 << 20  # bytes per read when filling an array

# dtype.str of the arrays a model file may hold: floats for data, bytes for the JSON header
FLOAT_DTYPES = ("<f4", "<f8")
BYTES_DTYPE = "|u1"

# what may appear in a .npy header: no minus sign, no operators, no strings beyond the keys
_NPY_HEADER_CHARS = re.compile(r"[A-Za-z0-9_'<>|:,(){} \n]*\Z")
# errors the zip and npy readers raise on malformed input
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
                struct.error, OverflowError, NotImplementedError, zlib.error, RuntimeError,
                IndexError, KeyError)


class Member:
    """One ``.npy`` member as its header declares it (nothing of its data read)."""

    def __init__(self, name, info, dtype, shape, fortran_order, offset):
        self.name, self.info, self.dtype, self.shape = name, info, dtype, shape
        self.fortran_order, self.offset = fortran_order, offset

    @property
    def nbytes(self):
        return self.dtype.itemsize * _product(self.shape)


class Archive:
    """A model file opened for reading: ``members`` maps each array name to its :class:`Member`.

    ``allowed(name)`` says whether an array name may appear (``name.npy`` in the zip);
    ``dtypes(name)`` gives the ``dtype.str`` values allowed for it.
    """

    def __init__(self, path, allowed, dtypes):
        self.path = path
        try:
            self._fh = open(path, "rb")
        except OSError as exc:
            raise self.error(f"cannot be opened ({exc.strerror or exc})",
                             "check that the path names a file you may read") from exc
        try:
            self.size = os.fstat(self._fh.fileno()).st_size
            self._guard(self._check_magic, "its start cannot be read")
            self._guard(self._check_directory_size, "its zip directory cannot be read")
            self.zip = self._guard(lambda: zipfile.ZipFile(self._fh), "its zip directory is broken")
            self.members = self._members(allowed, dtypes)
        except BaseException:
            self.close()
            raise

    # -- context manager ------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        zf = getattr(self, "zip", None)
        if zf is not None:
            zf.close()
        self._fh.close()

    # -- errors -----------------------------------------------------------------------
    def error(self, what, fix="the file is damaged or was not written by nlayer; save the model "
                              "again or use another copy"):
        return ModelFileError(f"{self.path}: {what}; {fix}")

    def _guard(self, fn, what):
        try:
            return fn()
        except ModelFileError:
            raise
        except _READ_ERRORS as exc:
            raise self.error(f"not a readable nlayer model file: {what} ({type(exc).__name__}: "
                             f"{_short(exc)})") from exc

    # -- step 1: the directory and the .npy headers ------------------------------------
    def _check_magic(self):
        start = self._fh.read(8)
        self._fh.seek(0)
        if start.startswith(b"\x93NUMPY"):
            raise self.error("not an nlayer model file: it is a single NumPy .npy array, "
                             "not the zip archive nlayer.save writes",
                             "load it with numpy.load, or save the model with nlayer.save")
        if not start.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            raise self.error("not an nlayer model file: it is not a zip archive "
                             f"(it starts with {start[:4]!r})",
                             "give the path of a file written by model.save or nlayer train")

    def _check_directory_size(self):
        """Refuse a central directory too large for MAX_MEMBERS entries before zipfile parses it
        (zipfile makes an object per entry, several times the bytes of the entry)."""
        tail_len = min(self.size, 22 + 65535)
        self._fh.seek(self.size - tail_len)
        tail = self._fh.read(tail_len)
        self._fh.seek(0)
        # as zipfile looks for it: the end record without a comment first, then the last one
        at = len(tail) - 22 if tail[-22:-18] == b"PK\x05\x06" else tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return  # zipfile reports the missing end record
        n_entries, directory = struct.unpack("<HL", tail[at + 10:at + 16])
        zip64 = self._zip64_directory(self.size - len(tail) + at)
        if zip64 is not None:  # zipfile takes these over the plain record's numbers
            n_entries, directory = max(n_entries, zip64[0]), max(directory, zip64[1])
        if n_entries > MAX_MEMBERS or directory > MAX_MEMBERS * _MAX_ENTRY_BYTES:
            raise self.error(f"its zip directory declares {n_entries:,} members in "
                             f"{directory:,} bytes, more than a model file can have")

    def _zip64_directory(self, end_record):
        """(entries, directory bytes) of the zip64 end record that zipfile would read (the one
        just before the zip64 locator, which sits just before the end record), or None."""
        record = end_record - 20 - 56  # the locator is the 20 bytes before the end record
        if record < 0:
            return None
        self._fh.seek(record)
        data = self._fh.read(56 + 20)
        self._fh.seek(0)
        if data[56:60] != b"PK\x06\x07" or data[:4] != b"PK\x06\x06":
            return None
        return struct.unpack("<QQ", data[32:48])

    def _members(self, allowed, dtypes):
        infos = self.zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise self.error(f"the archive has {len(infos)} members, more than the "
                             f"{MAX_MEMBERS} a model file can have")
        names, packed, unpacked = set(), 0, 0
        for info in infos:
            name = _array_name(info.filename)
            if name is None or not allowed(name):
                raise self.error(f"unexpected member {info.filename[:80]!r} in the archive "
                                 "(a model file holds only nlayer's own arrays)")
            if name in names:
                raise self.error(f"the member {info.filename!r} appears twice in the archive")
            names.add(name)
            self._check_entry(info)
            packed += info.compress_size
            unpacked += info.file_size
        if packed > self.size:
            raise self.error(f"the members declare {packed:,} bytes in all but the file has "
                             f"{self.size:,}; it is truncated or its directory lies")
        if unpacked > MAX_TOTAL_BYTES:
            raise self.error(f"the members declare {unpacked:,} bytes of data in all, more than "
                             f"the {MAX_TOTAL_BYTES:,} a model file may hold")
        members = {}
        for info in infos:
            name = _array_name(info.filename)
            members[name] = self._guard(lambda: self._npy_header(name, info, dtypes(name)),
                                        f"member {name!r} is broken")
        return members

    def _check_entry(self, info):
        what = f"member {info.filename!r}"
        if info.flag_bits & 0x1 or info.flag_bits & 0x40:
            raise self.error(f"{what} is encrypted; nlayer never writes encrypted files")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self.error(f"{what} uses zip compression method {info.compress_type}; a model "
                             "file may only hold stored or deflated members",
                             "re-create the archive with numpy.savez or nlayer.save")
        if info.compress_size > self.size or info.header_offset > self.size:
            raise self.error(f"{what} declares {info.compress_size:,} bytes at offset "
                             f"{info.header_offset:,} in a file of {self.size:,} bytes; "
                             "it is truncated or its directory lies")
        ratio = 1 if info.compress_type == zipfile.ZIP_STORED else DEFLATE_MAX_RATIO
        if info.file_size > ratio * info.compress_size + 64:
            raise self.error(f"{what} declares {info.file_size:,} bytes of data from "
                             f"{info.compress_size:,} stored bytes, more than "
                             f"{'storing' if ratio == 1 else 'deflate'} can produce (a zip bomb "
                             "or a damaged directory)")

    def _npy_header(self, name, info, allowed_dtypes):
        with self.zip.open(info) as fp:
            start = _read_exactly(fp, 10, self, name)
            version = (start[6], start[7])
            if start[:6] != b"\x93NUMPY" or version not in ((1, 0), (2, 0)):
                raise self.error(f"member {name!r} is not a .npy array of format 1.0 or 2.0")
            if version == (1, 0):
                length, prefix = struct.unpack("<H", start[8:10])[0], start
            else:
                prefix = start + _read_exactly(fp, 2, self, name)
                length = struct.unpack("<I", prefix[8:12])[0]
            if length > MAX_NPY_HEADER:
                raise self.error(f"member {name!r} has a .npy header of {length:,} bytes (at "
                                 f"most {MAX_NPY_HEADER} are allowed)")
            text = _read_exactly(fp, length, self, name)
        shape, fortran_order, dtype = _parse_npy_header(prefix + text, version)
        if dtype.str not in allowed_dtypes:
            kind = "Python objects (pickled data, never loaded)" if dtype.hasobject else dtype.str
            raise self.error(f"member {name!r} holds {kind}; allowed here: "
                             f"{', '.join(_dtype_names(allowed_dtypes))}")
        member = Member(name, info, dtype, shape, fortran_order, len(prefix) + length)
        if member.offset + member.nbytes != info.file_size:
            raise self.error(f"member {name!r} declares an array of shape {shape} "
                             f"({member.nbytes:,} bytes) but holds "
                             f"{info.file_size - member.offset:,} bytes of data")
        return member

    # -- step 2: the data ---------------------------------------------------------------
    def read(self, name):
        """The array ``name``, read into a new array of its declared shape and dtype."""
        member = self.members[name]
        return self._guard(lambda: self._read_data(member), f"member {name!r} is broken")

    def _read_data(self, member):
        shape = member.shape[::-1] if member.fortran_order else member.shape
        try:
            out = np.empty(shape, dtype=member.dtype)
        except MemoryError:
            raise self.error(f"array {member.name!r} needs {member.nbytes:,} bytes and this "
                             "process cannot allocate them",
                             "free memory or load the model on a larger machine") from None
        flat = out.reshape(-1).view(np.uint8)
        with self.zip.open(member.info) as fp:
            _read_exactly(fp, member.offset, self, member.name)
            pos = 0
            while pos < flat.size:
                chunk = fp.read(min(_CHUNK, flat.size - pos))
                if not chunk:
                    raise self.error(f"member {member.name!r} ends after {pos:,} of its "
                                     f"{flat.size:,} bytes of data")
                flat[pos:pos + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                pos += len(chunk)
            if fp.read(1):  # also makes zipfile check the CRC of the whole member
                raise self.error(f"member {member.name!r} holds more data than its header says")
        return np.ascontiguousarray(out.T) if member.fortran_order else out


@functools.lru_cache(maxsize=256)
def _parse_npy_header(raw, version):
    """(shape, fortran_order, dtype) from a whole ``.npy`` preamble, with NumPy's parser.

    The text is first held to the characters NumPy writes, so the parser never meets
    deep nesting, operators or long literals. Cached: a deep model's arrays share a
    few headers.
    """
    text = raw[12 if version == (2, 0) else 10:].decode("latin1")
    if not _NPY_HEADER_CHARS.match(text) or text.count("(") > 1 or \
            text.count("(") != text.count(")") or text.count("{") != 1 or text.count("}") != 1:
        raise ValueError(f"unexpected .npy header text {text[:60]!r}")
    fp = io.BytesIO(raw)
    npy_format.read_magic(fp)
    reader = npy_format.read_array_header_1_0 if version == (1, 0) else \
        npy_format.read_array_header_2_0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            shape, fortran_order, dtype = reader(fp, max_header_size=MAX_NPY_HEADER)
        except (TypeError, SyntaxError, tokenize.TokenError) as exc:  # e.g. a bytes key: b'shape'
            raise ValueError(f"cannot parse the .npy header {text.strip()[:80]!r} "
                             f"({type(exc).__name__}: {exc})") from exc
    if any(d < 0 for d in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    return tuple(int(d) for d in shape), bool(fortran_order), dtype


def _read_exactly(fp, n, archive, name):
    data = fp.read(n)
    if len(data) != n:
        raise archive.error(f"member {name!r} ends early ({len(data)} of {n} bytes)")
    return data


def _array_name(filename):
    return filename[:-4] if filename.endswith(".npy") and len(filename) <= 200 else None


def _product(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _dtype_names(dtype_strs):
    return [np.dtype(s).name for s in dtype_strs]


def _short(exc):
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "..."
