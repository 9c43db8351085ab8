"""SGD with momentum (heavy-ball or Nesterov) in the PyTorch/Keras form
``v = mu v - lr g; w += v``."""

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .base import Optimizer, check_number
from .schedules import Schedule

__all__ = ["SGD"]


class SGD(Optimizer):
    """Mini-batch gradient descent with (Nesterov) momentum, PyTorch/Keras form::

        v <- mu v - lr g
        w <- w + v                     (nesterov: w <- w + mu v - lr g)

    The article's moving-average form ``v <- beta v + (1 - beta) g; w <- w - alpha v``
    is the same update with ``mu = beta`` and ``lr = alpha (1 - beta)``: its v is this
    v scaled by ``-1 / (alpha (1 - beta))``. With ``momentum=0`` it is plain SGD.
    ``weight_decay`` is coupled, ``g <- g + wd w`` (PyTorch ``SGD(weight_decay=)``).

    Parameters
    ----------
    lr : float, Schedule or dict, default 0.01
        Learning rate > 0, or a schedule from :mod:`nlayer.schedules` (or its config dict).
    momentum : float, default 0.0
        mu, in [0, 1) (a schedule with a momentum range sets it instead).
    nesterov : bool, default False
        Needs ``momentum > 0``.
    weight_decay : float, default 0.0
        wd >= 0.

    Raises
    ------
    ValueError, TypeError
        If a number is out of range or of the wrong type, or ``nesterov`` without momentum.

    Examples
    --------
    One step by hand: from w = 1 with gradient g = 0.5, ``v = -lr g`` and ``w = w + v``.

    >>> import numpy as np, nlayer as nl
    >>> w, g = np.array([1.0]), np.array([0.5])
    >>> opt = nl.SGD(lr=0.1, momentum=0.9)
    >>> opt.step([w], [g])
    >>> w
    array([0.95])
    """

    cycles_momentum = True

    name = "sgd"

    def __init__(self, lr: float | Schedule | dict[str, Any] = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        if self.schedule is not None and self.schedule.initial_momentum is not None:
            momentum = self.schedule.initial_momentum  # the schedule cycles it
        self.momentum = check_number("SGD", "momentum", momentum, 0, 1)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"SGD nesterov must be True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0:
            raise ValueError("SGD nesterov=True needs momentum > 0 (e.g. momentum=0.9)")
        self.nesterov = bool(nesterov)

    @property
    def gradient_scale(self) -> float:
        return self.lr  # g arrives as lr * dJ/dp

    def _init_state(self, p: NDArray[Any]) -> dict[str, NDArray[Any]]:
        return {"velocity": self._zeros_like(p)} if self.momentum else {}

    def _update(self, p: NDArray[Any], g: NDArray[Any], s: dict[str, NDArray[Any]]) -> None:
        # g is lr * dJ/dp here (see gradient_scale)
        if self.weight_decay:
            g += p.dtype.type(self.lr * self.weight_decay) * p
        if not self.momentum:
            p -= g
            return
        v, mu = s["velocity"], p.dtype.type(self.momentum)
        v *= mu
        v -= g
        if self.nesterov:
            p += mu * v
            p -= g
        else:
            p += v

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
