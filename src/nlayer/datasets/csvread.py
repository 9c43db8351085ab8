"""Reading CSV text into a table: compression, delimiter and header decided from the content.

- A gzip file (by its first bytes, whatever its name) is read through ``gzip``; other
  archives (zip, bzip2, xz) get an error saying what they are and to extract them.
- The delimiter is the one of ``,`` ``;`` tab ``|`` that the first line holds most
  often (comma when none occurs or on a tie), or the one passed in.
- A first line made only of numbers is data, not a header: the caller says what the
  columns are called for a given field count (``names``), or the file is refused
  with the reason. No row is ever dropped to serve as a header.

Every message names the file and counts **lines of the file** (line 1 is the first
line; with a header it is the header, so the first data row is line 2).
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import stat
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TextIO

from .idx import DatasetError, DatasetNotFoundError

__all__ = ["Table", "read_table", "iter_tables", "rows_to_table", "to_float", "is_missing",
           "DELIMITERS", "CHUNK_CELLS"]

DELIMITERS = (",", ";", "\t", "|")
_MISSING = frozenset({"", "na", "n/a", "nan", "null", "?"})
_ARCHIVES = {b"PK\x03\x04": "a zip archive", b"BZh": "bzip2-compressed",
             b"\xfd7zXZ\x00": "xz-compressed", b"\x28\xb5\x2f\xfd": "zstd-compressed"}
#: About how many cells a chunk of :func:`iter_tables` holds (a few MB of strings; smaller
#: chunks were as fast when measured: see docs/guide/big-data.md).
CHUNK_CELLS = 1 << 16


class Table:
    """A CSV file's header, its data rows (lists of strings), the file line of each row and
    the file's name (for messages)."""

    __slots__ = ("header", "rows", "lines", "source", "_positions")

    def __init__(self, header: list[str], rows: list[list[str]], lines: list[int], source: str):
        self.header, self.rows, self.lines, self.source = header, rows, lines, source
        self._positions: dict[str, int] | None = None

    def column(self, name: str) -> list[str]:
        if self._positions is None:  # built once: a wide file's columns are read one by one
            self._positions = {n: j for j, n in enumerate(self.header)}
        j = self._positions[name]
        return [row[j] for row in self.rows]

    def subset(self, keep: list[int]) -> Table:
        return Table(self.header, [self.rows[i] for i in keep],
                     [self.lines[i] for i in keep], self.source)

    def renamed(self, header: list[str]) -> Table:
        return Table(list(header), self.rows, self.lines, self.source)


def is_missing(value: str) -> bool:
    return value.lower() in _MISSING


def to_float(value: str) -> float | None:
    """float(value) if it is a finite number, else None."""
    try:
        x = float(value)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _open_text(path: Path) -> TextIO:
    """A text stream of the file, through gzip when its first bytes say so."""
    refuse_special_file(path, "a CSV file")
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise DatasetError(f"{path}: the file is UTF-16 text; save it as UTF-8 CSV (in a "
                           "spreadsheet: CSV UTF-8)")
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    for prefix, kind in _ARCHIVES.items():
        if magic.startswith(prefix):
            raise DatasetError(f"{path}: the file is {kind}, not CSV text; extract it first "
                               "(gzip files are read directly)")
    return open(path, newline="", encoding="utf-8-sig")


def sniff_delimiter(first_line: str) -> str:
    """The candidate delimiter the first line holds most often; comma when none or tied."""
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first on ties: comma
    return best if counts[best] > counts[","] else ","


def read_table(path: str | os.PathLike, names: Callable[[int], list[str] | None] | None = None,
               delimiter: str | None = None) -> Table:
    """The CSV at *path* as a :class:`Table` (see the module docstring).

    ``names(n_fields)`` gives the column names of a headerless file with that many
    fields, or None when such a file cannot be read without a header.
    """
    return next(iter_tables(path, names, delimiter, max_cells=math.inf))


