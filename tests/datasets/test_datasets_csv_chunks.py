"""CSV files read a chunk of rows at a time: the rows, lines and errors of a whole read."""

import gzip

import pytest

from nlayer.datasets import DatasetError
from nlayer.datasets.csvread import iter_tables, read_table


def _text(n=50):
    """Semicolons, and a blank line after every seventh row."""
    return "a;b;c\n" + "".join(f"{i};{i * 2};x{i % 3}\n" + "\n" * (i % 7 == 0) for i in range(n))


@pytest.mark.parametrize("max_cells", [1, 9, 30, 10**6])
def test_chunks_hold_the_rows_of_a_whole_read(tmp_path, max_cells):
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wt") as fh:  # compressed, another delimiter, blank lines
        fh.write(_text())
    whole = read_table(path)
    chunks = list(iter_tables(path, max_cells=max_cells))
    assert all(c.header == whole.header == ["a", "b", "c"] for c in chunks)
    assert [r for c in chunks for r in c.rows] == whole.rows
    assert [n for c in chunks for n in c.lines] == whole.lines
    per_chunk = max(1, max_cells // 3)
    assert all(len(c.rows) == per_chunk for c in chunks[:-1]) and 0 < len(chunks[-1].rows)


def test_a_headerless_file_keeps_its_first_row(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("1,2\n3,4\n5,6\n")
    chunks = list(iter_tables(path, names=lambda k: ["x", "y"] if k == 2 else None, max_cells=4))
    assert [c.rows for c in chunks] == [[["1", "2"], ["3", "4"]], [["5", "6"]]]
    assert [c.lines for c in chunks] == [[1, 2], [3]]


def test_errors_name_the_line_wherever_the_chunk(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n" + "1,2\n" * 40 + "1,2,3\n")
    chunks = iter_tables(path, max_cells=10)
    assert len(next(chunks).rows) == 5  # the first chunks come before the bad line is read
    with pytest.raises(DatasetError, match="line 42 has 3 fields but the header has 2"):
        list(chunks)
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b\n")
    with pytest.raises(DatasetError, match="header row but no data rows"):
        list(iter_tables(empty))
