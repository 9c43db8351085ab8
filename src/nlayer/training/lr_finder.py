"""The learning-rate range test (Smith, 2017): train briefly while the rate grows, watch J.

``lr_find(model, X, y)`` trains a copy of the model with the same optimiser
whose rate grows exponentially from ``start_lr`` to ``end_lr`` over ``steps``
mini-batches, and records the batch cost J at each rate. The loss first barely
moves (rate too small), then falls, then blows up (rate too large). The model
itself is untouched: its weights, optimiser state and history stay as they were.

The suggestion is a heuristic, not a measurement of the best rate: the rate
where the smoothed loss falls fastest per decade of rate, before its minimum.
Look at the curve (``nlayer lr-find`` plots it) rather than trusting the number.
"""

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import optimizers
from ..callbacks import Callback
from ..errors import TrainingDivergedError
from ..optimizers.schedules import Schedule

__all__ = ["lr_find", "LRFinderResult"]


class _Sweep(Schedule):
    """``start * (end / start) ** (step / (steps - 1))``: the range test's exponential sweep."""

    name = "sweep"

    def __init__(self, start, end, steps):
        super().__init__()
        self.start, self.end, self.steps = start, end, steps

    @property
    def initial_lr(self):
        return self.start

    def __call__(self, step):
        return self.start * (self.end / self.start) ** (min(step, self.steps - 1) /
                                                        max(self.steps - 1, 1))


class _Recorder(Callback):
    """Records each batch's J, smooths it, and stops at ``steps`` batches or on divergence."""

    def __init__(self, steps, smoothing, diverge):
        self.steps, self.beta, self.diverge = steps, smoothing, diverge
        self.raw, self.smooth, self.average, self.best = [], [], 0.0, math.inf
        self.diverged = False

    def on_batch_end(self, batch, logs=None):
        loss = float(logs["loss"])
        self.raw.append(loss)
        self.average = self.beta * self.average + (1 - self.beta) * loss
        smooth = self.average / (1 - self.beta ** len(self.raw))  # bias-corrected EMA
        self.smooth.append(smooth)
        self.best = min(self.best, smooth)
        if len(self.raw) >= self.steps:
            self.model.stop_training = True
        elif len(self.raw) > 1 and smooth > self.diverge * self.best:
            self.diverged = self.model.stop_training = True


@dataclass
class LRFinderResult:
    """What the range test saw: one entry per mini-batch.

    ``rates[i]`` is the rate of batch i, ``losses[i]`` the smoothed J (an
    exponential moving average with bias correction) and ``raw_losses[i]`` the
    batch's own J. ``suggestion`` is a heuristic (see the module's docstring);
    ``min_loss_lr`` is the rate at the lowest smoothed loss; ``diverged`` says
    whether the sweep stopped because the loss blew up.

    Parameters
    ----------
    rates, losses, raw_losses : ndarray
    suggestion, min_loss_lr : float
    diverged : bool
    settings : dict
        The arguments of the sweep.

    Examples
    --------
    See :func:`lr_find`.
    """

    rates: np.ndarray
    losses: np.ndarray
    raw_losses: np.ndarray
    suggestion: float
    min_loss_lr: float
    diverged: bool
    settings: dict = field(default_factory=dict)

    def __repr__(self):  # the arrays are long: their length, and the numbers one reads
        return (f"LRFinderResult(steps={len(self.rates)}, suggestion={self.suggestion:.3g}, "
                f"min_loss_lr={self.min_loss_lr:.3g}, diverged={self.diverged})")

    def to_dict(self) -> dict[str, Any]:
        return {"rates": self.rates.tolist(), "losses": self.losses.tolist(),
                "raw_losses": self.raw_losses.tolist(), "suggestion": self.suggestion,
                "min_loss_lr": self.min_loss_lr, "diverged": self.diverged,
                "settings": self.settings}


