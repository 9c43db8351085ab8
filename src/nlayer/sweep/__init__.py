"""Hyper-parameter sweeps on Dask: many ordinary ``nlayer train`` runs, one table.

>>> import nlayer.sweep
>>> table = nlayer.sweep.run({"epochs": 20, "grid": {"lr": [0.01, 0.05]},
...                           "sweep": {"seeds": 2}}, X, y)          # doctest: +SKIP

A spec is a TOML file or the same dict (see :mod:`nlayer.sweep.spec`); each trial
trains through the same run as ``nlayer train`` (:func:`nlayer.runs.train.train_and_write`)
on a dask worker, with the data scattered to every worker once. ``client=None``
starts a LocalCluster (one single-threaded worker process per core) for the call;
pass a ``distributed.Client`` to use any cluster. Needs ``pip install 'nlayer[cluster]'``
(dask is imported only when a sweep runs).
"""

import contextlib
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .runner import ARRAYS
from .shipping import SHIP_SECONDS
from .spec import Spec, SpecError, load, parse
from .trials import Trial, expand

if TYPE_CHECKING:  # imported when a sweep runs (pandas: when installed)
    import pandas

    from nlayer.datasets import Dataset

__all__ = ["run", "load", "parse", "expand", "arrays_dataset", "Spec", "SpecError", "Trial"]


def arrays_dataset(X: ArrayLike, y: ArrayLike, X_test: ArrayLike | None = None,
                   y_test: ArrayLike | None = None) -> "Dataset":
    """A Dataset of in-memory arrays: integer labels are classes, floats a regression target.

    Without ``X_test`` the test rows are split off as ``nlayer train`` splits digits and CSV
    files (20 %, stratified, seed 0).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Stored as float32.
    y : array-like of shape (n_samples,)
        Integer class labels 0..k-1, or a float regression target.
    X_test, y_test : array-like, optional
        The test rows; without them 20 % of (X, y) is held out.

    Returns
    -------
    nlayer.datasets.Dataset

    Raises
    ------
    ValueError
        If X is not 2-D or has not one row per label.

    Examples
    --------
    >>> import numpy as np
    >>> from nlayer.sweep import arrays_dataset
    >>> X, y = np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 2
    >>> ds = arrays_dataset(X, y)
    >>> ds.task, ds.X_train.shape, ds.X_test.shape
    ('classification', (40, 3), (10, 3))
    """
    from nlayer.runs import data
    from nlayer.datasets import Dataset
    from nlayer.datasets.tabular import split_indices

    X, y = np.asarray(X, dtype=np.float32), np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must be 2-D with one row per label; got X {X.shape}, y {y.shape}")
    classification = np.issubdtype(y.dtype, np.integer)
    if X_test is None:
        train, test = (np.asarray(part, np.intp) for part in split_indices(
            y, data.TEST_SIZE, data.SPLIT_SEED, stratify=classification))
        X, y, X_test, y_test = X[train], y[train], X[test], y[test]
    X_test, y_test = np.asarray(X_test, dtype=np.float32), np.asarray(y_test)
    n_classes = int(max(y.max(), y_test.max())) + 1 if classification else 0
    return Dataset(name=ARRAYS, X_train=X, y_train=y if classification else y.astype(np.float32),
                   X_test=X_test, y_test=y_test if classification else y_test.astype(np.float32),
                   task="classification" if classification else "regression",
                   feature_names=[f"x{j}" for j in range(X.shape[1])],
                   class_names=[str(k) for k in range(n_classes)] if classification else None,
                   source="arrays given to nlayer.sweep.run")


def run(spec: str | os.PathLike[str] | Mapping[str, Any] | Spec, X: ArrayLike, y: ArrayLike,
        client: Any = None, *, X_test: ArrayLike | None = None, y_test: ArrayLike | None = None,
        out: str | os.PathLike[str] | None = None, workers: int | None = None,
        scheduler: str | None = None, resume: bool = False,
        on_progress: Callable[..., object] | None = None,
        checkpoint_seconds: float = SHIP_SECONDS,
        tensorboard: bool = False) -> "pandas.DataFrame | list[dict[str, Any]]":
    """Run every trial of ``spec`` on (X, y); returns one row per trial.

    The rows (a pandas DataFrame when pandas is installed, else a list of dicts) are those
    of ``out/sweep.csv``: status, the swept settings, seed, dev and test metrics, epochs,
    resumed_from, seconds, worker, error, restart_reason. ``out`` (default
    ``runs/sweep-<timestamp>``) also gets each trial's run directory, ``best.toml``
    (chosen by the dev metric) and ``sweep.png``. Each trial checkpoints every epoch, at
    most every ``checkpoint_seconds``, into ``out``: ``resume=True`` continues the
    unfinished trials of ``out`` from there. ``tensorboard=True`` writes each finished
    trial's settings and final metrics for TensorBoard's HParams dashboard into
    ``out/tensorboard`` (needs ``pip install "nlayer[tensorboard]"``).

    Parameters
    ----------
    spec : str, os.PathLike, dict or Spec
        A TOML file's path, or a dict shaped like it (see :mod:`nlayer.sweep.spec`).
    X, y : array-like
        The data, as for :func:`arrays_dataset`.
    client : distributed.Client, optional
        None starts a LocalCluster for the call (see ``workers`` and ``scheduler``).
    X_test, y_test : array-like, optional
        Test rows; without them 20 % of (X, y) is held out.
    out : str or os.PathLike, optional
        The sweep's directory.
    workers : int, optional
        Worker processes of the LocalCluster (default: one per core).
    scheduler : str, optional
        Address of a running dask scheduler to connect to instead.
    resume : bool, default False
    on_progress : callable, optional
        Called as trials finish (the command line draws its progress with it).
    checkpoint_seconds : float
        Least time between two checkpoints of a trial.
    tensorboard : bool, default False

    Returns
    -------
    pandas.DataFrame or list of dict

    Raises
    ------
    nlayer.sweep.SpecError
        If the spec or one of its trials' settings cannot be run (before anything trains).
    UserError
        If the spec file cannot be read or ``out`` cannot be used (not empty without
        ``resume``, not a directory).
    ValueError
        If X is not 2-D or has not one row per label.
    ImportError
        If dask (``distributed``) is not installed.

    Examples
    --------
    >>> import numpy as np, nlayer.sweep
    >>> X, y = np.random.default_rng(0).normal(size=(100, 4)), np.arange(100) % 2
    >>> table = nlayer.sweep.run({"epochs": 3, "grid": {"lr": [0.01, 0.1]}},  # doctest: +SKIP
    ...                          X, y, workers=2)
    >>> len(table)                                                            # doctest: +SKIP
    2
    """
    from nlayer.runs import rundir

    from .runner import Sweep, connect

    spec = load(spec) if isinstance(spec, str) or hasattr(spec, "__fspath__") else parse(spec)
    ds = arrays_dataset(X, y, X_test, y_test)
    out = rundir.choose(out, "sweep", overwrite=resume)
    sweep = Sweep(spec, ds, out, resume=resume, checkpoint_seconds=checkpoint_seconds,
                  tensorboard=tensorboard)
    cluster = connect(client, scheduler, workers) if sweep.todo else contextlib.nullcontext()
    with cluster as live:
        table, _ = sweep.run(live, on_progress)
    try:
        import pandas
    except ImportError:
        return table
    return pandas.DataFrame(table)
