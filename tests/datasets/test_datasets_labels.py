"""Targets given as arrays: the task, class names and ids, as for a CSV target."""

import numpy as np
import pytest

from nlayer.datasets import DatasetError
from nlayer.datasets.labels import encode_labels, encode_with_names


def test_few_integers_are_classes_sorted_numerically():
    y, task, names = encode_labels(np.array([10, 2, 2, 10, 33]), "auto", "y.npy")
    assert task == "classification" and names == ["2", "10", "33"]
    assert y.tolist() == [1, 0, 0, 1, 2] and y.dtype == np.int64


def test_text_labels_are_classes_and_fractions_are_values():
    y, task, names = encode_labels(np.array(["dog", "cat", "dog"]), "auto", "y.npy")
    assert (task, names, y.tolist()) == ("classification", ["cat", "dog"], [1, 0, 1])
    values = np.linspace(0, 1, 50)
    y, task, names = encode_labels(values, "auto", "y.npy")
    assert task == "regression" and names is None and y.dtype == np.float32
    assert np.array_equal(y, values.astype(np.float32))
    y, task, _ = encode_labels(np.array([0, 1, 1, 0]), "regression", "y.npy")
    assert task == "regression" and y.tolist() == [0, 1, 1, 0]


def test_two_d_targets_are_regression():
    y, task, names = encode_labels(np.ones((5, 3)), "auto", "y.npy")
    assert task == "regression" and y.shape == (5, 3) and names is None
    y, _, _ = encode_labels(np.array([[1], [2], [1]]), "auto", "y.npy")  # one column: 1-D
    assert y.shape == (3,)
    with pytest.raises(DatasetError, match="3 targets per row are regression targets"):
        encode_labels(np.ones((5, 3)), "classification", "y.npy")


@pytest.mark.parametrize("values, task, words", [
    (np.array([1.0, np.nan, 2.0]), "auto", "row 1 (counted from 0) holds nan"),
    (np.array([3, 3, 3]), "auto", "a single value ('3')"),
    (np.array(["a", "b"]), "regression", "needs a numeric target"),
    (np.linspace(0, 1, 30), "classification", "those are values, not classes"),
    (np.array([1 + 1j, 2]), "auto", "neither numbers nor text"),
    (np.array([1e39, 0.0]), "regression", "beyond float32's range"),
])
def test_bad_labels_are_named(values, task, words):
    with pytest.raises(DatasetError, match="y.npy") as info:
        encode_labels(values, task, "y.npy")
    assert words in str(info.value)


def test_new_labels_by_the_model_class_names():
    names = ["2", "10", "33"]
    assert encode_with_names(np.array([33, 2, 10.0]), names, "t.npy").tolist() == [2, 0, 1]
    assert encode_with_names(np.array(["10", "33"]), names, "t.npy").tolist() == [1, 2]
    assert encode_with_names(np.array(["cat", "dog"]), ["cat", "dog"], "t").tolist() == [0, 1]
    with pytest.raises(DatasetError, match=r"t\.npy: row 7 \(counted from 0\): unknown class "
                       r"'4'; known classes: \['2', '10', '33'\]"):
        encode_with_names(np.array([2, 4]), names, "t.npy", rows=np.array([6, 7]))