# model: a compiled Sequential, typed Any: nlayer.model imports nlayer.training, so naming its
# class here would be an import circle (tests/test_package_layout.py)
def lr_find(model: Any, X: ArrayLike, y: ArrayLike, start_lr: float = 1e-6,
            end_lr: float = 10.0, steps: int = 200, batch_size: int = 32,
            smoothing: float = 0.9, diverge: float = 4.0,
            seed: int | None = 0) -> LRFinderResult:
    """Run the learning-rate range test on a copy of ``model``; returns :class:`LRFinderResult`.

    The copy trains with the model's optimiser (same kind and hyper-parameters,
    fresh state) for at most ``steps`` mini-batches of ``batch_size`` rows,
    its rate growing exponentially from ``start_lr`` to ``end_lr``; it stops
    early once the smoothed loss exceeds ``diverge`` times its lowest value.
    ``smoothing`` is the moving average's beta: higher is smoother but lags the
    rate more (about ``1 / (1 - beta)`` batches).
    ``model`` must be compiled; an unbuilt model stays unbuilt.

    Parameters
    ----------
    model : Sequential
        A compiled model (not modified).
    X, y : array_like
        Training rows and targets.
    start_lr, end_lr : float, default 1e-6 and 10.0
        The sweep's first and last rate (> 0, ``end_lr > start_lr``).
    steps : int, default 200
        At least 5.
    batch_size : int, default 32
    smoothing : float, default 0.9
        In [0, 1).
    diverge : float, default 4.0
        > 1.
    seed : int or None, default 0

    Returns
    -------
    LRFinderResult

    Raises
    ------
    RuntimeError
        If the model is not compiled.
    ValueError
        If a setting is out of range, or fewer than 2 batches were recorded.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> X, y = np.random.default_rng(0).normal(size=(256, 4)), np.arange(256) % 2
    >>> model = nl.MLP(hidden=(16,)).compile(optimizer=nl.SGD(momentum=0.9))
    >>> result = nl.lr_find(model, X, y, start_lr=1e-4, end_lr=10.0, steps=40)
    >>> len(result.rates), float(result.rates[0]), bool(1e-4 < result.suggestion < 10)
    (40, 0.0001, True)
    >>> model.built                                      # the model itself is untouched
    False
    """
    if not getattr(model, "compiled", False):
        raise RuntimeError("the model is not compiled; call model.compile(optimizer=...) "
                           "before lr_find")
    start_lr = optimizers.check_number("lr_find", "start_lr", start_lr, low_open=True)
    end_lr = optimizers.check_number("lr_find", "end_lr", end_lr, low_open=True)
    if end_lr <= start_lr:
        raise ValueError(f"lr_find end_lr ({end_lr:g}) must be larger than start_lr "
                         f"({start_lr:g})")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 5:
        raise ValueError(f"lr_find steps must be a whole number >= 5, got {steps!r}")
    smoothing = optimizers.check_number("lr_find", "smoothing", smoothing, 0, 1)
    diverge = optimizers.check_number("lr_find", "diverge", diverge, 1, low_open=True)

    trial = copy.deepcopy(model)  # the model's arrays and optimiser are never touched
    config = {**model.optimizer.get_config(), "lr": _Sweep(start_lr, end_lr, steps)}
    config.pop("name")
    trial.optimizer = type(model.optimizer)(**config)
    recorder = _Recorder(steps, smoothing, diverge)
    rows = np.shape(X)[0] if np.ndim(X) else 0
    batches = max(1, -(-rows // batch_size))
    diverged = False
    try:
        trial.fit(X, y, epochs=-(-steps // batches), batch_size=batch_size, seed=seed,
                  callbacks=[recorder])
    except TrainingDivergedError:
        diverged = True  # J became inf/NaN: the sweep is over
    if len(recorder.raw) < 2:
        raise ValueError("lr_find recorded fewer than 2 batches; give more rows or steps")
    n = len(recorder.raw)
    sweep = trial.optimizer.schedule
    rates = np.array([sweep(i) for i in range(n)])
    losses, raw = np.array(recorder.smooth), np.array(recorder.raw)
    suggestion, at_min = _suggest(rates, losses, smoothing)
    return LRFinderResult(rates, losses, raw, suggestion, at_min,
                          diverged or recorder.diverged,
                          {"start_lr": start_lr, "end_lr": end_lr, "steps": steps,
                           "batch_size": batch_size, "smoothing": smoothing,
                           "diverge": diverge, "seed": seed})


def _suggest(rates, losses, smoothing):
    """(rate where the smoothed loss falls steepest per decade before its minimum, rate at
    the minimum).

    Robust to the noise of the first batches: the moving average's warm-up (its first
    ``1 / (1 - smoothing)`` values lean on a few batches) is left out, and the slope at each
    rate is a least-squares line over the rates within 1/8 decade of it, not a difference of
    neighbours. Without such a stretch before the minimum: a tenth of the minimum's rate.
    """
    low = int(np.argmin(losses))
    at_min = float(rates[low])
    skip = math.ceil(1 / (1 - smoothing)) if smoothing < 1 else len(rates)
    log_rates = np.log10(rates)
    half = max(2, int(round(0.125 / float(np.mean(np.diff(log_rates))))))
    steepest, where = 0.0, None
    for i in range(skip, low + 1):
        a, b = max(skip, i - half), min(low, i + half)
        if b - a < 2:
            continue
        slope = np.polyfit(log_rates[a:b + 1], losses[a:b + 1], 1)[0]
        if slope < steepest:
            steepest, where = slope, i
    return (float(rates[where]) if where is not None else at_min / 10), at_min
