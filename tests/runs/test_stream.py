"""``predict`` and ``evaluate`` a chunk at a time: the bits of the whole-file path, in
bounded memory."""

import tracemalloc

import numpy as np
import pytest

pytest.importorskip("rich")

import nlayer as nl  # noqa: E402
import json  # noqa: E402
from big_data import QUICK, main, save_npy, table_columns, write_csv  # noqa: E402
from nlayer.datasets import csvread, encode_csv_rows, load_csv  # noqa: E402
from nlayer.datasets.tabular import split_indices  # noqa: E402
from nlayer.runs import data, stream  # noqa: E402
from nlayer.runs.stream import Chunk  # noqa: E402


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    """A CSV of 9,000 rows (over two EVAL_CHUNK blocks) and a model trained on it."""
    folder = tmp_path_factory.mktemp("stream")
    path = write_csv(folder / "t.csv", table_columns(9000))
    code, _, err = main("train", "--csv", path, "--target", "kind", *QUICK, "--out",
                        folder / "run")
    assert code == 0, err
    return path, nl.load(folder / "run" / "model.nlayer")


def test_rebatch_cuts_blocks_of_exactly_the_size():
    parts = [Chunk(np.full((n, 2), float(k)), np.full(n, k), np.arange(n) + 10 * k)
             for k, n in enumerate([3, 0, 7, 1, 5])]
    blocks = list(stream.rebatch(parts, 4))
    assert [len(b.rows) for b in blocks] == [4, 4, 4, 4]
    assert np.array_equal(np.concatenate([b.rows for b in blocks]),
                          np.concatenate([p.rows for p in parts]))
    assert np.array_equal(np.concatenate([b.X for b in blocks]),
                          np.concatenate([p.X for p in parts]))


def test_streamed_csv_gives_the_bits_of_the_whole_file(csv_run):
    path, model = csv_run
    X, y, _ = encode_csv_rows(path, data.schema_of(model), require_target=True)
    chunks = stream.csv_chunks(model, path, labelled=True, max_cells=1000)  # ragged chunks
    metrics, rows = stream.evaluate(model, chunks)
    assert rows == 9000 and metrics == model.evaluate(X, y)  # every float equal
    outputs = [out for out, _ in stream.predictions(model, stream.csv_chunks(model, path,
                                                                              max_cells=777))]
    assert np.array_equal(np.concatenate(outputs), model.predict(X))


def test_streamed_npy_gives_the_bits_of_the_whole_file(tmp_path):
    X_path, y_path, X, y = save_npy(tmp_path, n=9000)
    code, _, err = main("train", "--npy", X_path, "--labels", y_path, *QUICK, "--out",
                        tmp_path / "run")
    assert code == 0, err
    model = nl.load(tmp_path / "run" / "model.nlayer")
    metrics, rows = stream.evaluate(model, stream.npy_chunks(model, X_path, y_path, 6000))
    assert rows == 9000 and metrics == model.evaluate(X, y)
    outputs, rows = zip(*stream.predictions(model, stream.npy_chunks(model, X_path)))
    assert np.array_equal(np.concatenate(outputs), model.predict(X))
    assert np.array_equal(np.concatenate(rows), np.arange(9000))


