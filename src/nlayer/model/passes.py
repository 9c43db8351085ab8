"""The passes of :class:`~nlayer.model.sequential.Sequential`: cost, back propagation and
one training step (the model's methods delegate here).

Forward propagation runs the layers in order, ``A^[l] = layer_l(A^[l-1])``, from
``A^[0] = X``. The cost of a batch of m rows is

    J = (1/m) sum_i L(a_i, y_i) + (lambda / (2m)) sum_l ||W^[l]||^2

(kernels only). Back propagation starts from the loss's ``dZ = (A - Y)/m`` (fused
softmax/sigmoid outputs) or ``dA``, and runs the layers' backward passes in
reverse; each Dense adds its ``(lambda/m) W`` to ``dW``. The optimiser then
updates every parameter from its gradient.

Every backward pass is linear in the gradient it receives, so ``fit`` starts
back propagation from ``s dZ`` with the optimiser's ``gradient_scale`` s (SGD:
its learning rate) and every gradient arrives already multiplied by s, which
saves the optimiser a pass over all the weights (see ``optimizers``).

Adversarial training (Goodfellow et al. 2015, the fast gradient sign method) takes each
step on the average cost of the batch and of its adversarial copy, the rows moved by
``epsilon`` along the sign of the cost's gradient with respect to them::

    X_adv = X + epsilon sign(dJ/dX),    J~ = (J(X) + J(X_adv)) / 2

``dJ/dX = dZ^[1] W^[1]T`` is the back propagation's one step further, to the input.
"""

import math
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from .. import layers as layers_mod
from ..training import sample_weights

__all__ = ["fused_start", "output_logits", "backward", "cost", "l2_term", "train_step"]

# ``model`` is a Sequential, typed Any: the model module imports this one, so naming its
# class here would be an import circle (tests/test_package_layout.py)


def fused_start(model: Any) -> int | None:
    """Index of the layer whose dZ the loss gives directly, or None (general path).

    Asked twice per batch (cost and backward), so kept for the loss and output
    activation it was worked out for.
    """
    last = model.layers[-1]
    key = (model.loss, last, getattr(last, "activation", None))
    if model.__dict__.get("_fused_key") != key:
        start = None
        if isinstance(last, (layers_mod.Dense, layers_mod.Activation)) and \
                last.activation.name == model.loss.fused_activation:
            start = len(model.layers) - 1
        model._fused_key, model._fused_index = key, start
    return cast(int | None, model._fused_index)


def output_logits(model: Any) -> NDArray[Any] | None:
    """Z of the fused output layer, or None."""
    i = fused_start(model)
    # the fused layer is a Dense or an Activation (see fused_start): both keep their Z
    return None if i is None else cast(layers_mod.Dense, model.layers[i]).Z


def backward(model: Any, A: NDArray[Any], Y: NDArray[Any], scale: float,
             batch: sample_weights.Batch | None,
             need_dX: bool = False) -> NDArray[Any] | None:
    """Back propagation from ``scale`` times the loss's dZ (or dA); ``batch``: the rows'
    :class:`~nlayer.training.sample_weights.Batch`, or None (every row counts once).
    With ``need_dX``, returns ``scale dJ/dX`` (a buffer the next pass overwrites)."""
    if batch is None:
        return _backward_pass(model, A, Y, scale, None, need_dX)
    with sample_weights.weighted_l2(model._dense_layers(), batch.total):
        return _backward_pass(model, A, Y, scale, batch.r, need_dX)


def _backward_pass(model: Any, A: NDArray[Any], Y: NDArray[Any], scale: float,
                   r: NDArray[Any] | None, need_dX: bool) -> NDArray[Any] | None:
    layers = model.layers
    start = model._fused_start()
    if start is None:
        grad, i, is_dZ = model.loss.dA(A, Y, scale, r), len(layers) - 1, False
    else:
        grad, i, is_dZ = model.loss.dZ(A, Y, scale, r), start, True
    if is_dZ and isinstance(layers[i], layers_mod.Activation):
        i -= 1  # the activation layer's dZ is the dA of the layer below
        is_dZ = False
    for j in range(i, -1, -1):
        layer, need = layers[j], j > 0 or need_dX
        if is_dZ:
            # a dZ at layer j (not an Activation: see above) is the fused output Dense's
            grad = cast(layers_mod.Dense, layer).backward(grad, need_dA_prev=need,
                                                          scale=scale, is_dZ=True)
            is_dZ = False
        else:
            grad = layer.backward(grad, need_dA_prev=need, scale=scale)
    return grad if need_dX else None


