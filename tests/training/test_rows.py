"""nlayer.training.rows: X is read a batch at a time, never copied whole; a memory map
gives the in-memory array's bits."""

import gc
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nlayer as nl
from nlayer.training.rows import Rows


@pytest.fixture
def table(rng, tmp_path):
    """A float64 table of 600 rows on disk and in memory, with labels."""
    X = rng.normal(loc=3.0, scale=2.0, size=(600, 12))
    y = (X[:, :3] @ rng.normal(size=(3, 4))).argmax(axis=1)
    np.save(tmp_path / "X.npy", X)
    return X, y, tmp_path / "X.npy"


def trained(X, y, **fit):
    model = nl.MLP(hidden=(16,), n_outputs=4, batchnorm=True)
    model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), normalize="standard",
                  metrics=["accuracy"])
    history = model.fit(X, y, epochs=3, batch_size=32, seed=5, **fit)
    return model, history


@pytest.mark.parametrize("fit", [{}, {"validation_split": 0.2},
                                 {"sample_weight": "weights", "validation_split": 0.25}])
def test_a_memory_map_gives_the_in_memory_bits(table, fit):
    X, y, path = table
    if fit.get("sample_weight") == "weights":
        fit["sample_weight"] = np.linspace(0.5, 2.0, len(y))
    in_memory, h1 = trained(X, y, **fit)
    mapped, h2 = trained(np.load(path, mmap_mode="r"), y, **fit)
    for a, b in zip(in_memory.get_weights(), mapped.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert {k: v for k, v in h1.history.items() if k != "seconds"} == \
        {k: v for k, v in h2.history.items() if k != "seconds"}
    np.testing.assert_array_equal(in_memory.normalizer.shift, mapped.normalizer.shift)
    np.testing.assert_array_equal(mapped.predict(np.load(path, mmap_mode="r")),
                                  in_memory.predict(X))
    assert mapped.evaluate(np.load(path, mmap_mode="r"), y) == in_memory.evaluate(X, y)


def test_a_zarr_array_gives_the_in_memory_bits(table, tmp_path):
    """A zarr array on disk, opened read-only: the batches are gathered by row indices
    (zarr serves ``z[indices]``), with a development split and row weights."""
    zarr = pytest.importorskip("zarr", reason="zarr arrays are tested where zarr is installed")
    X, y, _ = table
    written = zarr.open_array(str(tmp_path / "X.zarr"), mode="w", shape=X.shape,
                              chunks=(64, 12), dtype=X.dtype)
    written[:] = X
    z = zarr.open_array(str(tmp_path / "X.zarr"), mode="r")
    fit = {"validation_split": 0.25, "sample_weight": np.linspace(0.5, 2.0, len(y))}
    in_memory, h1 = trained(X, y, **fit)
    on_zarr, h2 = trained(z, y, **fit)
    for a, b in zip(in_memory.get_weights(), on_zarr.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert {k: v for k, v in h1.history.items() if k != "seconds"} == \
        {k: v for k, v in h2.history.items() if k != "seconds"}
    np.testing.assert_array_equal(on_zarr.predict(z), in_memory.predict(X))
    assert on_zarr.evaluate(z, y) == in_memory.evaluate(X, y)
    blocks, _ = trained(z, y, shuffle="blocks")  # runs of rows, sorted within each batch
    assert all(np.array_equal(a, b) for a, b in
               zip(blocks.get_weights(), trained(X, y, shuffle="blocks")[0].get_weights()))


def test_the_callers_array_and_a_read_only_map_are_never_written(table):
    X, y, path = table
    before = X.copy()
    mapped = np.load(path, mmap_mode="r")  # read-only: a write would raise
    model, _ = trained(X, y, validation_split=0.2)
    model.predict(mapped)
    model.evaluate(mapped, y)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(np.load(path), before)


def test_gathered_rows_equal_the_normalised_rows_of_x(table):
    X, y, _ = table
    norm = nl.Standardizer().fit(X.astype(np.float32))
    rows = Rows(X, np.float32, norm, index=np.arange(10, 600, 3))
    positions = np.array([5, 0, 150, 7])
    expected = norm.transform(X.astype(np.float32)[rows.index[positions]])
    np.testing.assert_array_equal(rows.gather(positions), expected)
    np.testing.assert_array_equal(rows[positions], expected)
    buf = np.empty((8, 12), np.float32)
    assert rows.gather(positions, out=buf).base is buf
    np.testing.assert_array_equal(buf[:4], expected)


def test_a_bad_value_is_named_by_its_row_in_the_file(table, tmp_path):
    X, y, _ = table
    X = X.copy()
    X[437, 5] = np.nan
    np.save(tmp_path / "bad.npy", X)
    model = nl.MLP(hidden=(4,), n_outputs=4)
    model.compile()
    with pytest.raises(ValueError, match=r"X contains NaN or inf \(first at row 437, column 5\)"):
        model.fit(np.load(tmp_path / "bad.npy", mmap_mode="r"), y, validation_split=0.3)
    X[437, 5] = 1e39  # beyond float32
    with pytest.raises(ValueError, match="X has 1e\\+39 at row 437, column 5, beyond float32"):
        model.fit(X, y)


def test_rows_and_labels_that_do_not_match_are_named(table):
    X, y, path = table
    model = nl.MLP(hidden=(4,), n_outputs=4)
    model.compile()
    with pytest.raises(ValueError, match="X has 600 rows but y has 599"):
        model.fit(np.load(path, mmap_mode="r"), y[:-1])


def test_a_file_cut_short_under_its_map_is_an_error_not_garbage(table, tmp_path):
    X, y, _ = table
    np.save(tmp_path / "short.npy", X)
    data = (tmp_path / "short.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="mmap length is greater than file size"):
        np.load(tmp_path / "short.npy", mmap_mode="r")  # NumPy refuses it before nlayer sees it


FIT_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, nlayer as nl
    def rss_anon():
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("RssAnon")) * 1024
    X = np.load(sys.argv[1], mmap_mode="r")
    y = np.load(sys.argv[2])
    model = nl.MLP(hidden=(32,), n_outputs=10)
    model.compile(optimizer=nl.SGD(lr=0.01), normalize="standard")
    model.fit(X[:256], y[:256], epochs=1, batch_size=128, seed=0)  # imports, buffers, warm-up
    model = nl.MLP(hidden=(32,), n_outputs=10)
    model.compile(optimizer=nl.SGD(lr=0.01), normalize="standard")
    before = rss_anon()
    peak = [before]
    class Watch(nl.Callback):
        def on_batch_end(self, batch, logs=None):
            if batch % 50 == 0:
                peak.append(rss_anon())
    model.fit(X, y, epochs=1, batch_size=128, seed=0, validation_split=0.01, callbacks=[Watch()])
    model.predict(X)
    peak.append(rss_anon())
    print(max(peak) - before)
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux's RssAnon")
def test_fit_on_a_memory_map_stays_within_a_bound_far_below_the_data(tmp_path):
    """200 MB of float64 rows on disk: fit and predict add under 40 MB of anonymous memory
    (the development rows, the labels, the blocks of a normaliser fit, predict's output)."""
    rows, features = 100_000, 256
    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float64,
                                  shape=(rows, features))
    for start in range(0, rows, 10_000):
        X[start:start + 10_000] = np.random.default_rng(start).normal(size=(10_000, features))
    X.flush()
    del X
    gc.collect()
    np.save(tmp_path / "y.npy", np.arange(rows) % 10)
    script = tmp_path / "fit.py"
    script.write_text(FIT_SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "X.npy"),
                          str(tmp_path / "y.npy")], capture_output=True, text=True, check=True)
    extra = int(out.stdout.split()[-1])
    assert extra < 40e6, f"{extra / 1e6:.0f} MB of anonymous memory for 205 MB of data"


