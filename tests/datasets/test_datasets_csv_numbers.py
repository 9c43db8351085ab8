"""CSV cells that are numbers written another way are refused with the line, the column and
the fix, instead of turning a numeric column into one-hot categories or class names."""

import csv

import numpy as np
import pytest

from nlayer.datasets import DatasetError, load_csv
from nlayer.datasets.tabular import split_indices


def write(tmp_path, a_cells=None, y_cells=None, n=40, name="d.csv"):
    """Columns a (numeric), colour (categorical), y (0/1); cells replaced where given."""
    rng = np.random.default_rng(0)
    path = tmp_path / name
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["a", "colour", "y"])
        for i in range(n):
            a = (a_cells or {}).get(i, f"{rng.normal():.3f}")
            y = (y_cells or {}).get(i, str(i % 2))
            writer.writerow([a, ["red", "blue"][i % 2], y])
    return path


@pytest.mark.parametrize("cell, words", [
    ("inf", "'inf' is not a finite number"),
    ("-Infinity", "'-Infinity' is not a finite number"),
    ("1,5", "'1,5' has a comma in a number (decimal comma or thousands separator)"),
    ("1,234.5", "'1,234.5' has a comma in a number"),
    ("-", "'-' looks like a missing-value marker; leave the cell empty"),
    ("1\x002", ".* holds a NUL byte"),
])
def test_a_misspelt_number_in_a_numeric_column_is_named(tmp_path, cell, words):
    with pytest.raises(DatasetError, match="line 5, column 'a': " + words.replace("(", r"\(")
                       .replace(")", r"\)")):
        load_csv(write(tmp_path, a_cells={3: cell}), target="y")


def test_the_count_of_such_cells_is_given(tmp_path):
    with pytest.raises(DatasetError, match=r"\(and 2 more such cells\)"):
        load_csv(write(tmp_path, a_cells={3: "1,5", 4: "2,5", 9: "inf"}), target="y")


@pytest.mark.parametrize("marker", ["?", "N/A"])
def test_question_marks_and_n_a_are_missing_values(tmp_path, marker):
    path = write(tmp_path, a_cells={3: marker})
    with pytest.raises(DatasetError, match="missing value on line 5, column 'a'.*--dropna"):
        load_csv(path, target="y")
    data = load_csv(path, target="y", dropna=True, test_size=0.25)
    assert len(data.y_train) + len(data.y_test) == 39 and data.n_features == 3


def test_a_real_categorical_column_keeps_a_dash_category(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("size,kind,y\n" + "".join(f"{i},{['a', 'b', '-'][i % 3]},{i % 2}\n"
                                             for i in range(30)))
    data = load_csv(path, target="y")
    assert data.n_features == 1 + 3  # size, and kind one-hot over '-', 'a', 'b'


@pytest.mark.parametrize("column, cells", [("a", {"a_cells": {6: "1e39"}}),
                                           ("y", {"y_cells": {6: "-1e39"}})])
def test_values_beyond_float32_are_named(tmp_path, column, cells):
    path = write(tmp_path, **cells)
    task = "regression" if column == "y" else "auto"
    with pytest.raises(DatasetError, match=f"line 8, column '{column}': .*1e\\+?39 is beyond "
                                           "float32's range"):
        load_csv(path, target="y", task=task)


def test_infinite_target_is_named_not_a_split_problem(tmp_path):
    with pytest.raises(DatasetError, match="line 8, column 'y': '-inf' is not a finite number"):
        load_csv(write(tmp_path, y_cells={6: "-inf"}), target="y")


def test_a_fractional_target_is_not_a_set_of_classes(tmp_path):
    rng = np.random.default_rng(1)
    path = write(tmp_path, y_cells={i: f"{rng.normal():.3f}" for i in range(40)})
    with pytest.raises(DatasetError, match="40 distinct numbers with fractions: those are "
                                           "values, not classes; use task='regression'"):
        load_csv(path, target="y", task="classification")
    assert load_csv(path, target="y").task == "regression"
    whole = write(tmp_path, y_cells={i: f"{i % 3}.0" for i in range(40)}, name="w.csv")
    assert load_csv(whole, target="y", task="classification").class_names == ["0.0", "1.0", "2.0"]


def test_a_split_by_class_that_sets_nothing_aside_says_why():
    with pytest.raises(DatasetError, match="split by class, sets no row aside.*regression target"):
        split_indices(np.arange(30), test_size=0.2)
