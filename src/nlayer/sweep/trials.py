"""From a Spec to the list of trials: points (grid x random draws) times seeds, stable ids.

A point is the dict of swept settings; its id is a hash of that dict, so the same
settings get the same id on every run of the file (``--resume`` relies on it), and
a trial's id is the point's id and its seed: ``3f9a1c07e2-s1``.
"""

import hashlib
import itertools
import json
import math
from dataclasses import dataclass

import numpy as np

from nlayer.runs import config
from nlayer.runs.errors import UserError

from .spec import Spec, SpecError


@dataclass(frozen=True)
class Trial:
    """One training run: the resolved settings ``cfg`` of ``point`` with ``seed``.

    Made by :func:`expand`.

    Parameters
    ----------
    id : str
        ``"<point_id>-s<seed>"``, the same on every run of the spec.
    point_id : str
        A hash of ``point``.
    index : int
        Position in the sweep (points in order, seeds within a point).
    point : dict
        The swept settings only.
    seed : int
    cfg : dict
        Every setting, as ``nlayer train`` resolves them.

    Examples
    --------
    >>> from nlayer import sweep
    >>> trial = sweep.expand(sweep.parse({"grid": {"hidden": [[8], [16]]}}))[1]
    >>> trial.point, trial.seed, trial.cfg["hidden"], trial.id.endswith("-s0")
    ({'hidden': [16]}, 0, [16], True)
    """

    id: str
    point_id: str
    index: int          # position in the sweep (points in order, seeds within a point)
    point: dict         # the swept settings only
    seed: int
    cfg: dict           # every setting, as ``nlayer train`` resolves them

    @property
    def key(self) -> str:
        """The stem of the trial's dask task key; each sweep run appends a token of its
        own, so that a run never gets the result of an earlier run's task of the same
        trial (on the same client, or on a scheduler where that task still exists)."""
        return f"nlayer-trial-{self.id}"


def point_id(point):
    text = json.dumps(point, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def points(spec):
    """The swept settings of every point: the grid's combinations, each with every draw."""
    grid = [dict(zip(spec.grid, combo)) for combo in itertools.product(*spec.grid.values())]
    draws = _draws(spec) or [{}]
    return [{**g, **d} for g in grid for d in draws]


def _draws(spec):
    rng = np.random.default_rng(spec.sample_seed)
    return [{key: _sample(rng, kind, args) for key, (kind, args) in spec.random.items()}
            for _ in range(spec.samples)]


def _sample(rng, kind, args):
    if kind == "choice":
        return args[int(rng.integers(len(args)))]
    low, high = args
    if kind == "int":
        return int(rng.integers(low, high + 1))
    if kind == "log_uniform":
        return float(f"{math.exp(rng.uniform(math.log(low), math.log(high))):.6g}")
    return float(f"{rng.uniform(low, high):.6g}")


def expand(spec: Spec) -> list[Trial]:
    """Every Trial of the spec, each resolved and checked like ``nlayer train`` settings.

    A point that repeats an earlier one (a random draw equal to another) is trained once.

    Parameters
    ----------
    spec : Spec

    Returns
    -------
    list of Trial
        Points (grid combinations times random draws) in order, each with every seed.

    Raises
    ------
    SpecError
        If a point's settings fail ``nlayer train``'s checks, or ``dev_split`` is not > 0
        (trials are ranked on the development set).

    Examples
    --------
    >>> import nlayer.sweep
    >>> spec = nlayer.sweep.parse({"epochs": 5, "grid": {"lr": [0.01, 0.1]},
    ...                            "sweep": {"seeds": 2}})
    >>> trials = nlayer.sweep.expand(spec)
    >>> [(t.point, t.seed) for t in trials]
    [({'lr': 0.01}, 0), ({'lr': 0.01}, 1), ({'lr': 0.1}, 0), ({'lr': 0.1}, 1)]
    >>> trials[0].cfg["epochs"], trials[0].id.endswith("-s0")
    (5, True)
    """
    trials: list[Trial] = []
    seen: set[str] = set()
    for point in points(spec):
        pid = point_id(point)
        if pid in seen:  # e.g. a random draw that repeats a choice: train it once
            continue
        seen.add(pid)
        for seed in spec.seeds:
            try:
                cfg = config.resolve({**spec.base, **point, "seed": seed})
            except UserError as exc:  # the train settings' own checks
                raise SpecError(f"{spec.source}: point {point}: {exc}") from None
            if cfg["dev_split"] <= 0:
                raise SpecError(f"{spec.source}: a sweep ranks trials on the development set; "
                                "dev_split must be > 0 (e.g. dev_split = 0.1)")
            trials.append(Trial(id=f"{pid}-s{seed}", point_id=pid, index=len(trials),
                                point=point, seed=seed, cfg=cfg))
    return trials
