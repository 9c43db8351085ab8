"""Gradient checking: back propagation against centred finite differences.

For every trainable parameter theta_i the numerical derivative is

    dJ/dtheta_i ~ (J(theta_i + eps) - J(theta_i - eps)) / (2 eps)

and each parameter array's relative error is

    ||d_backprop - d_numeric|| / (||d_backprop|| + ||d_numeric||)

The denominator is floored at ``1e-3 * max(1, |J|)``: finite differences in
float64 resolve a derivative only to about 1e-10 |J| (rounding of J divided by
eps), so an array whose gradient is zero in theory (beta of a batch norm that
another batch norm follows) would otherwise score its rounding noise as a 100 %
error. With the floor, 1e-6 still means an absolute error below 1e-9 |J|.
Everything runs on a float64 copy of the model, with the
same dropout masks for every evaluation, so the only difference measured is
the one between the two ways of computing the gradient.
"""

import numpy as np
from numpy.typing import ArrayLike

from .model import Sequential
from .training import targets
from .utils import checks

__all__ = ["check_gradients"]


def check_gradients(model: Sequential, X: ArrayLike, y: ArrayLike, eps: float = 1e-6,
                    seed: int = 0, return_details: bool = False,
                    sample_weight: ArrayLike | None = None,
                    ) -> float | tuple[float, dict[str, float]]:
    """Largest relative error between back propagation and finite differences.

    ``model`` must be compiled; it is not modified (a float64 copy is checked).
    ``sample_weight`` checks the weighted loss (see ``Sequential.cost``).
    A correct implementation gives errors around 1e-9 or smaller; above 1e-6
    points to a bug.

    Parameters
    ----------
    model : Sequential
        A compiled model.
    X, y : array_like
        A few rows and their targets.
    eps : float, default 1e-6
        The finite-difference step.
    seed : int, default 0
        Seeds dropout's masks, and the weights of a model not built yet (which is built).
    return_details : bool, default False
    sample_weight : array_like, optional

    Returns
    -------
    float or (float, dict)
        The largest relative error; with ``return_details`` also ``{param_name: error}``.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> X, y = np.random.default_rng(0).normal(size=(20, 5)), np.arange(20) % 3
    >>> model = nl.MLP(hidden=(7, 6), activation="tanh")
    >>> model.compile(l2=0.01)
    Sequential(3 layers, dtype=float32)
    >>> nl.check_gradients(model, X, y) < 1e-6
    True
    """
    model._require_compiled()
    X64 = checks.features(X, model.dtype, model.n_features if model.built else None)
    X64 = X64.astype(np.float64)
    targets.check_rows(y, X64)
    if not model.built:
        targets.infer_output_units(model, targets.prepare_rows(model, y))
        model.build((None, X64.shape[1]), seed=seed)
    clone = _float64_clone(model)
    X64 = clone._normalize(X64)
    Y = clone.loss.prepare_targets(y, clone.n_outputs, clone.dtype)
    W = targets.row_weights(clone, Y, sample_weight, None)

    def cost():
        A = clone.forward(X64, training=True, rng=np.random.default_rng(seed))
        return clone.cost(A, Y, W), A

    J, A = cost()
    clone.backward(A, Y, weights=W)
    floor = 1e-3 * max(1.0, abs(J))
    details: dict[str, float] = {}
    for layer in clone.layers:
        for key in layer.trainable_names:
            analytic = layer.grads[key].copy()
            numeric = _numeric_gradient(layer.params[key], cost, eps)
            details[f"{layer.name}.{key}"] = _relative_error(analytic, numeric, floor)
    worst = max(details.values(), default=0.0)
    return (worst, details) if return_details else worst


def _float64_clone(model):
    clone = Sequential.from_config(model.get_config(), dtype="float64")
    clone.build((None, model.n_features), seed=0)
    clone.set_weights([w.astype(np.float64) for w in model.get_weights()])
    clone.normalizer = model.normalizer
    return clone


def _numeric_gradient(param, cost, eps):
    grad = np.zeros_like(param)
    flat, gflat = param.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = cost()[0]
        flat[i] = original - eps
        minus = cost()[0]
        flat[i] = original
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def _relative_error(a, b, floor):
    den = max(np.linalg.norm(a) + np.linalg.norm(b), floor)
    return float(np.linalg.norm(a - b) / den)
