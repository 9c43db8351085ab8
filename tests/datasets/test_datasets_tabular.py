"""Digits, the stratified split, CSV loading/encoding and the CSV schema."""

import json
import sys

import numpy as np
import pytest

from nlayer.datasets import (
    DATASETS, CsvSchema, DatasetError, encode_csv_rows, load_csv, load_dataset,
)
from nlayer.datasets.tabular import split_indices

# ------------------------------------------------------------------ digits


@pytest.fixture
def digits():
    pytest.importorskip("sklearn", reason="scikit-learn is needed for the digits dataset")
    return load_dataset("digits", test_size=0.2, seed=0)


def test_digits_shapes_and_scaling(digits):
    assert DATASETS == ("digits", "mnist", "fashion-mnist")
    assert digits.X_train.shape == (1437, 64) and digits.X_test.shape == (360, 64)
    assert digits.X_train.dtype == np.float32 and digits.y_train.dtype == np.int64
    assert digits.X_train.min() == 0.0 and digits.X_train.max() == 1.0
    assert digits.pixel_scale == 16.0
    assert digits.class_names == [str(d) for d in range(10)]
    assert digits.task == "classification" and len(digits.feature_names) == 64
    assert digits.n_features == 64 and digits.n_classes == 10


def test_digits_split_is_stratified(digits):
    train = np.bincount(digits.y_train, minlength=10)
    test = np.bincount(digits.y_test, minlength=10)
    total = train + test
    assert total.sum() == 1797
    assert np.all(np.abs(test - 0.2 * total) <= 1)


def test_digits_split_is_seeded(digits):
    again = load_dataset("digits", seed=0)
    other = load_dataset("digits", seed=1)
    np.testing.assert_array_equal(digits.X_test, again.X_test)
    assert not np.array_equal(digits.X_test, other.X_test)


def test_digits_without_sklearn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "nlayer\[cli\]"'):
        load_dataset("digits")


def test_unknown_dataset_lists_names_and_csv():
    with pytest.raises(DatasetError) as info:
        load_dataset("cifar")
    for word in ("digits", "mnist", "fashion-mnist", "--csv"):
        assert word in str(info.value)


# ------------------------------------------------------------------ split


def test_split_partitions_rows():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    train, test = split_indices(y, test_size=0.25, seed=3)
    assert len(test) == 25 and len(train) == 75
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    assert np.bincount(y[test]).tolist() in ([12, 8, 5], [13, 7, 5], [12, 7, 6], [13, 8, 4])


def test_split_keeps_a_training_row_of_every_class():
    y = np.array([0] * 10 + [1])
    train, test = split_indices(y, test_size=0.5, seed=0)
    assert 1 in y[train]


def test_split_unstratified_and_bad_sizes():
    train, test = split_indices(np.zeros(10), test_size=0.3, seed=0, stratify=False)
    assert len(train) == 7 and len(test) == 3
    assert len(split_indices(np.zeros(10), test_size=0.0)[1]) == 0
    for bad in (1.0, -0.1):
        with pytest.raises(DatasetError, match="test_size"):
            split_indices(np.zeros(10), test_size=bad)


# ------------------------------------------------------------------ CSV loading


def write_csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


FRUIT = """size,color,weight,label
1.0,red,10,apple
2.0,green,12,pear
3.5,red,11,apple
0.5,blue,9,plum
2.5,green,14,pear
1.5,blue,8,plum
"""


