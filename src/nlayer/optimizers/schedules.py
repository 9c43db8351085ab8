"""Learning-rate schedules: the rate alpha as a pure function of the optimiser's step.

A schedule is given where a learning rate goes, ``SGD(lr=OneCycle(0.1))``, for
every optimiser. The optimiser keeps ``lr`` a plain float, the rate of its next
update: after each step it sets ``lr = schedule(iterations)``, where
``iterations`` counts the updates made so far (0 before the first). Nothing else
is remembered, so the schedule's position is the optimiser's ``iterations`` and a
resumed run continues exactly.

Schedules described in epochs need the number of steps (mini-batches) per epoch,
and :class:`CosineDecay` and :class:`OneCycle` the length of the run. Give them
(``steps_per_epoch=``, ``epochs=``) or let ``fit`` tell them: at the start of
training it calls :meth:`Schedule.bind` with its batches per epoch and epochs,
which fills in only what was not given.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Literal, overload

from ..utils.registry import build

__all__ = ["Schedule", "StepDecay", "ExponentialDecay", "CosineDecay", "OneCycle", "get"]


@overload
def _number(owner: str, name: str, value: float, low: float = ..., high: float = ...,
            low_open: bool = ..., high_open: bool = ..., optional: Literal[False] = ...) -> float:
    ...


@overload
def _number(owner: str, name: str, value: float | None, low: float = ..., high: float = ...,
            low_open: bool = ..., high_open: bool = ..., *,
            optional: Literal[True]) -> float | None:
    ...


def _number(owner: str, name: str, value: float | None, low: float = 0.0,
            high: float = math.inf, low_open: bool = True, high_open: bool = True,
            optional: bool = False) -> float | None:
    """``float(value)`` after checking its type and range (a clear error otherwise)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner} {name} must be a number, got {value!r} "
                        f"({type(value).__name__})")
    value = float(value)
    inside = (value > low if low_open else value >= low) and \
        (value < high if high_open else value <= high)
    if not math.isfinite(value) or not inside:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{owner} {name} must be a number in {lo}{low:g}, {high:g}{hi}, "
                         f"got {value!r}")
    return value


def _whole(owner: str, name: str, value: int | None, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner} {name} must be a whole number >= 1, got {value!r}")
    return int(value)


