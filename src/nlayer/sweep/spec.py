"""A sweep's TOML file: base settings, the swept settings, seeds and the metric to rank by.

::

    # base settings: the same keys as ``nlayer train --config``
    dataset = "digits"
    epochs = 30

    [grid]                                  # every combination of these
    hidden = [[64], [128, 64]]              # a list of values
    lr = { log_range = [0.01, 0.1, 3] }     # 3 values evenly spaced on a log scale
    batch_size = { range = [32, 96, 32] }   # 32, 64, 96 (stop included)

    [random]                                # `samples` draws, each combined with the grid
    l2 = { log_uniform = [1e-4, 1e-1] }
    dropout = { uniform = [0.0, 0.3] }
    activation = ["relu", "tanh"]           # a list: one of them, equally likely
    patience = { int = [3, 10] }            # a whole number, both ends included

    [sweep]
    seeds = 3              # seeds 0, 1, 2 per point (from the base seed); or a list [0, 7]
    metric = "accuracy"    # ranked on the dev set: accuracy, loss (classification); loss, mae, r2
    samples = 8            # random draws (needed when [random] is given)
    sample_seed = 0        # the random draws are the same on every run of the file

Every value a trial will train with is checked by the same rules as ``nlayer train``
before any trial starts, so a typo fails at once, not after an hour of sweeping.
"""

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nlayer.runs import config
from nlayer.runs.errors import UserError

#: Settings that choose the data: one dataset is loaded once per sweep, so they cannot vary.
DATA_KEYS = ("dataset", "csv", "npy", "labels", "test_npy", "test_labels", "parquet",
             "test_parquet", "target", "task", "dropna", "data_dir", "download")
#: Dev metrics a sweep can rank by, and whether larger is better.
METRICS = {"accuracy": True, "loss": False, "mae": False, "r2": True}
METRICS_BY_TASK = {"classification": ("accuracy", "loss"), "regression": ("loss", "mae", "r2")}
SWEEP_KEYS = ("seeds", "metric", "samples", "sample_seed")
#: Settings a trial cannot honour: it runs on a worker that sends back only its run
#: directory's files (``nlayer sweep --tensorboard`` writes the HParams sessions instead)
TRACKING_KEYS = {"tensorboard": "pass --tensorboard to nlayer sweep (tensorboard=True to "
                                "nlayer.sweep.run): it writes each trial's settings and final "
                                "metrics for TensorBoard's HParams dashboard",
                 "mlflow": "log a chosen point with nlayer train --config best.toml --mlflow"}
#: the most trials one sweep may have (points x seeds)
MAX_TRIALS = 100_000
DISTRIBUTIONS = {"grid": ("range", "log_range"),
                 "random": ("uniform", "log_uniform", "int", "range")}


class SpecError(UserError):
    """A sweep file that cannot be run; the message names the key and the fix.

    Examples
    --------
    >>> from nlayer import sweep
    >>> try:
    ...     sweep.parse({"grid": {"lr": []}})
    ... except sweep.SpecError:
    ...     print("refused")
    refused
    """


