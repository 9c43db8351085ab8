"""Training data bigger than memory: ``--npy`` maps and ``--parquet`` files train to the bits
of the same rows in memory (or in a CSV file), and the split is a view, not a copy."""

import numpy as np
import pytest

pytest.importorskip("rich")

import nlayer as nl  # noqa: E402
from big_data import (QUICK, main, same_weights, save_npy, table_columns,  # noqa: E402
                      write_csv, write_parquet)
from nlayer.datasets import Dataset, encode_csv_rows  # noqa: E402
from nlayer.datasets.rowsubset import RowSubset  # noqa: E402
from nlayer.datasets.tabular import split_indices  # noqa: E402
from nlayer.runs import config, data, train  # noqa: E402


def _in_memory_run(cfg, X, y, train_rows, test_rows, task="classification", names=None):
    """The model ``nlayer train`` would make of the arrays X, y held in memory."""
    return _trained(cfg, Dataset("mem", X[train_rows], y[train_rows], X[test_rows],
                                 y[test_rows], task, [f"x{j}" for j in range(X.shape[1])],
                                 names))


def _trained(cfg, ds):
    model = train.build_model(cfg, ds.task, train.n_outputs(ds))
    train.fit(model, ds, cfg)
    return model


@pytest.mark.parametrize("test_files", [False, True])
def test_npy_training_gives_the_bits_of_the_arrays_in_memory(tmp_path, test_files):
    X_path, y_path, X, y = save_npy(tmp_path, n=2000)
    extra, files = [], {}
    if test_files:
        Xt_path, yt_path, X_test, y_test = save_npy(tmp_path, n=300, seed=1, name="T")
        extra = ["--test-npy", Xt_path, "--test-labels", yt_path]
        files = {"test_npy": str(Xt_path), "test_labels": str(yt_path)}
    code, _, err = main("train", "--npy", X_path, "--labels", y_path, *extra, *QUICK,
                        "--out", tmp_path / "run")
    assert code == 0, err
    cfg = config.resolve({"npy": str(X_path), "labels": str(y_path), "hidden": [8],
                          "batch_size": 64, "epochs": 2, **files})
    ds = data.load_for_training(cfg)
    assert isinstance(ds.X_train, RowSubset) and isinstance(ds.X_train.source, np.memmap)
    if test_files:
        train_rows, test_rows = np.arange(2000), np.arange(0)
        assert len(ds.y_test) == 300 and np.array_equal(ds.X_test[:], X_test)
    else:
        train_rows, test_rows = split_indices(y, data.TEST_SIZE, data.SPLIT_SEED)
        assert np.array_equal(ds.X_train.index, train_rows)  # sorted row numbers, no copy
    mapped = nl.load(tmp_path / "run" / "model.nlayer")
    assert same_weights(mapped, _in_memory_run(cfg, X, y, train_rows, test_rows,
                                               names=["0", "1", "2"]))
    meta = mapped.metadata
    assert meta["npy"] == str(X_path.resolve()) and meta["labels"] == str(y_path.resolve())
    assert meta["class_names"] == ["0", "1", "2"] and meta["feature_names"][0] == "x0"
    assert (meta["split"] is None) == test_files


def test_npy_regression_with_several_targets(tmp_path):
    X_path, _, X, _ = save_npy(tmp_path, n=800)
    np.save(tmp_path / "Y.npy", np.stack([X[:, 0] * 2, X[:, 1] - X[:, 2]], axis=1))
    code, _, err = main("train", "--npy", X_path, "--labels", tmp_path / "Y.npy", *QUICK,
                        "--out", tmp_path / "run")
    assert code == 0, err
    model = nl.load(tmp_path / "run" / "model.nlayer")
    assert model.metadata["task"] == "regression" and model.n_outputs == 2


def test_parquet_training_gives_the_bits_of_the_same_csv(tmp_path):
    columns = table_columns(1500)
    write_parquet(tmp_path / "t.parquet", columns, row_group_size=200)
    write_csv(tmp_path / "t.csv", columns)
    for flag, name in (("--parquet", "t.parquet"), ("--csv", "t.csv")):
        code, _, err = main("train", flag, tmp_path / name, "--target", "kind", *QUICK,
                            "--out", tmp_path / flag.strip("-"))
        assert code == 0, err
    from_parquet = nl.load(tmp_path / "parquet" / "model.nlayer")
    from_csv = nl.load(tmp_path / "csv" / "model.nlayer")
    assert same_weights(from_parquet, from_csv)
    assert from_parquet.metadata["csv_schema"] == from_csv.metadata["csv_schema"]
    assert from_parquet.metadata["training"]["test"] == from_csv.metadata["training"]["test"]
    assert from_parquet.metadata["parquet"] == str((tmp_path / "t.parquet").resolve())


def test_parquet_features_are_a_map_of_an_unlinked_scratch_file(tmp_path):
    write_parquet(tmp_path / "t.parquet", table_columns(700), row_group_size=100)
    cfg = config.resolve({"parquet": str(tmp_path / "t.parquet"), "target": "kind"})
    ds = data.load_for_training(cfg)
    mapped = ds.X_train.source
    assert isinstance(mapped, np.memmap) and mapped.shape == (700, 5)
    assert not list(tmp_path.glob("*.npy"))
    with pytest.raises(FileNotFoundError):
        open(mapped.filename)  # already unlinked: nothing is left behind, even on a crash
    assert ds.schema.feature_names == ["size", "weight", "colour=blue", "colour=green",
                                       "colour=red"]


@pytest.mark.parametrize("target", ["kind", "size"])  # classes, values
def test_parquet_test_file_gives_the_bits_of_the_rows_in_memory(tmp_path, target):
    """--test-parquet: the training file is trained on whole and the test file encoded with
    its schema: the weights and test metrics of the same rows encoded in memory."""
    columns, test_columns = table_columns(1200), table_columns(400, seed=1)
    files = {"parquet": str(write_parquet(tmp_path / "t.parquet", columns, 300)),
             "test_parquet": str(write_parquet(tmp_path / "T.parquet", test_columns, 150))}
    code, _, err = main("train", "--parquet", files["parquet"], "--target", target,
                        "--test-parquet", files["test_parquet"], *QUICK, "--out",
                        tmp_path / "run")
    assert code == 0, err
    model = nl.load(tmp_path / "run" / "model.nlayer")
    schema = data.schema_of(model)
    X, y, _ = encode_csv_rows(write_csv(tmp_path / "t.csv", columns), schema, True)
    X_test, y_test, _ = encode_csv_rows(write_csv(tmp_path / "T.csv", test_columns), schema,
                                        True)
    cfg = config.resolve({**files, "target": target, "hidden": [8], "batch_size": 64,
                          "epochs": 2})
    ds = data.load_for_training(cfg)
    assert ds.X_train.index is None and len(ds.y_train) == 1200
    assert isinstance(ds.X_test.source, np.memmap) and np.array_equal(ds.X_test[:], X_test)
    in_memory = _trained(cfg, Dataset("mem", X, y, X_test, y_test, schema.task,
                                      schema.feature_names, schema.class_names))
    assert same_weights(model, in_memory)
    assert model.metadata["training"]["test"] == model.evaluate(X_test, y_test)
    assert model.metadata["test_parquet"] == str((tmp_path / "T.parquet").resolve())
    assert model.metadata["split"] is None
