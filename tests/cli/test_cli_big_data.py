"""``nlayer train --npy/--parquet``, then ``evaluate`` and ``predict`` on the run, end to end
(in this process: these runs are tiny), and the one-line errors of bad input."""

import builtins
import json
import os

import numpy as np
import pytest

pytest.importorskip("rich")

import nlayer as nl  # noqa: E402
from big_data import (QUICK, main, save_npy, table_columns, write_csv,  # noqa: E402
                      write_parquet)
from cli_run import read_csv_dicts  # noqa: E402


def _json(*args):
    code, out, err = main(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def _error(*args):
    """The one line a failing command prints (exit code 2, nothing on stdout)."""
    code, out, err = main(*args)
    assert code == 2 and out == "", (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nlayer: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def npy_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("npy")
    X_path, y_path, X, y = save_npy(folder, n=1500)
    code, _, err = main("train", "--npy", X_path, "--labels", y_path, *QUICK, "--out",
                        folder / "run")
    assert code == 0, err
    return folder, X_path, y_path, X, y


def test_npy_run_evaluates_and_predicts(npy_run, tmp_path):
    folder, X_path, y_path, X, y = npy_run
    summary = json.loads((folder / "run" / "summary.json").read_text())
    recorded = _json("evaluate", folder / "run")  # the test split, rebuilt from the metadata
    assert recorded["rows"] == summary["rows"]["test"] == 300
    assert recorded["metrics"] == summary["metrics"]["test"]
    model = nl.load(folder / "run" / "model.nlayer")
    everything = _json("evaluate", folder / "run", "--npy", X_path, "--labels", y_path)
    assert everything["metrics"] == model.evaluate(X, y) and everything["rows"] == 1500
    code, _, err = main("predict", folder / "run", "--npy", X_path, "--out", tmp_path / "p.csv")
    assert code == 0 and "wrote 1500 predictions" in err
    rows = read_csv_dicts(tmp_path / "p.csv")
    assert [int(r["row"]) for r in rows] == list(range(1500))
    assert [r["predicted"] for r in rows] == [str(k) for k in model.predict(X).argmax(axis=1)]


def test_npy_run_with_test_files(tmp_path):
    X_path, y_path, _, _ = save_npy(tmp_path, n=600)
    Xt, yt, _, _ = save_npy(tmp_path, n=150, seed=1, name="T")
    code, _, err = main("train", "--npy", X_path, "--labels", y_path, "--test-npy", Xt,
                        "--test-labels", yt, *QUICK, "--out", tmp_path / "run")
    assert code == 0, err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    recorded = _json("evaluate", tmp_path / "run")
    assert summary["rows"] == {"train_and_dev": 600, "test": 150}
    assert recorded["rows"] == 150 and recorded["metrics"] == summary["metrics"]["test"]
    assert "T.npy (the test file)" in recorded["data"]


def test_parquet_run_evaluates_and_predicts(tmp_path):
    columns = table_columns(900)
    write_parquet(tmp_path / "t.parquet", columns, row_group_size=128)
    code, _, err = main("train", "--parquet", tmp_path / "t.parquet", "--target", "kind",
                        *QUICK, "--out", tmp_path / "run")
    assert code == 0, err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    recorded = _json("evaluate", tmp_path / "run")
    assert recorded["rows"] == 180 and recorded["metrics"] == summary["metrics"]["test"]
    write_csv(tmp_path / "t.csv", columns)
    for flag, name in (("--parquet", "t.parquet"), ("--csv", "t.csv")):
        code, out, err = main("predict", tmp_path / "run", flag, tmp_path / name)
        assert code == 0, err
        if flag == "--parquet":
            from_parquet = out
    assert out == from_parquet and len(read_csv_dicts(out)) == 900
    holes = {**columns, "size": [None if i % 100 == 5 else v for i, v in
                                 enumerate(columns["size"])]}
    write_parquet(tmp_path / "holes.parquet", holes)
    code, out, err = main("predict", tmp_path / "run", "--parquet", tmp_path / "holes.parquet",
                          "--dropna")
    assert code == 0 and len(read_csv_dicts(out)) == 891
    assert "skipped 9 row(s) with missing values (--dropna): rows 5, 105, 205" in err


def test_parquet_run_with_a_test_file_from_a_config_file(tmp_path):
    write_parquet(tmp_path / "t.parquet", table_columns(900), row_group_size=128)
    write_parquet(tmp_path / "T.parquet", table_columns(250, seed=1), row_group_size=100)
    (tmp_path / "run.toml").write_text(f'parquet = "{tmp_path / "t.parquet"}"\n'
                                       'target = "kind"\n'
                                       f'test-parquet = "{tmp_path / "T.parquet"}"\n')
    code, _, err = main("train", "--config", tmp_path / "run.toml", *QUICK, "--out",
                        tmp_path / "run")
    assert code == 0, err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["rows"] == {"train_and_dev": 900, "test": 250}
    recorded = _json("evaluate", tmp_path / "run")
    assert recorded["rows"] == 250 and recorded["metrics"] == summary["metrics"]["test"]
    assert recorded["data"] == f"{(tmp_path / 'T.parquet').resolve()} (the test file)"
    assert 'test_parquet = "' in (tmp_path / "run" / "config.toml").read_text()
    assert "--test-parquet FILE" in main("train", "--help")[1]


def test_bad_test_parquet_is_one_line(tmp_path):
    """A test file without a column of the training file, or with a category or class the
    training file has not, is refused naming it before training."""
    train = ("train", "--parquet", write_parquet(tmp_path / "t.parquet", table_columns(300)),
             "--target", "kind", *QUICK, "--out", tmp_path / "run", "--test-parquet")
    for name in ("kind", "colour"):
        columns = table_columns(100, seed=1)
        del columns[name]
        line = _error(*train, write_parquet(tmp_path / f"no_{name}.parquet", columns))
        assert f"no_{name}.parquet: no column '{name}'; a test file needs the columns of the " \
               f"training file {tmp_path / 't.parquet'} (the features and the target 'kind'): " \
               "add or rename them" in line
    columns = table_columns(100, seed=1)
    columns["colour"][7] = "pink"
    assert "pink.parquet: row 7 (counted from 0), column 'colour': unknown category 'pink'; " \
           "known categories: ['blue', 'green', 'red'] (the training data's, which the model " \
           "has inputs for): drop or correct such rows" in \
           _error(*train, write_parquet(tmp_path / "pink.parquet", columns))
    columns = {**table_columns(100, seed=1), "kind": ["big", "small", "huge"] * 33 + ["big"]}
    assert "huge.parquet: row 2 (counted from 0): unknown class 'huge'; known classes: " \
           "['big', 'small']" in _error(*train, write_parquet(tmp_path / "huge.parquet",
                                                               columns))
    write_csv(tmp_path / "t.csv", table_columns(300))
    assert "--test-parquet goes with --parquet FILE" in \
        _error("train", "--csv", tmp_path / "t.csv", "--target", "kind", "--test-parquet",
               tmp_path / "t.parquet")
    assert not (tmp_path / "run").exists()


def test_predict_writes_its_file_whole_or_not_at_all(npy_run, tmp_path):
    folder, *_ = npy_run
    columns = table_columns(6000)
    write_csv(tmp_path / "t.csv", columns)
    code, _, err = main("train", "--csv", tmp_path / "t.csv", "--target", "kind", *QUICK,
                        "--out", tmp_path / "run")
    assert code == 0, err
    out = tmp_path / "p.csv"
    out.write_text("earlier predictions\n")
    assert "already exists; pass --overwrite" in _error("predict", tmp_path / "run", "--csv",
                                                        tmp_path / "t.csv", "--out", out)
    columns["colour"][5000] = "pink"  # found after the first blocks were written
    write_csv(tmp_path / "late.csv", columns)
    line = _error("predict", tmp_path / "run", "--csv", tmp_path / "late.csv", "--out", out,
                  "--overwrite")
    assert "late.csv: line 5002, column 'colour': unknown category 'pink'" in line
    assert out.read_text() == "earlier predictions\n"
    assert sorted(os.listdir(tmp_path)) == ["late.csv", "p.csv", "run", "t.csv"]  # no temp


def test_bad_npy_input_is_one_line(tmp_path, npy_run):
    folder, X_path, y_path, X, y = npy_run
    np.save(tmp_path / "short.npy", y[:-1])
    assert "short.npy: 1499 labels but" in _error("train", "--npy", X_path, "--labels",
                                                  tmp_path / "short.npy", *QUICK)
    cut = tmp_path / "cut.npy"
    cut.write_bytes(X_path.read_bytes()[:-1000])
    assert "cut.npy: the file is truncated" in _error("train", "--npy", cut, "--labels", y_path)
    assert "cut.npy: the file is truncated" in _error("predict", folder / "run", "--npy", cut)
    np.save(tmp_path / "narrow.npy", X[:, :4])
    assert "narrow.npy has 4 features but the model takes 6" in \
        _error("predict", folder / "run", "--npy", tmp_path / "narrow.npy")
    assert "--npy needs --labels FILE" in _error("train", "--npy", X_path)
    assert "give --test-npy and --test-labels together" in \
        _error("train", "--npy", X_path, "--labels", y_path, "--test-npy", X_path)
    assert "--npy takes its targets from --labels FILE" in \
        _error("train", "--npy", X_path, "--labels", y_path, "--target", "y")
    assert "not both" in _error("train", "--npy", X_path, "--labels", y_path, "--dataset",
                                "digits")
    assert "needs --labels Y.npy" in _error("evaluate", folder / "run", "--npy", X_path)
    assert "give one of --csv, --parquet or --npy" in \
        _error("predict", folder / "run", "--npy", X_path, "--csv", "x.csv")
    assert "give the rows to predict" in _error("predict", folder / "run")


def test_bad_table_input_is_one_line(tmp_path, monkeypatch):
    columns = table_columns(300)
    write_parquet(tmp_path / "t.parquet", columns)
    code, _, err = main("train", "--parquet", tmp_path / "t.parquet", "--target", "kind",
                        *QUICK, "--out", tmp_path / "run")
    assert code == 0, err
    del columns["colour"]
    write_parquet(tmp_path / "no_colour.parquet", columns)
    write_csv(tmp_path / "no_colour.csv", columns)
    for flag in ("parquet", "csv"):
        assert f"no_colour.{flag}: missing feature columns ['colour']" in \
            _error("predict", tmp_path / "run", f"--{flag}", tmp_path / f"no_colour.{flag}")
    assert "target column 'label' not found" in \
        _error("train", "--parquet", tmp_path / "t.parquet", "--target", "label")
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.split(".")[0] == "pyarrow":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    for args in (("train", "--parquet", tmp_path / "t.parquet", "--target", "kind"),
                 ("predict", tmp_path / "run", "--parquet", tmp_path / "t.parquet"),
                 ("evaluate", tmp_path / "run")):
        assert 'reading Parquet files needs pyarrow: pip install "nlayer[parquet]"' in \
            _error(*args)