class Schedule:
    """Base class: ``schedule(step) -> lr``; ``step`` counts the updates already made.

    Parameters
    ----------
    steps_per_epoch : int, optional
        Optimiser steps (mini-batches) per epoch, >= 1, for schedules counted in epochs;
        ``None`` lets ``fit`` fill it in through :meth:`bind`.

    Raises
    ------
    ValueError
        If ``steps_per_epoch`` is not a whole number >= 1.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> class Halve(nl.schedules.Schedule):  # defines __call__ and initial_lr
    ...     initial_lr = 0.1
    ...     def __call__(self, step):
    ...         return 0.1 / 2 ** step
    >>> opt, w = nl.SGD(lr=Halve()), np.array([1.0])
    >>> opt.step([w], [np.array([1.0])])
    >>> opt.lr, w
    (0.05, array([0.9]))
    """

    name = "schedule"
    #: keys of get_config (besides name), in constructor order
    _keys: tuple[str, ...] = ()

    def __init__(self, steps_per_epoch: int | None = None) -> None:
        self.steps_per_epoch = _whole(type(self).__name__, "steps_per_epoch", steps_per_epoch)
        self._given = {"steps_per_epoch": self.steps_per_epoch is not None}
        self._bound_epochs: int | None = None

    @property
    def initial_lr(self) -> float:
        """The nominal rate shown before training (``lr`` of an unbound schedule)."""
        raise NotImplementedError

    def bind(self, steps_per_epoch: int, epochs: int) -> None:
        """Hook called by ``fit`` before the first batch: the run's batches per epoch and
        epochs. Fills in what the constructor was not given; given values win."""
        if not self._given["steps_per_epoch"]:
            self.steps_per_epoch = int(steps_per_epoch)
        self._bound_epochs = int(epochs)

    def _steps(self, epochs: float, what: str) -> float:
        """``epochs`` (a float) in optimiser steps."""
        if self.steps_per_epoch is None:
            raise ValueError(f"{type(self).__name__} counts {what} in epochs and needs "
                             "steps_per_epoch; give it, or train with fit (which tells it)")
        return epochs * self.steps_per_epoch

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def momentum(self, step: int) -> float | None:
        """SGD momentum at ``step`` for schedules that cycle it, else None."""
        return None

    @property
    def initial_momentum(self) -> float | None:
        """The momentum before the first step when the schedule cycles it, else None."""
        return None

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name}
        for key in self._keys:
            config[key] = getattr(self, key) if self._given.get(key, True) else None
        return config

    def get_state(self) -> dict[str, Any]:
        """The values ``bind`` filled in (JSON); the position is the optimiser's iterations."""
        return {"steps_per_epoch": self.steps_per_epoch, "epochs": self._bound_epochs}

    def set_state(self, state: dict[str, Any]) -> None:
        if state.get("steps_per_epoch") is not None:
            self.bind(state["steps_per_epoch"], state.get("epochs") or 0)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class StepDecay(Schedule):
    """``lr = lr0 * factor ** floor(epoch / every)``: the rate drops by ``factor`` every
    ``every`` epochs (PyTorch ``StepLR``); ``epoch = step / steps_per_epoch``.

    Parameters
    ----------
    lr : float
        The starting rate lr0 > 0.
    factor : float, default 0.1
        In (0, 1].
    every : float, default 10
        Epochs between drops (> 0; may be fractional).
    steps_per_epoch : int, optional

    Raises
    ------
    TypeError, ValueError
        If a number is not a number or out of range. Calling the schedule
        without ``steps_per_epoch`` (neither given nor bound by ``fit``) is a ValueError.

    Examples
    --------
    >>> import nlayer as nl
    >>> s = nl.schedules.StepDecay(0.1, factor=0.5, every=2, steps_per_epoch=10)
    >>> [round(s(step), 4) for step in (0, 19, 20, 40)]
    [0.1, 0.1, 0.05, 0.025]
    """

    name = "step"
    _keys = ("lr", "factor", "every", "steps_per_epoch")

    def __init__(self, lr: float, factor: float = 0.1, every: float = 10,
                 steps_per_epoch: int | None = None) -> None:
        super().__init__(steps_per_epoch)
        self.lr = _number("StepDecay", "lr", lr)
        self.factor = _number("StepDecay", "factor", factor, 0, 1, high_open=False)
        self.every = _number("StepDecay", "every", every)

    @property
    def initial_lr(self) -> float:
        return self.lr

    def __call__(self, step: int) -> float:
        return self.lr * self.factor ** math.floor(step / self._steps(self.every, "every"))


class ExponentialDecay(Schedule):
    """``lr = lr0 * rate ** (epoch / every)`` (Keras ``ExponentialDecay``; with
    ``staircase`` the exponent is floored, so the rate changes every ``every`` epochs).

    Parameters
    ----------
    lr : float
        The starting rate lr0 > 0.
    rate : float, default 0.9
        The factor over each ``every`` epochs, in (0, 1].
    every : float, default 1
        Epochs per factor ``rate`` (> 0).
    staircase : bool, default False
    steps_per_epoch : int, optional

    Raises
    ------
    TypeError, ValueError
        As :class:`StepDecay`'s.

    Examples
    --------
    >>> import nlayer as nl
    >>> s = nl.schedules.ExponentialDecay(0.1, rate=0.5, steps_per_epoch=4)
    >>> [round(s(step), 4) for step in (0, 2, 4)]
    [0.1, 0.0707, 0.05]
    """

    name = "exponential"
    _keys = ("lr", "rate", "every", "staircase", "steps_per_epoch")

    def __init__(self, lr: float, rate: float = 0.9, every: float = 1, staircase: bool = False,
                 steps_per_epoch: int | None = None) -> None:
        super().__init__(steps_per_epoch)
        self.lr = _number("ExponentialDecay", "lr", lr)
        self.rate = _number("ExponentialDecay", "rate", rate, 0, 1, high_open=False)
        self.every = _number("ExponentialDecay", "every", every)
        self.staircase = bool(staircase)

    @property
    def initial_lr(self) -> float:
        return self.lr

    def __call__(self, step: int) -> float:
        p = step / self._steps(self.every, "every")
        return self.lr * self.rate ** (math.floor(p) if self.staircase else p)