def cost(model: Any, A: NDArray[Any], Y: NDArray[Any],
         batch: sample_weights.Batch | None) -> float:
    """J for a batch whose rows' weights are ``batch`` (None: every row counts once)."""
    if batch is None:
        data, penalty = model.loss.loss(model._output_logits(), A, Y), l2_term(model, A.shape[0])
    else:
        data = model.loss.loss(model._output_logits(), A, Y, batch.r)
        penalty = l2_term(model, batch.total)
    model._batch_penalty = penalty  # fit records the penalty apart from the data loss
    return data + penalty


def l2_term(model: Any, m: float) -> float:
    """(lambda / (2m)) sum over Dense kernels of ||W||^2 (0 without L2)."""
    if not model.l2:
        return 0.0
    return model.l2 / (2 * m) * sum(l.l2_penalty() for l in model._dense_layers())


def train_step(model: Any, Xb: NDArray[Any], Yb: NDArray[Any], rng: np.random.Generator | None,
               Wb: NDArray[Any] | None = None,
               adversarial: float | None = None) -> tuple[float, NDArray[Any]]:
    """One mini-batch: forward, cost, backward with the optimiser's update; (J, A).
    With ``adversarial`` (an epsilon), the update descends J~ of the batch and its
    adversarial copy instead (module docstring), and J is J~."""
    A = model.forward(Xb, training=True, rng=rng)
    batch = None if Wb is None else sample_weights.Batch(Wb)  # r and sum w, once
    J = cost(model, A, Yb, batch)
    if not math.isfinite(J):
        return J, A
    scale = model.optimizer.gradient_scale  # SGD: lr, folded into dZ for free
    if adversarial is None:
        backward(model, A, Yb, scale, batch)
    else:
        J, A = _adversarial_pass(model, Xb, Yb, A, J, rng, batch, scale, adversarial)
        if not math.isfinite(J):
            return J, A
    tap = model._step_tap  # set by a LayerMonitor for its sampled steps only
    if tap is not None:
        tap(scale)
    # one update of the packed parameters from the packed gradients (see _pack_parameters)
    model.optimizer.step([model._flat_params], [model._flat_grads], scale)
    return J, A


def _adversarial_pass(model: Any, Xb: NDArray[Any], Yb: NDArray[Any], A: NDArray[Any],
                      J: float, rng: np.random.Generator | None,
                      batch: sample_weights.Batch | None, scale: float,
                      epsilon: float) -> tuple[float, NDArray[Any]]:
    """The gradients of ``J~ = (J(X) + J(X_adv)) / 2`` once ``A = forward(X)`` and ``J(X)``
    are known; returns (J~, A). Each forward pass draws its own dropout masks, and a
    BatchNorm's moving averages see both batches."""
    dX = cast(NDArray[Any], backward(model, A, Yb, scale, batch, need_dX=True))
    X_adv = np.sign(dX)  # scale > 0 leaves the sign as it is
    X_adv *= X_adv.dtype.type(epsilon)
    X_adv += Xb
    grads = model._flat_grads
    clean = model._clean_grads  # reused: one copy of the gradients a step
    if clean is None or clean.shape != grads.shape or clean.dtype != grads.dtype:
        clean = model._clean_grads = np.empty_like(grads)
    np.copyto(clean, grads)
    A = A.copy()  # the second forward pass writes over the layers' outputs
    A_adv = model.forward(X_adv, training=True, rng=rng)
    J_adv = cost(model, A_adv, Yb, batch)
    if not math.isfinite(J_adv):
        return J_adv, A
    backward(model, A_adv, Yb, scale, batch)
    grads += clean
    grads *= grads.dtype.type(0.5)
    return (J + J_adv) / 2, A