@dataclass
class Spec:
    """A parsed, checked sweep: ``base`` settings, ``grid`` values and ``random`` draws.

    Made by :func:`parse` or :func:`load`, which check every value; built by hand it is
    not checked until :func:`~nlayer.sweep.expand` resolves its trials.

    Parameters
    ----------
    base : dict
        Settings every trial shares, keyed by ``nlayer train``'s canonical names.
    grid : dict
        Setting -> list of values; every combination is a point.
    random : dict
        Setting -> ``(kind, arguments)``: ``("choice", values)``, ``("uniform", [low, high])``,
        ``("log_uniform", [low, high])`` or ``("int", [low, high])``.
    seeds : list of int, default [0]
        Every point is trained once per seed.
    metric : {"accuracy", "loss", "mae", "r2"} or None, default None
        The dev metric to rank by; None is accuracy (classification) or loss (regression).
    samples : int, default 0
        Random draws, each combined with every grid combination.
    sample_seed : int, default 0
        Seed of the random draws.
    source : str, default "<spec>"
        Where the spec came from (a file's path), for error messages.

    Examples
    --------
    >>> from nlayer import sweep
    >>> spec = sweep.parse({"epochs": 2, "grid": {"lr": [0.01, 0.1]}, "sweep": {"seeds": [0, 1]}})
    >>> spec.grid, spec.seeds, len(sweep.expand(spec))
    ({'lr': [0.01, 0.1]}, [0, 1], 4)
    """

    base: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)      # key -> list of values
    random: dict = field(default_factory=dict)    # key -> (kind, arguments)
    seeds: list = field(default_factory=lambda: [0])
    metric: str | None = None                     # None: accuracy or loss, by task
    samples: int = 0
    sample_seed: int = 0
    source: str = "<spec>"

    @property
    def swept(self) -> list[str]:
        """The names of the settings that vary, grid first."""
        return [*self.grid, *self.random]

    def metric_for(self, task: str) -> str:
        """The dev metric trials are ranked by, checked against the task."""
        metric = self.metric or ("accuracy" if task == "classification" else "loss")
        if metric not in METRICS_BY_TASK[task]:
            raise SpecError(f"{self.source}: metric {metric!r} does not apply to {task}; "
                            f"use one of {', '.join(METRICS_BY_TASK[task])}")
        return metric


def load(path: str | os.PathLike[str]) -> "Spec":
    """The Spec in a TOML file.

    Parameters
    ----------
    path : str or os.PathLike
        A TOML file shaped as in :mod:`nlayer.sweep.spec`.

    Returns
    -------
    Spec

    Raises
    ------
    UserError
        If the file is missing, unreadable or not TOML (:class:`nlayer.runs.errors.UserError`),
        or, as :class:`SpecError` (a UserError), if :func:`parse` refuses its contents.

    Examples
    --------
    >>> import nlayer.sweep
    >>> with open("sweep.toml", "w") as fh:
    ...     _ = fh.write('epochs = 5\\n[grid]\\nlr = { log_range = [0.01, 0.1, 3] }\\n')
    >>> nlayer.sweep.load("sweep.toml").grid
    {'lr': [0.01, 0.0316228, 0.1]}
    """
    return parse(config.load_toml(path, "sweep file"), str(path))


def parse(raw: "Mapping[str, Any] | Spec", source: str = "<spec>") -> "Spec":
    """A Spec from a dict shaped like the TOML file (a Spec passes through unchanged).

    Parameters
    ----------
    raw : dict or Spec
        Base settings at the top level, and optional ``"grid"``, ``"random"`` and
        ``"sweep"`` tables, as in :mod:`nlayer.sweep.spec`.
    source : str, default "<spec>"
        Named in error messages (:func:`load` passes the file's path).

    Returns
    -------
    Spec

    Raises
    ------
    SpecError
        If a table, key, value, distribution or count cannot be run (the message names
        the key and the fix), or there is nothing to sweep.
    UserError
        If a base setting's name is unknown or given twice (SpecError is a UserError too).

    Examples
    --------
    >>> import nlayer.sweep
    >>> spec = nlayer.sweep.parse({"epochs": 5, "grid": {"batch_size": {"range": [32, 96, 32]}},
    ...                            "sweep": {"seeds": 2}})
    >>> spec.grid, spec.seeds
    ({'batch_size': [32, 64, 96]}, [0, 1])
    """
    if isinstance(raw, Spec):
        return raw
    if not isinstance(raw, dict):
        raise SpecError(f"a sweep spec is a dict or a TOML file, got {type(raw).__name__}")
    tables = {name: raw.get(name, {}) for name in ("grid", "random", "sweep")}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise SpecError(f"{source}: [{name}] must be a table, got {table!r}")
    base = config.normalise({k: v for k, v in raw.items() if k not in tables}, source)
    _refuse_tracking(base, source)
    spec = Spec(base=base, source=source, **_sweep_table(tables["sweep"], source, base))
    spec.grid = {key: _grid_values(key, value, source)
                 for key, value in _swept(tables["grid"], "grid", source).items()}
    spec.random = {key: _distribution(key, value, source)
                   for key, value in _swept(tables["random"], "random", source).items()}
    _check_shape(spec)
    return spec


