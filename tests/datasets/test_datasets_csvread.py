"""nlayer.datasets.csvread: compression, delimiter and header decided from the file's content."""

import bz2
import gzip
import zipfile

import numpy as np
import pytest

from nlayer.datasets import CsvSchema, DatasetError, encode_csv_rows, load_csv
from nlayer.datasets.csvread import read_table, sniff_delimiter

TABLE = "a,b,label\n" + "".join(f"{i},{i * 2},{'xy'[i % 2]}\n" for i in range(10))


def test_gzip_is_read_by_its_content_whatever_the_name(tmp_path):
    for name in ("t.csv.gz", "t.csv"):
        path = tmp_path / name
        path.write_bytes(gzip.compress(TABLE.encode()))
        ds = load_csv(path, target="label", test_size=0.2)
        assert len(ds.y_train) + len(ds.y_test) == 10


@pytest.mark.parametrize("kind, compress, what", [
    ("zip", None, "a zip archive"), ("bz2", bz2.compress, "bzip2-compressed"),
])
def test_other_archives_are_named_not_decoded(tmp_path, kind, compress, what):
    path = tmp_path / f"t.{kind}"
    if compress is None:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("t.csv", TABLE)
    else:
        path.write_bytes(compress(TABLE.encode()))
    with pytest.raises(DatasetError, match=f"{path}: the file is {what}, not CSV text; "
                                           "extract it first"):
        load_csv(path, target="label")


def test_binary_file_is_named_as_not_utf8(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n\xff\xfe,1\n")
    with pytest.raises(DatasetError, match="not UTF-8 text"):
        load_csv(path, target="b")


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_sniffed_from_the_first_line(tmp_path, delimiter):
    path = tmp_path / "t.csv"
    path.write_text(TABLE.replace(",", delimiter))
    ds = load_csv(path, target="label", test_size=0.2)
    assert ds.feature_names == ["a", "b"] and len(ds.y_train) == 8


def test_sniffing_prefers_comma_and_counts_only_candidates():
    assert sniff_delimiter("a,b;c,d\n") == ","
    assert sniff_delimiter("a;b;c,d\n") == ";"
    assert sniff_delimiter("price\n") == ","
    assert sniff_delimiter("x\ty\tz\n") == "\t"


def test_a_wrong_field_count_hints_at_the_delimiter(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a:b:c\n1,2,3\n")
    with pytest.raises(DatasetError, match=r"line 2 has 3 fields but the header has 1 \(the "
                                           r"delimiter was taken to be ','; is it one of"):
        load_csv(path, target="a")


def test_a_headerless_file_of_numbers_is_never_read_as_a_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(DatasetError, match=r"line 1 holds only numbers, so the file has no "
                                           r"header row \(its 3 fields are data\)"):
        load_csv(path, target="c")
    table = read_table(path, names=lambda k: ["x", "y", "z"] if k == 3 else None)
    assert table.header == ["x", "y", "z"] and table.rows == [["1", "2", "3"], ["4", "5", "6"]]
    assert table.lines == [1, 2]  # file lines: the first data row is line 1 here


def test_encoding_with_a_schema_reads_a_headerless_file_in_schema_order(tmp_path):
    schema = CsvSchema(target="t", task="regression", columns=["a", "b"],
                       kinds={"a": "numeric", "b": "numeric"})
    path = tmp_path / "new.csv"
    path.write_text("1,2\n3,4\n5,6\n")
    X, y, kept = encode_csv_rows(path, schema)
    np.testing.assert_array_equal(X, [[1, 2], [3, 4], [5, 6]])
    assert y is None and kept.tolist() == [0, 1, 2]
    path.write_text("1,2,9\n")
    with pytest.raises(DatasetError, match="no header row"):
        encode_csv_rows(path, schema)


def test_messages_count_file_lines_with_blank_lines_kept_in_the_count(tmp_path):
    schema = CsvSchema(target="t", task="regression", columns=["a", "b"],
                       kinds={"a": "numeric", "b": "numeric"})
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n\n3,oops\n4,5\n")
    with pytest.raises(DatasetError, match=rf"{path}: line 4, column 'b': 'oops' is not a number"):
        encode_csv_rows(path, schema)


def test_a_target_with_one_class_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,label\n1,x\n2,x\n3,x\n")
    with pytest.raises(DatasetError, match=r"target column 'label' holds a single value \('x'\); "
                                           r"a classifier needs at least two classes"):
        load_csv(path, target="label")
