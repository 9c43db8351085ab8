import sys
from pathlib import Path

import numpy as np
import pytest

# shared test helpers (checkpoint_run, model_file_attacks, ...) import by name from any folder
sys.path.insert(0, str(Path(__file__).resolve().parent / "helpers"))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's embedded 8x8 digits, scaled to [0, 1], split 80/20 (stratified, seeded)."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    return X[:1437], y[:1437], X[1437:], y[1437:]


@pytest.fixture(scope="module")
def dask_client():
    """A real LocalCluster: 2 single-threaded worker processes on 127.0.0.1, no dashboard."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                  silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        yield client