def iter_tables(path: str | os.PathLike, names: Callable[[int], list[str] | None] | None = None,
                delimiter: str | None = None, max_cells: float | None = None
                ) -> Iterator[Table]:
    """The CSV at *path* as :class:`Table` chunks of whole rows, each with the file's
    header and at most about ``max_cells`` cells (default :data:`CHUNK_CELLS`): what
    :func:`read_table` reads, a chunk at a time, so a file of any size is read in bounded
    memory. Problems are found as the rows are read, and named by their file line."""
    path = Path(path)
    if delimiter is not None and delimiter not in DELIMITERS:
        raise DatasetError(f"delimiter must be one of {DELIMITERS!r}, got {delimiter!r}")
    try:
        with _open_text(path) as f:
            first = f.readline()
            f.seek(0)
            chosen = delimiter or sniff_delimiter(first)
            records = _records(csv.reader(f, delimiter=chosen), path)
            start = next(records, None)
            if start is None:
                raise DatasetError(f"{path}: CSV is empty (a header row is required)")
            header, data = _header(start, str(path), names)
            chunk: list[tuple[int, list[str]]] = [start] if data else []
            limit = CHUNK_CELLS if max_cells is None else max_cells
            rows_per_chunk = max(1, limit // len(header)) if math.isfinite(limit) else limit
            yielded = False
            for record in records:
                chunk.append(record)
                if len(chunk) >= rows_per_chunk:
                    yield _rows_table(chunk, header, str(path), chosen)
                    chunk, yielded = [], True
            if chunk:
                yield _rows_table(chunk, header, str(path), chosen)
            elif not yielded:
                raise DatasetError(f"{path}: CSV has a header row but no data rows")
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{path}: CSV file not found") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a directory, not a CSV file") from None
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text (a binary or compressed file?); save the "
                           "table as UTF-8 CSV") from None
    except (csv.Error, OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot parse CSV: {exc}") from None


def refuse_special_file(path: str | os.PathLike[str], kind: str) -> None:
    """The error naming what ``path`` is when it is no regular file (see
    :func:`not_a_regular_file`); ``kind`` is what it should be ("a CSV file")."""
    problem = not_a_regular_file(path)
    if problem:
        raise DatasetError(f"{path}: {problem}, not {kind}; give the path of a file")


def not_a_regular_file(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` is when it exists but is no regular file (a FIFO, a device, ...): read,
    it could block forever or never end. None for a regular file or a missing path."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    for test, kind in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return f"is {kind}"
    return None


def _records(reader: Any, path: str | os.PathLike[str]  # a csv.reader (its class is private)
             ) -> Iterator[tuple[int, list[str]]]:
    """(last line, fields) of each non-empty record, as they are read; a quoted field that
    runs over lines (an unbalanced quote, most likely) is refused at the line where it
    starts."""
    start = 1
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "unexpected end of data" in str(exc) or "EOF" in str(exc):
                raise DatasetError(f"{path}: line {start}: a quote opened on this line is never "
                                   "closed; balance the quotes (a quote in a field is "
                                   'written "")') from None
            raise
        if reader.line_num > start and any("\n" in v or "\r" in v for v in rec):
            raise DatasetError(f"{path}: line {start}: a quoted field runs on to line "
                               f"{reader.line_num} (an unbalanced quote?); balance the quotes "
                               '(a quote in a field is written "")')
        if rec:
            yield reader.line_num, rec
        start = reader.line_num + 1


def rows_to_table(rows: Iterable) -> Table:
    """A list of rows whose first row is the header, or a list of dicts, as a Table."""
    rows = list(rows)
    if rows and isinstance(rows[0], Mapping):
        header = [str(k) for k in rows[0].keys()]
        rows = [header] + [[r.get(h) for h in header] for r in rows]
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    if not rows:
        raise DatasetError("<rows>: CSV is empty (a header row is required)")
    header, data = _header((1, rows[0]), "<rows>")
    records = list(enumerate(rows, start=1))[0 if data else 1:]
    if not records:
        raise DatasetError("<rows>: CSV has a header row but no data rows")
    return _rows_table(records, header, "<rows>")


def _headerless(first: list[str]) -> bool:
    return bool(first) and all(to_float(v.strip()) is not None for v in first)


def _header(first: tuple[int, list[str]], source: str,
            names: Callable[[int], list[str] | None] | None = None) -> tuple[list[str], bool]:
    """(header, whether the first record is data): the first record is the header unless
    it holds only numbers; then ``names`` gives the header, or the file is refused."""
    line, record = first
    data = _headerless(record)
    if data:
        header = names(len(record)) if names is not None else None
        if header is None:
            raise DatasetError(
                f"{source}: line {line} holds only numbers, so the file has no header row "
                f"(its {len(record)} fields are data); add a first line naming the columns")
    else:
        header = [h.strip() for h in record]
    if "" in header:
        raise DatasetError(f"{source}: header column {header.index('') + 1} has no name")
    dupes = sorted(h for h, n in Counter(header).items() if n > 1)
    if dupes:
        raise DatasetError(f"{source}: duplicate column names in header: {dupes}")
    return list(header), data


def _rows_table(records: list[tuple[int, list[str]]], header: list[str], source: str,
                delimiter: str = ",") -> Table:
    """The records (line, fields) under ``header``: row lengths validated, whitespace
    stripped from every cell."""
    rows, lines = [], []
    for line, rec in records:
        if len(rec) != len(header):
            hint = ""
            if len(header) == 1 or len(rec) == 1:
                others = [d for d in DELIMITERS if d != delimiter]
                hint = (f" (the delimiter was taken to be {delimiter!r}; is it one of "
                        f"{' '.join(repr(d) for d in others)}?)")
            raise DatasetError(f"{source}: line {line} has {len(rec)} fields but the header has "
                               f"{len(header)}{hint}")
        rows.append([v.strip() for v in rec])
        lines.append(line)
    return Table(list(header), rows, lines, source)