def _sweep_table(table, source, base):
    unknown = [k for k in table if k not in SWEEP_KEYS]
    if unknown:
        raise SpecError(f"{source}: unknown key {unknown[0]!r} in [sweep]; valid keys: "
                        f"{', '.join(SWEEP_KEYS)}")
    seeds = table.get("seeds", 1)
    first = base.get("seed", 0)
    if _whole(seeds) and seeds >= 1:
        _require_countable(source, "[sweep] seeds", seeds)
        seeds = list(range(first, first + seeds))
    elif not (isinstance(seeds, list) and seeds and all(_whole(s) and s >= 0 for s in seeds)
              and len(set(seeds)) == len(seeds)):
        raise SpecError(f"{source}: [sweep] seeds must be a count >= 1 or a list of distinct "
                        f"seeds >= 0, got {seeds!r}")
    metric = table.get("metric")
    if metric is not None and metric not in METRICS:
        raise SpecError(f"{source}: [sweep] metric must be one of {', '.join(METRICS)}, "
                        f"got {metric!r}")
    samples, sample_seed = table.get("samples", 0), table.get("sample_seed", 0)
    for key, value in (("samples", samples), ("sample_seed", sample_seed)):
        if not (_whole(value) and value >= 0):
            raise SpecError(f"{source}: [sweep] {key} must be a whole number >= 0, "
                            f"got {value!r}")
    _require_countable(source, "[sweep] samples", samples)
    return {"seeds": seeds, "metric": metric, "samples": samples, "sample_seed": sample_seed}


def _refuse_tracking(settings, source):
    for key, instead in TRACKING_KEYS.items():
        if settings.get(key):
            raise SpecError(f"{source}: {key} is not a setting of sweep trials (they run on "
                            f"dask workers that send back only their run files); {instead}")


def _swept(table, section, source):
    """The [grid] or [random] table keyed by canonical setting names, checked as sweepable."""
    out, written = {}, {}
    for key, value in table.items():
        name = config.canonical(key)
        if name not in config.CHECKS:
            raise SpecError(f"{source}: unknown setting {key!r} in [{section}]; valid "
                            f"settings: {', '.join(k for k in config.KEYS if k not in DATA_KEYS)}")
        if name in DATA_KEYS:
            raise SpecError(f"{source}: [{section}] cannot vary {name!r}: a sweep loads its "
                            "data once; run one sweep per dataset")
        _refuse_tracking({name: True}, source)
        if name == "seed":
            raise SpecError(f"{source}: [{section}] cannot vary seed; set [sweep] seeds = N "
                            "(or a list) to repeat every point with several seeds")
        try:
            config.once(written, name, key, f"{source} [{section}]")
        except UserError as exc:
            raise SpecError(str(exc)) from None
        out[name] = value
    return out


def _grid_values(key, value, where):
    if isinstance(value, list):
        values = value
    else:
        kind, args = _kind(key, value, "grid", where)
        values = _range(key, args, where) if kind == "range" else _log_range(key, args, where)
    if not values:
        raise SpecError(f"{where}: [grid] {key} has no values")
    return [_check(key, v, "grid", where) for v in values]


