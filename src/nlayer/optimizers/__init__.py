"""Optimisers: each owns its state and updates parameters in place from their gradients.

``step(params, grads)`` takes two lists of arrays in the same order; ``grads``
already contains the L2 term ``(lambda/m) W``, so the method's L2 is part of g.
A step consumes the gradients (it may scale them in place).

Gradient scale: every pass of back propagation is linear in the gradient it
starts from, so the model can start it from ``s dJ/dZ`` and get ``s g`` for
every parameter at no cost. An optimiser names the ``s`` it prefers in
``gradient_scale`` and ``step(..., scale=s)`` is told what the gradients carry.
SGD prefers its learning rate: ``lr g`` then arrives ready-made, which saves one
pass over every weight per step (the update is memory-bound, so that pass is a
quarter of its time).

Learning-rate schedules: ``lr`` may be a :mod:`~nlayer.schedules` schedule; the
optimiser then keeps ``lr`` the rate of its next update and sets it from the
schedule after every step (``lr = schedule(iterations)``).

Weight decay and the method's L2: the cost's ``lambda/(2m) sum ||W||^2`` adds
``(lambda/m) W`` to dW, with m the rows of the batch, and only to kernels (W).
``weight_decay=wd`` adds ``wd * p`` to the gradient of every parameter
(kernels, biases, batch-norm gamma/beta), whatever the batch size: for one
batch size m the two agree on kernels when ``wd = lambda / m``. Coupled decay
(SGD, Adam, RMSprop: added to g before momentum or moments) is PyTorch's
``weight_decay=`` of the same optimiser. Decoupled decay (:class:`AdamW`:
``p <- p (1 - lr wd)`` beside the Adam step) is PyTorch's ``AdamW`` and Keras 3's
``weight_decay=`` of any optimiser (Keras decouples it everywhere; for plain SGD
without momentum coupled and decoupled are the same update). Keras's
``kernel_regularizer=L2(c)`` is the method's L2 with ``c = lambda / (2m)``.
"""

from typing import Any

from ..utils.registry import build
from . import schedules
from .adam import Adam, AdamW
from .base import Optimizer, check_number
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "get", "NAMES", "from_settings",
           "check_number", "schedules"]


_REGISTRY = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adamw": AdamW}
NAMES = tuple(_REGISTRY)


def get(spec: str | dict[str, Any] | Optimizer) -> Optimizer:
    """Return an :class:`Optimizer` from a name, a config dict or an instance."""
    return build(spec, Optimizer, _REGISTRY, "optimizer")


def from_settings(name: str, lr: float | schedules.Schedule | dict[str, Any],
                  momentum: float = 0.0, nesterov: bool = False,
                  weight_decay: float = 0.0) -> Optimizer:
    """The optimiser called ``name`` with learning rate ``lr`` (a number or a schedule) and
    ``weight_decay`` (0: the optimiser's default); momentum and nesterov are SGD's (the flat settings of the command line
    and the scikit-learn estimators)."""
    spec: dict[str, Any] = {"name": name, "lr": lr}
    if weight_decay:  # 0 keeps the optimiser's default (AdamW: 0.01)
        spec["weight_decay"] = weight_decay
    if str(name).lower() == "sgd":
        spec.update(momentum=momentum, nesterov=nesterov)
    return get(spec)
