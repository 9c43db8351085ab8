"""Small data files for the tests of data bigger than memory (``--npy``, ``--parquet``,
streamed ``predict`` and ``evaluate``), and the command line run in this process."""

import contextlib
import csv
import io

import numpy as np

QUICK = ["--hidden", "8", "--batch-size", "64", "--epochs", "2", "--quiet"]


def main(*args):
    """``nlayer ARGS`` in this process: (exit code, stdout, stderr)."""
    from nlayer.cli.app import main as cli_main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def arrays(n=3000, features=6, seed=0):
    """(X float32, y: three classes following a simple rule)."""
    gen = np.random.default_rng(seed)
    X = gen.normal(size=(n, features)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    return X, y


def save_npy(folder, n=3000, features=6, seed=0, name="X"):
    """X.npy and y.npy in folder; returns (X path, y path, X, y)."""
    X, y = arrays(n, features, seed)
    np.save(folder / f"{name}.npy", X)
    np.save(folder / f"{name}_labels.npy", y)
    return folder / f"{name}.npy", folder / f"{name}_labels.npy", X, y


def table_columns(n, seed=0, digits=4):
    """Columns of a mixed table: two numbers (``digits`` decimals; None: all of them), a
    colour, the kind (the target)."""
    gen = np.random.default_rng(seed)
    size, weight = gen.normal(size=n), gen.normal(size=n)
    if digits is not None:
        size, weight = size.round(digits), weight.round(digits)
    colour = gen.choice(["red", "green", "blue"], size=n)
    kind = np.where(size + weight + np.where(colour == "red", 1.5, -0.5) > 0.3, "big", "small")
    return {"size": size, "weight": weight, "colour": colour, "kind": kind}


def write_csv(path, columns):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(columns))
        writer.writerows(zip(*[[repr(float(v)) if isinstance(v, float) else str(v) for v in col]
                               for col in map(list, columns.values())]))
    return path


def write_parquet(path, columns, row_group_size=500):
    """A Parquet file of ``columns``; the calling test skips without pyarrow."""
    import pytest

    reason = 'Parquet files need pyarrow (pip install "nlayer[parquet]")'
    pa = pytest.importorskip("pyarrow", reason=reason)
    pq = pytest.importorskip("pyarrow.parquet", reason=reason)

    pq.write_table(pa.table({k: list(v) if np.asarray(v).dtype.kind == "U" else v
                             for k, v in columns.items()}), path, row_group_size=row_group_size)
    return path


def same_weights(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))