class CosineDecay(Schedule):
    """Linear warm-up over ``warmup`` epochs, then half a cosine from ``lr`` to ``final_lr``
    over the rest of ``epochs`` (Loshchilov & Hutter without restarts)::

        warm-up (step < W):  lr (step + 1) / W
        then:                final + (lr - final) (1 + cos(pi t)) / 2,  t = (step - W) / (T - W)

    ``T = epochs * steps_per_epoch``; past T the rate stays ``final_lr``.

    Parameters
    ----------
    lr : float
        The peak rate > 0, reached at the end of the warm-up.
    epochs : float, optional
        Warm-up plus decay (> 0); ``None`` takes the run's epochs from ``fit``.
    final_lr : float, default 0.0
        In [0, ``lr``].
    warmup : float, default 0.0
        Epochs of linear warm-up (>= 0, fewer than ``epochs``).
    steps_per_epoch : int, optional

    Raises
    ------
    TypeError, ValueError
        If a number is not a number or out of range, or ``warmup >= epochs``. Calling
        the schedule before it knows ``epochs`` and ``steps_per_epoch`` is a ValueError.

    Examples
    --------
    >>> import nlayer as nl
    >>> s = nl.schedules.CosineDecay(0.1, epochs=10, warmup=1, steps_per_epoch=10)
    >>> [round(s(step), 4) for step in (0, 9, 55, 100, 200)]
    [0.01, 0.1, 0.05, 0.0, 0.0]
    """

    name = "cosine"
    _keys = ("lr", "epochs", "final_lr", "warmup", "steps_per_epoch")

    def __init__(self, lr: float, epochs: float | None = None, final_lr: float = 0.0,
                 warmup: float = 0.0, steps_per_epoch: int | None = None) -> None:
        super().__init__(steps_per_epoch)
        self.lr = _number("CosineDecay", "lr", lr)
        self.epochs = _number("CosineDecay", "epochs", epochs, optional=True)
        self._given["epochs"] = self.epochs is not None
        self.final_lr = _number("CosineDecay", "final_lr", final_lr, 0, self.lr, low_open=False,
                                high_open=False)
        self.warmup = _number("CosineDecay", "warmup", warmup, 0, low_open=False)
        if self.epochs is not None and self.warmup >= self.epochs:
            raise ValueError(f"CosineDecay warmup ({self.warmup:g} epochs) must be shorter "
                             f"than epochs ({self.epochs:g})")

    @property
    def initial_lr(self) -> float:
        return self.lr

    def bind(self, steps_per_epoch: int, epochs: int) -> None:
        super().bind(steps_per_epoch, epochs)
        if not self._given["epochs"]:
            self.epochs = float(epochs)

    def __call__(self, step: int) -> float:
        if self.epochs is None:
            raise ValueError("CosineDecay needs epochs (the length of the decay); give it, "
                             "or train with fit (which tells it)")
        warm = self._steps(self.warmup, "warmup")
        if step < warm:
            return self.lr * (step + 1) / warm
        total = self._steps(self.epochs, "epochs")
        t = min(1.0, (step - warm) / (total - warm)) if total > warm else 1.0
        return self.final_lr + (self.lr - self.final_lr) * (1 + math.cos(math.pi * t)) / 2