def _distribution(key, value, where):
    if isinstance(value, list):
        if not value:
            raise SpecError(f"{where}: [random] {key} has no values")
        return "choice", [_check(key, v, "random", where) for v in value]
    kind, args = _kind(key, value, "random", where)
    if kind == "range":
        return "choice", [_check(key, v, "random", where) for v in _range(key, args, where)]
    low, high = _pair(key, kind, args, where)
    if kind == "log_uniform" and low <= 0:
        raise SpecError(f"{where}: [random] {key} log_uniform needs 0 < low, got {args!r}")
    if kind == "int" and not (_whole(low) and _whole(high)):
        raise SpecError(f"{where}: [random] {key} int needs whole numbers [low, high], "
                        f"got {args!r}")
    for end in (low, high):  # both ends must be settings a trial can train with
        _check(key, end, "random", where)
    return kind, [low, high]


def _kind(key, value, section, where):
    kinds = DISTRIBUTIONS[section]
    if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in kinds):
        raise SpecError(f"{where}: [{section}] {key} must be a list of values or one of "
                        + ", ".join(f"{{ {k} = [...] }}" for k in kinds) + f"; got {value!r}")
    kind = next(iter(value))
    return kind, value[kind]


def _pair(key, kind, args, where):
    if not (isinstance(args, list) and len(args) == 2 and all(_number(a) for a in args)
            and args[0] < args[1]):
        raise SpecError(f"{where}: {key} {kind} needs [low, high] with low < high, got {args!r}")
    return args


def _range(key, args, where):
    """start, start + step, ... up to and including stop."""
    if not (isinstance(args, list) and len(args) == 3 and all(_number(a) for a in args)
            and args[2] > 0 and args[0] <= args[1]):
        raise SpecError(f"{where}: {key} range needs [start, stop, step] with start <= stop "
                        f"and step > 0, got {args!r}")
    start, stop, step = args
    n = int(math.floor((stop - start) / step + 1e-9)) + 1
    if n > 10_000:
        raise SpecError(f"{where}: {key} range gives {n} values; use a larger step")
    values = [start + i * step for i in range(n)]
    return values if all(_whole(a) for a in args) else [round(v, 12) for v in values]


def _log_range(key, args, where):
    """n values from low to high, evenly spaced in log(value)."""
    if not (isinstance(args, list) and len(args) == 3 and _number(args[0]) and
            _number(args[1]) and 0 < args[0] < args[1] and _whole(args[2]) and args[2] >= 2):
        raise SpecError(f"{where}: {key} log_range needs [low, high, count] with "
                        f"0 < low < high and count >= 2, got {args!r}")
    _require_countable(where, f"{key} log_range", args[2])
    values = np.geomspace(args[0], args[1], args[2])
    return [float(f"{v:.6g}") for v in values]


def _check(key, value, section, where):
    try:
        return config.CHECKS[key](key, value)
    except UserError as exc:
        raise SpecError(f"{where}: [{section}] {exc}") from None


def _check_shape(spec):
    both = set(spec.grid) & set(spec.random)
    if both:
        raise SpecError(f"{spec.source}: {sorted(both)[0]!r} is in both [grid] and [random]; "
                        "keep it in one")
    if spec.random and spec.samples < 1:
        raise SpecError(f"{spec.source}: [random] needs [sweep] samples = N (how many draws)")
    if spec.samples and not spec.random:
        raise SpecError(f"{spec.source}: [sweep] samples is set but there is no [random] table")
    points = math.prod(len(values) for values in spec.grid.values()) * max(spec.samples, 1)
    _require_countable(spec.source, "the sweep", points * len(spec.seeds), "trials")
    if not spec.swept and len(spec.seeds) < 2:
        raise SpecError(f"{spec.source}: nothing to sweep; add a [grid] or [random] table "
                        "(or several [sweep] seeds)")


def _require_countable(where, what, n, unit="values"):
    """Refuse a count of trials (or of what multiplies into them) no sweep could run, before
    anything of that size is made."""
    if n > MAX_TRIALS:
        raise SpecError(f"{where}: {what} gives {n:,} {unit}; a sweep runs at most "
                        f"{MAX_TRIALS:,} trials: use fewer values, draws or seeds")


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _whole(v):
    return isinstance(v, int) and not isinstance(v, bool)