class DiskTable:
    """An array-like as h5py serves one: shape, dtype, and rows read by a slice or by
    indices that must be increasing (h5py refuses others); every read is counted. Like
    h5py datasets and zarr arrays it has ``__array__``, which would read it whole."""

    def __init__(self, X):
        self._X, self.shape, self.dtype, self.reads = X, X.shape, X.dtype, 0

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("the whole table was read (np.asarray)")

    def __getitem__(self, key):
        if not isinstance(key, slice):
            key = np.asarray(key)
            assert key.ndim == 1 and np.all(np.diff(key) > 0), "indices must be increasing"
        self.reads += 1
        return self._X[key].copy()


def test_any_array_like_with_increasing_row_reads_trains_to_the_same_bits(table):
    X, y, _ = table
    disk = DiskTable(X)
    on_disk, _ = trained(disk, y, validation_split=0.2)
    in_memory, _ = trained(X, y, validation_split=0.2)
    for a, b in zip(in_memory.get_weights(), on_disk.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert disk.reads > 3 * 15  # batch by batch, never the whole table at once
    np.testing.assert_array_equal(on_disk.predict(disk), in_memory.predict(X))


def test_block_shuffled_fit_resumes_to_the_same_bits_and_says_what_it_takes(table, tmp_path):
    X, y, path = table
    mapped = np.load(path, mmap_mode="r")
    whole, _ = trained(mapped, y, shuffle="blocks", validation_split=0.2)
    orders = nl.model.batch_orders(5, 480, 3, shuffle="blocks", row_bytes=12 * 8)
    assert sorted(orders[0]) == list(range(480)) and list(orders[0]) != list(orders[1])
    ckpt = tmp_path / "ckpt.nlayer"

    class Stop(nl.Callback):
        def on_batch_end(self, batch, logs=None):
            if logs["epoch"] == 2 and batch == 5:
                self.model.stop_training = True
    model = nl.MLP(hidden=(16,), n_outputs=4, batchnorm=True)
    model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), normalize="standard",
                  metrics=["accuracy"])
    model.fit(mapped, y, epochs=3, batch_size=32, seed=5, shuffle="blocks",
              validation_split=0.2, callbacks=[Stop(), nl.ModelCheckpoint(ckpt, every_batches=1)])
    resumed, _ = trained(mapped, y, shuffle="blocks", validation_split=0.2,
                         callbacks=[nl.ModelCheckpoint(ckpt, every_batches=1)], resume_from=ckpt)
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="shuffle must be True, False or 'blocks', got 'yes'"):
        trained(X, y, shuffle="yes")