class OneCycle(Schedule):
    """The one-cycle policy (Smith & Topin, 2017), as PyTorch's ``OneCycleLR``.

    The rate climbs from ``max_lr / div`` to ``max_lr`` over the first ``warmup``
    share of the ``T = epochs * steps_per_epoch`` steps, then anneals to
    ``max_lr / (div * final_div)`` at step T - 1; both halves follow a cosine.
    With ``momentum=(low, high)`` SGD's momentum moves the other way: high to low
    while the rate climbs, back to high while it anneals (SGD only).

    Parameters
    ----------
    max_lr : float
        The peak rate > 0.
    epochs : float, optional
        The cycle's length (> 0); ``None`` takes the run's epochs from ``fit``.
    warmup : float, default 0.3
        The climb's share of the cycle, in (0, 1).
    div, final_div : float, default 25.0, 1e4
        The rate starts at ``max_lr / div`` and ends ``final_div`` times lower (both >= 1).
    momentum_range : (float, float), optional
        ``(low, high)``, in (0, 1), ``low <= high``; ``None`` leaves the momentum alone.
    steps_per_epoch : int, optional

    Raises
    ------
    TypeError, ValueError
        If a number is not a number or out of range, or ``momentum_range`` is not such a
        pair. Calling it before it knows ``epochs`` and ``steps_per_epoch`` is a ValueError.

    Examples
    --------
    >>> import nlayer as nl
    >>> s = nl.schedules.OneCycle(0.1, epochs=10, steps_per_epoch=10, momentum_range=(0.85, 0.95))
    >>> s.initial_lr, round(s(29), 4), f"{s(99):.1e}", round(s.momentum(29), 2)
    (0.004, 0.1, '4.0e-07', 0.85)
    """

    name = "onecycle"
    _keys = ("max_lr", "epochs", "warmup", "div", "final_div", "momentum_range",
             "steps_per_epoch")

    def __init__(self, max_lr: float, epochs: float | None = None, warmup: float = 0.3,
                 div: float = 25.0, final_div: float = 1e4,
                 momentum_range: tuple[float, float] | list[float] | None = None,
                 steps_per_epoch: int | None = None) -> None:
        super().__init__(steps_per_epoch)
        self.max_lr = _number("OneCycle", "max_lr", max_lr)
        self.epochs = _number("OneCycle", "epochs", epochs, optional=True)
        self._given["epochs"] = self.epochs is not None
        self.warmup = _number("OneCycle", "warmup", warmup, 0, 1)
        self.div = _number("OneCycle", "div", div, 1, low_open=False)
        self.final_div = _number("OneCycle", "final_div", final_div, 1, low_open=False)
        if momentum_range is not None:
            if not isinstance(momentum_range, (tuple, list)) or len(momentum_range) != 2:
                raise ValueError("OneCycle momentum_range must be a pair (low, high), "
                                 f"got {momentum_range!r}")
            low, high = (_number("OneCycle", "momentum_range", m, 0, 1) for m in momentum_range)
            if low > high:
                raise ValueError(f"OneCycle momentum_range must be (low, high) with low <= high, "
                                 f"got {momentum_range!r}")
            momentum_range = [low, high]
        self.momentum_range = momentum_range

    @property
    def initial_lr(self) -> float:
        return self.max_lr / self.div

    @property
    def initial_momentum(self) -> float | None:
        return None if self.momentum_range is None else self.momentum_range[1]

    def bind(self, steps_per_epoch: int, epochs: int) -> None:
        super().bind(steps_per_epoch, epochs)
        if not self._given["epochs"]:
            self.epochs = float(epochs)

    def _phase(self, step: int) -> tuple[int, int, float]:
        """(start, end, share of the way) of the half that ``step`` falls in."""
        if self.epochs is None:
            raise ValueError("OneCycle needs epochs (the length of the cycle); give it, "
                             "or train with fit (which tells it)")
        total = self._steps(self.epochs, "epochs")
        peak = self.warmup * total - 1
        if step <= peak:
            return 0, 1, step / peak
        t = (step - peak) / (total - 1 - peak) if total - 1 > peak else 1.0
        return 1, 2, min(1.0, t)

    @staticmethod
    def _anneal(start: float, end: float, t: float) -> float:
        return end + (start - end) / 2 * (math.cos(math.pi * t) + 1)

    def __call__(self, step: int) -> float:
        start, end, t = self._phase(step)
        low = self.max_lr / self.div
        points = (low, self.max_lr, low / self.final_div)
        return self._anneal(points[start], points[end], t)

    def momentum(self, step: int) -> float | None:
        if self.momentum_range is None:
            return None
        start, end, t = self._phase(step)
        low, high = self.momentum_range
        points = (high, low, high)
        return self._anneal(points[start], points[end], t)