def all_rows(ds):
    """X rows and labels of both parts, sorted, to compare independent of the split."""
    X = np.vstack([ds.X_train, ds.X_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    order = np.lexsort(X.T[::-1])
    return X[order], y[order]


def test_csv_classification_with_categorical_feature(tmp_path):
    ds = load_csv(write_csv(tmp_path, FRUIT), target="label", test_size=0.5, seed=0)
    assert ds.task == "classification"
    assert ds.feature_names == ["size", "color=blue", "color=green", "color=red", "weight"]
    assert ds.class_names == ["apple", "pear", "plum"]
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert len(ds.y_train) == 3 and sorted(ds.y_test.tolist()) == [0, 1, 2]
    X, y = all_rows(ds)
    np.testing.assert_array_equal(X[0], [0.5, 1, 0, 0, 9])
    np.testing.assert_array_equal(y, [2, 0, 2, 1, 1, 0])
    assert ds.schema.kinds == {"size": "numeric", "color": "categorical", "weight": "numeric"}
    assert ds.schema.categories == {"color": ["blue", "green", "red"]}
    assert ds.source.endswith("data.csv") and ds.name == "data"


def test_integer_target_is_classification_sorted_numerically(tmp_path):
    text = "x,y\n" + "".join(f"{i},{[10, 2, 1][i % 3]}\n" for i in range(9))
    ds = load_csv(write_csv(tmp_path, text), target="y")
    assert ds.task == "classification"
    assert ds.class_names == ["1", "2", "10"]


def test_float_target_is_regression(tmp_path):
    text = "a,b,price\n" + "".join(f"{i},{i % 2},{i * 1.5 + 0.25}\n" for i in range(10))
    ds = load_csv(write_csv(tmp_path, text), target="price", test_size=0.2, seed=1)
    assert ds.task == "regression" and ds.class_names is None
    assert ds.y_train.dtype == np.float32 and ds.y_train.ndim == 1
    assert len(ds.y_test) == 2
    assert sorted(np.concatenate([ds.y_train, ds.y_test]).tolist()) == [i * 1.5 + 0.25 for i in range(10)]


def test_many_integer_values_are_regression(tmp_path):
    text = "x,y\n" + "".join(f"{i},{i}\n" for i in range(30))
    assert load_csv(write_csv(tmp_path, text), target="y").task == "regression"


def test_task_override(tmp_path):
    path = write_csv(tmp_path, "x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(12)))
    ds = load_csv(path, target="y", task="regression")
    assert ds.task == "regression" and ds.y_train.dtype == np.float32
    with pytest.raises(DatasetError, match="numeric target"):
        load_csv(write_csv(tmp_path, FRUIT, "f.csv"), target="label", task="regression")
    with pytest.raises(DatasetError, match="task must be"):
        load_csv(path, target="y", task="clustering")


@pytest.mark.parametrize("missing", ["", "NA", "nan", "NULL"])
def test_missing_value_names_row_and_column(tmp_path, missing):
    text = FRUIT.replace("3.5,red,11,apple", f"3.5,{missing},11,apple")
    with pytest.raises(DatasetError) as info:
        load_csv(write_csv(tmp_path, text), target="label")
    message = str(info.value)
    assert "line 4" in message and "'color'" in message and "dropna=True" in message
    assert "--dropna" in message


def test_dropna_drops_rows(tmp_path):
    text = FRUIT.replace("3.5,red,11,apple", "3.5,,11,apple").replace("0.5,blue,9,plum", "0.5,blue,9,NA")
    ds = load_csv(write_csv(tmp_path, text), target="label", dropna=True, test_size=0.25)
    assert len(ds.y_train) + len(ds.y_test) == 4


def test_unknown_target_lists_columns(tmp_path):
    with pytest.raises(DatasetError) as info:
        load_csv(write_csv(tmp_path, FRUIT), target="kind")
    assert "'kind'" in str(info.value)
    assert "['size', 'color', 'weight', 'label']" in str(info.value)


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    ("a,b,c\n", "no data rows"),
    ("a,b,c\n1,2,3\n4,5\n", "line 3 has 2 fields"),
    ("a,a,c\n1,2,3\n", "duplicate"),
])
def test_malformed_csv(tmp_path, text, fragment):
    path = write_csv(tmp_path, text)
    with pytest.raises(DatasetError) as info:
        load_csv(path, target="c")
    assert fragment in str(info.value) and str(path) in str(info.value)


# ------------------------------------------------------------------ schema and encoding


@pytest.fixture
def fruit(tmp_path):
    return load_csv(write_csv(tmp_path, FRUIT), target="label", test_size=0.5)


def test_schema_json_round_trip(fruit):
    text = json.dumps(fruit.schema.to_dict())
    schema = CsvSchema.from_dict(json.loads(text))
    assert schema == fruit.schema
    assert schema.feature_names == fruit.feature_names


def test_schema_from_bad_dict():
    with pytest.raises(DatasetError, match="invalid CSV schema"):
        CsvSchema.from_dict({"target": "y"})
    with pytest.raises(DatasetError, match="kind"):
        CsvSchema.from_dict({"target": "y", "task": "regression", "columns": ["a"], "kinds": {"a": "?"}})


def test_encode_new_file_reproduces_encoding(fruit, tmp_path):
    schema = CsvSchema.from_dict(json.loads(json.dumps(fruit.schema.to_dict())))
    X, y, kept = encode_csv_rows(tmp_path / "data.csv", schema, require_target=True)
    X_sorted, y_sorted = all_rows(fruit)
    order = np.lexsort(X.T[::-1])
    np.testing.assert_array_equal(X[order], X_sorted)
    np.testing.assert_array_equal(y[order], y_sorted)
    assert kept.tolist() == list(range(6))
    # columns reordered, target absent, an extra column: same features
    new = write_csv(tmp_path, "note,weight,color,size\nx,12,green,2.0\ny,9,blue,0.5\n", "new.csv")
    X2, y2, kept2 = encode_csv_rows(new, schema)
    np.testing.assert_array_equal(X2, [[2.0, 0, 1, 0, 12], [0.5, 1, 0, 0, 9]])
    assert y2 is None and kept2.tolist() == [0, 1]


def test_encode_rows_lists_and_dicts(fruit):
    rows = [["size", "color", "weight", "label"], ["1", "red", "10", "plum"]]
    X, y, _ = encode_csv_rows(rows, fruit.schema)
    np.testing.assert_array_equal(X, [[1, 0, 0, 1, 10]])
    assert y.tolist() == [2]
    X, y, _ = encode_csv_rows([{"size": 2, "color": "blue", "weight": 3.5}], fruit.schema)
    np.testing.assert_array_equal(X, [[2, 1, 0, 0, 3.5]])
    assert y is None


def test_encode_missing_column(fruit):
    with pytest.raises(DatasetError) as info:
        encode_csv_rows([["size", "label"], ["1", "apple"]], fruit.schema)
    message = str(info.value)
    assert "['color', 'weight']" in message and "['size', 'color', 'weight']" in message


def test_encode_unknown_category(fruit):
    with pytest.raises(DatasetError) as info:
        encode_csv_rows([["size", "color", "weight"], ["1", "purple", "3"]], fruit.schema)
    message = str(info.value)
    assert "'color'" in message and "'purple'" in message and "['blue', 'green', 'red']" in message


def test_encode_target_rules(fruit):
    header = ["size", "color", "weight", "label"]
    with pytest.raises(DatasetError, match="target column 'label' not found"):
        encode_csv_rows([header[:3], ["1", "red", "2"]], fruit.schema, require_target=True)
    with pytest.raises(DatasetError, match="unknown class 'kiwi'"):
        encode_csv_rows([header, ["1", "red", "2", "kiwi"]], fruit.schema)
    rows = [header, ["1", "red", "2", ""], ["2", "blue", "NA", "plum"], ["3", "green", "4", "pear"]]
    X, y, kept = encode_csv_rows(rows, fruit.schema, dropna=True)
    assert kept.tolist() == [0, 2] and y is None  # unlabeled row kept, target ignored
    X, y, kept = encode_csv_rows(rows, fruit.schema, dropna=True, require_target=True)
    assert kept.tolist() == [2] and y.tolist() == [1]
    with pytest.raises(DatasetError, match="line 3, column 'weight'"):
        encode_csv_rows(rows, fruit.schema)


def test_numeric_class_labels_match_by_value(tmp_path):
    ds = load_csv(write_csv(tmp_path, "x,y\n1,0\n2,1\n3,0\n4,1\n"), target="y", test_size=0.5)
    _, y, _ = encode_csv_rows([["x", "y"], ["5", "1.0"], ["6", "0"]], ds.schema)
    assert y.tolist() == [1, 0]
