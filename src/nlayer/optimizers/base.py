"""The optimiser interface: state, steps, schedules, gradient scale and weight decay
(the formulas common to all are in :mod:`nlayer.optimizers`)."""

from __future__ import annotations

import math
import numbers
import weakref
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import schedules
from ..utils.fastpaths import zeros_on_huge_pages

__all__ = ["Optimizer", "check_number"]


def check_number(owner: str, name: str, value: float, low: float = 0.0, high: float = math.inf,
                 low_open: bool = False, high_open: bool = True) -> float:
    """``float(value)``, or a TypeError/ValueError naming the parameter, value and range."""
    return schedules._number(owner, name, value, low, high, low_open, high_open)


class Optimizer:
    """Base class: learning rate ``lr`` (a number or a schedule), ``weight_decay`` and
    per-parameter state made on first use.

    A subclass sets ``name`` and implements ``_update(p, g, state)``, which updates one
    parameter ``p`` in place from ``g = gradient_scale * dJ/dp`` (and ``_init_state(p)``
    if it keeps per-parameter arrays).

    Parameters
    ----------
    lr : float, Schedule or dict
        Learning rate > 0, or a schedule from :mod:`nlayer.schedules` (or its config dict).
    weight_decay : float, default 0.0
        >= 0; how a subclass applies it is its own.

    Raises
    ------
    TypeError
        If ``lr`` is neither a number nor a schedule, or ``weight_decay`` is not a number.
    ValueError
        If a number is out of range, a config dict is not a valid schedule, or the schedule
        cycles momentum and this optimiser cannot (only SGD can).

    Examples
    --------
    Plain gradient descent, ``w <- w - lr g``:

    >>> import numpy as np, nlayer as nl
    >>> class PlainGD(nl.Optimizer):
    ...     name = "plain_gd"
    ...     def _update(self, p, g, state):
    ...         p -= self.lr * g
    >>> w = np.array([1.0])
    >>> PlainGD(lr=0.1).step([w], [np.array([0.5])])
    >>> w
    array([0.95])
    """

    #: whether a schedule's ``momentum_range`` may drive this optimiser's momentum (SGD's)
    cycles_momentum = False

    name = "optimizer"
    momentum: float  # SGD's, which a schedule's momentum_range may cycle

    def __init__(self, lr: float | schedules.Schedule | dict[str, Any],
                 weight_decay: float = 0.0) -> None:
        owner = type(self).__name__
        self.schedule: schedules.Schedule | None = None
        if isinstance(lr, dict):
            lr = schedules.get(lr)
        if isinstance(lr, schedules.Schedule):
            self.schedule, lr = lr, lr.initial_lr
        elif isinstance(lr, bool) or not isinstance(lr, numbers.Real):
            raise TypeError(f"{owner} lr (learning rate) must be a positive number or a schedule from "
                            f"nl.schedules, got {lr!r} ({type(lr).__name__})")
        self.lr = check_number(owner, "lr (learning rate)", lr, low_open=True)
        self.weight_decay = check_number(owner, "weight_decay", weight_decay)
        self.iterations = 0
        # slot number -> that parameter's arrays (velocity, moments)
        self.state: dict[int, dict[str, NDArray[Any]]] = {}
        if self.schedule is not None and self.schedule.initial_momentum is not None and \
                not self.cycles_momentum:
            raise ValueError(f"{owner} cannot cycle momentum; use SGD with the schedule's "
                             "momentum_range, or give the schedule momentum_range=None")

    @property
    def gradient_scale(self) -> float:
        """The factor ``s`` this optimiser would like its gradients to arrive multiplied by."""
        return 1.0

    def step(self, params: Sequence[NDArray[Any]], grads: Sequence[NDArray[Any]],
             scale: float = 1.0) -> None:
        """Update every parameter in place from its gradient (slot i's state follows params[i]).

        ``grads[i]`` holds ``scale`` times the gradient of ``params[i]``.
        """
        scale = float(scale)
        if not scale > 0 or not math.isfinite(scale):  # math: np.isfinite costs 0.5 us a step
            raise ValueError(f"gradient scale must be a positive number, got {scale}")
        self.iterations += 1
        for slot, (p, g) in enumerate(zip(params, grads)):
            state = self.state.get(slot)
            if state is None:
                state = self.state[slot] = self._init_state(p)
            if scale != self.gradient_scale:  # bring g to the scale _update expects
                g *= p.dtype.type(self.gradient_scale / scale)
            self._update(p, g, state)
        if self.schedule is not None:
            self._follow_schedule()

    def _follow_schedule(self) -> None:
        """Set lr (and a cycled momentum) for the next update from the schedule."""
        schedule = cast(schedules.Schedule, self.schedule)  # called only with a schedule
        self.lr = schedule(self.iterations)
        momentum = schedule.momentum(self.iterations)
        if momentum is not None:
            self.momentum = momentum

    def begin_training(self, steps_per_epoch: int, epochs: int) -> None:
        """Hook called by ``fit`` before the first batch: tells a schedule the run's length."""
        if self.schedule is not None:
            self.schedule.bind(steps_per_epoch, epochs)
            self._follow_schedule()

    def _init_state(self, p: NDArray[Any]) -> dict[str, NDArray[Any]]:
        return {}

    @staticmethod
    def _zeros_like(p: NDArray[Any]) -> NDArray[Any]:
        """State array for p (on huge pages when large: every step sweeps it)."""
        return zeros_on_huge_pages(p.size, p.dtype).reshape(p.shape)

    def _update(self, p: NDArray[Any], g: NDArray[Any], s: dict[str, NDArray[Any]]) -> None:
        """One update of p from ``g = gradient_scale * dJ/dp`` (g may be overwritten)."""
        raise NotImplementedError

    def bind(self, model: Any) -> None:  # a Sequential (which imports the optimisers)
        """Tie this optimiser (its state follows the parameters) to ``model``.

        ``compile`` calls it. An optimiser already compiled into another model that is
        still alive is refused: the two would share velocities and moments. One whose
        model is gone starts afresh (:meth:`reset`)."""
        owner = self.__dict__.get("_model")
        other = owner() if owner is not None else None
        if other is model:
            return
        if other is not None:
            raise ValueError(f"this {type(self).__name__} instance is already compiled into "
                             f"another model ({other.name!r}), and its state belongs to that "
                             "model's weights; give each model its own optimiser, e.g. "
                             "nl.optimizers.get(optimizer.get_config())")
        if owner is not None:
            self.reset()
        self._model = weakref.ref(model)

    def __getstate__(self) -> dict[str, Any]:
        # a copy (deepcopy, pickle) belongs to no model until it is compiled into one
        return {k: v for k, v in self.__dict__.items() if k != "_model"}

    def reset(self) -> None:
        """Forget every slot's state and start the schedule (if any) again."""
        self.state, self.iterations = {}, 0
        if self.schedule is not None:
            self.lr = self.schedule.initial_lr
            if self.schedule.initial_momentum is not None:
                self.momentum = self.schedule.initial_momentum

    # -- state for checkpoints (plain arrays, no pickling) ----------------------
    def get_state(self) -> dict[str, Any]:
        """Copies of the iteration count, learning rate and every slot's arrays (and, with
        a schedule, the run length ``fit`` told it, under ``"schedule"``)."""
        slots = {i: {k: v.copy() for k, v in s.items()} for i, s in self.state.items()}
        state: dict[str, Any] = {"iterations": self.iterations, "lr": self.lr, "slots": slots}
        if self.schedule is not None:
            state["schedule"] = self.schedule.get_state()
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        self.iterations, self.lr = int(state["iterations"]), float(state["lr"])
        self.state = {int(i): {k: self._copy(v) for k, v in s.items()}
                      for i, s in state["slots"].items()}
        if self.schedule is not None:  # the position is the iteration count
            self.schedule.set_state(state.get("schedule") or {})
            try:
                self._follow_schedule()
            except ValueError:  # not bound yet: fit's begin_training sets lr
                pass

    @classmethod
    def _copy(cls, a: ArrayLike) -> NDArray[Any]:
        a = np.asarray(a)
        out = cls._zeros_like(a)
        out[...] = a
        return out

    def get_config(self) -> dict[str, Any]:
        config = {"name": self.name, "lr": self._lr_config()}
        if self.weight_decay:
            config["weight_decay"] = self.weight_decay
        return config

    def _lr_config(self) -> float | dict[str, Any]:
        return self.schedule.get_config() if self.schedule is not None else self.lr

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"