#: The flat choices of the command line: a schedule's name, or "constant"/"plateau" (no
#: schedule: a constant rate, which ReduceLROnPlateau may lower).
CHOICES = ("constant", "step", "exponential", "cosine", "onecycle", "plateau")


def from_settings(name: str, lr: float, epochs: int, warmup: float | None = None,
                  factor: float | None = None, every: float | None = None, min_lr: float = 0.0,
                  momentum_range: tuple[float, float] | list[float] | None = None
                  ) -> Schedule | None:
    """The schedule the flat settings of the command line describe, or None for a
    constant rate ("constant", "plateau"). ``lr`` is the peak rate; ``warmup`` is in
    epochs (cosine: linear warm-up; onecycle: the climb, default 30% of ``epochs``);
    ``factor`` and ``every`` are the decay's (step: 0.1 every 10 epochs; exponential:
    0.9 every epoch); ``min_lr`` is cosine's final rate; ``momentum_range`` is
    onecycle's (low, high) SGD momentum or None."""
    if name not in CHOICES:
        raise ValueError(f"unknown schedule {name!r}; valid names: {', '.join(CHOICES)}")
    if name in ("constant", "plateau"):
        return None
    options: dict[str, Any] = {k: v for k, v in (("factor", factor), ("every", every))
                               if v is not None}
    if name == "step":
        return StepDecay(lr, **options)
    if name == "exponential":
        if "factor" in options:
            options["rate"] = options.pop("factor")
        return ExponentialDecay(lr, **options)
    if name == "cosine":
        return CosineDecay(lr, epochs=epochs, final_lr=min_lr, warmup=warmup or 0.0)
    share = 0.3 if warmup is None else warmup / epochs
    if not 0 < share < 1:
        raise ValueError(f"onecycle warmup must be between 0 and epochs ({epochs}), "
                         f"got {warmup!r}")
    return OneCycle(lr, epochs=epochs, warmup=share, momentum_range=momentum_range)


_REGISTRY = {"step": StepDecay, "exponential": ExponentialDecay, "cosine": CosineDecay,
             "onecycle": OneCycle}
NAMES = tuple(_REGISTRY)


def get(spec: Schedule | dict[str, Any]) -> Schedule:
    """A :class:`Schedule` from an instance or a config dict ``{"name": ..., ...}``.

    Parameters
    ----------
    spec : Schedule or dict
        An instance (returned as is), or a dict of ``"name"`` (``"step"``, ``"exponential"``,
        ``"cosine"``, ``"onecycle"``) and the constructor's arguments.

    Returns
    -------
    Schedule

    Raises
    ------
    TypeError
        If ``spec`` is a bare name (a schedule needs its rate) or of another type.
    ValueError
        If the name is unknown or the constructor rejects the arguments.

    Examples
    --------
    >>> import nlayer as nl
    >>> nl.schedules.get({"name": "cosine", "lr": 0.1, "epochs": 5})
    CosineDecay(lr=0.1, epochs=5.0, final_lr=0.0, warmup=0.0, steps_per_epoch=None)
    """
    if isinstance(spec, str):
        raise TypeError(f"a schedule needs its settings: give a dict {{'name': {spec!r}, ...}} "
                        "or an instance such as nl.schedules.OneCycle(0.1)")
    return build(spec, Schedule, _REGISTRY, "schedule")