def test_streaming_predict_of_a_csv_stays_within_a_bound(tmp_path, csv_run, monkeypatch):
    """A CSV four times the bound is predicted within it (Python's allocations, traced): the
    whole-file path would hold all its rows as Python strings, more than the file."""
    _, model = csv_run
    model.save(tmp_path / "model.nlayer")
    small = write_csv(tmp_path / "small.csv", table_columns(10))
    columns = table_columns(50_000, seed=1, digits=None)
    columns["note"] = [f"free text of row {i}: " + "x" * 200 for i in range(50_000)]  # unused
    big = write_csv(tmp_path / "big.csv", columns)
    monkeypatch.setattr(csvread, "CHUNK_CELLS", 1 << 12)  # chunks of 1,024 rows
    predict = ("predict", tmp_path / "model.nlayer", "--out", tmp_path / "p.csv", "--quiet",
               "--overwrite", "--csv")
    assert main(*predict, small)[0] == 0  # imports and caches before the measure
    bound = 5 << 19  # 2.5 MiB
    tracemalloc.start()
    try:
        code, _, err = main(*predict, big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 0, err
    assert big.stat().st_size > 4 * bound and peak < bound, (big.stat().st_size, peak)
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert len(lines) == 50_001 and lines[-1].startswith("49999,")


def _whole_file_test_split(model, path, dropna=False):
    """``model.evaluate`` on the test split ``load_csv`` makes of the whole file (what
    ``evaluate RUN`` read before it streamed), and the split's size."""
    ds = load_csv(path, "kind", dropna=dropna, test_size=data.TEST_SIZE, seed=data.SPLIT_SEED)
    return model.evaluate(ds.X_test, ds.y_test), len(ds.y_test)


def test_recorded_csv_split_gives_the_bits_of_the_whole_file(tmp_path, monkeypatch):
    """The test rows of a CSV run (a stratified random subset, here with rows --dropna
    skipped) are picked out of ragged chunks: the metrics and rows of the whole file."""
    columns = table_columns(3000)
    columns["weight"] = ["" if i % 97 == 3 else v for i, v in enumerate(columns["weight"])]
    path = write_csv(tmp_path / "holes.csv", columns)
    code, _, err = main("train", "--csv", path, "--target", "kind", "--dropna", *QUICK,
                        "--out", tmp_path / "run")
    assert code == 0, err
    model = nl.load(tmp_path / "run" / "model.nlayer")
    monkeypatch.setattr(csvread, "CHUNK_CELLS", 1001)  # chunks of 250 rows, unlike the split
    chunks, where = stream.recorded_test_set(model)
    chunks = list(chunks)
    assert len(chunks) == 12 and where == f"{path.resolve()} (test split)"
    metrics, rows = stream.evaluate(model, chunks, where)
    assert (metrics, rows) == _whole_file_test_split(model, path, dropna=True)
    kept = np.array([i for i in range(3000) if i % 97 != 3])  # data rows, counted from 0
    _, y, _ = encode_csv_rows(path, data.schema_of(model), require_target=True, dropna=True)
    _, test = split_indices(y, data.TEST_SIZE, data.SPLIT_SEED)
    assert np.array_equal(np.concatenate([c.rows for c in chunks]), kept[test])


def test_evaluating_a_csv_run_streams_its_test_split(tmp_path, csv_run, monkeypatch):
    """``evaluate RUN`` of a CSV run reads the file a chunk at a time, twice (the targets to
    split them, then the test rows): within a bound the file is four times over, where
    the whole-file path held every cell as a Python string (82 MB measured on this file)."""
    columns = table_columns(40_000, seed=1, digits=None)
    gen = np.random.default_rng(2)
    columns.update({f"extra{k}": gen.normal(size=40_000) for k in range(16)})
    big = write_csv(tmp_path / "big.csv", columns)
    code, _, err = main("train", "--csv", big, "--target", "kind", *QUICK, "--epochs", "1",
                        "--out", tmp_path / "run")
    assert code == 0, err
    monkeypatch.setattr(csvread, "CHUNK_CELLS", 1 << 12)  # chunks of 170 rows
    evaluate = ("evaluate", "--json")
    assert main(*evaluate, csv_run[0].parent / "run")[0] == 0  # imports and caches first
    bound = 3 << 20  # 3 MiB
    tracemalloc.start()
    try:
        code, out, err = main(*evaluate, tmp_path / "run")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 0, err
    assert big.stat().st_size > 4 * bound and peak < bound, (big.stat().st_size, peak)
    result = json.loads(out)
    model = nl.load(tmp_path / "run" / "model.nlayer")
    assert (result["metrics"], result["rows"]) == _whole_file_test_split(model, big)
    assert result["rows"] == 8000  # two EVAL_CHUNK blocks
