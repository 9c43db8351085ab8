"""The benchmark's data: loaded once by the parent, handed to the workers as .npy files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .settings import N_CLASSES

DATA_DIR = Path("/usr/share/datasets/fashion-mnist")


def load_data(mode, rows):
    """(X_train, y_train, X_test, y_test, description): float32 in [0, 1], int64 labels.

    Fashion-MNIST when ``mode`` is "fashion-mnist", or "auto" and it is installed;
    random data of its shape otherwise. The first ``rows`` training rows are kept.
    """
    use_fm = mode == "fashion-mnist" or (mode == "auto" and DATA_DIR.exists())
    if use_fm:
        from nlayer.datasets import load_dataset

        ds = load_dataset("fashion-mnist", data_dir=str(DATA_DIR), download=False)
        X, y, X_test, y_test = ds.X_train, ds.y_train, ds.X_test, ds.y_test
        source = f"Fashion-MNIST from {DATA_DIR} (via nlayer.datasets)"
    else:
        rng = np.random.default_rng(12345)
        protos = rng.random((N_CLASSES, 784), dtype=np.float32)
        protos *= protos > 0.6  # sparse class prototypes

        def sample(n):  # prototype + heavy Gaussian noise, clipped to [0, 1]: learnable, stable
            labels = rng.integers(0, N_CLASSES, n)
            X = rng.standard_normal((n, 784), dtype=np.float32)
            X *= np.float32(2.0)
            X += protos[labels]
            np.clip(X, 0.0, 1.0, out=X)
            return X, labels

        X, y = sample(60000)
        X_test, y_test = sample(10000)
        why = "forced by --data random" if mode == "random" else f"{DATA_DIR} not found"
        source = (f"random data of Fashion-MNIST's shape ({why}): a sparse random prototype "
                  "per class + Gaussian noise (sd 2), clipped to [0, 1]")
    rows = min(rows, X.shape[0])
    info = {"source": source, "fashion_mnist": use_fm, "train_rows": rows,
            "test_rows": int(X_test.shape[0]), "features": int(X.shape[1])}
    return (np.ascontiguousarray(X[:rows], dtype=np.float32),
            np.asarray(y[:rows], dtype=np.int64),
            np.ascontiguousarray(X_test, dtype=np.float32),
            np.asarray(y_test, dtype=np.int64), info)


def prepare_data(mode, rows, tmp):
    """Write X_train/y_train (first ``rows`` rows), X_test/y_test as .npy; describe the source."""
    X, y, X_test, y_test, info = load_data(mode, rows)
    np.save(tmp / "X_train.npy", X)
    np.save(tmp / "y_train.npy", y)
    np.save(tmp / "X_test.npy", X_test)
    np.save(tmp / "y_test.npy", y_test)
    return info


def _load_worker_data(spec, dtype=None):
    d = Path(spec["data_dir"])
    rows = spec["rows"]
    X = np.load(d / "X_train.npy")[:rows]
    y = np.load(d / "y_train.npy")[:rows]
    X_test, y_test = np.load(d / "X_test.npy"), np.load(d / "y_test.npy")
    if dtype is not None and X.dtype != np.dtype(dtype):
        X, X_test = X.astype(dtype), X_test.astype(dtype)
    return np.ascontiguousarray(X), y, np.ascontiguousarray(X_test), y_test
