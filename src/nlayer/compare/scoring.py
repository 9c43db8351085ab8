"""Shared arithmetic: every number that is compared between peers is computed here."""

import numpy as np

from .. import layers as layers_mod

# probabilities are clipped to [1e-7, 1] before the log (nlayer's and Keras's choice)
_PROB_EPS = 1e-7


def data_loss(classification, P, Y):
    """Mean loss over rows in float64: cross-entropy of probabilities P, or MSE."""
    P = np.asarray(P, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if classification:
        return float(-np.sum(Y * np.log(np.clip(P, _PROB_EPS, 1.0))) / P.shape[0])
    D = P - Y
    return float(np.sum(D * D) / D.size)


def _crossentropy_from_logits(Z, Y):
    Z = np.asarray(Z, dtype=np.float64)
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.sum(np.asarray(Y, dtype=np.float64) * log_p) / Z.shape[0])


def l2_term(l2, kernels, m):
    """lambda / (2m) * sum of squared kernel entries, in float64."""
    if not l2:
        return 0.0
    total = 0.0
    for w in kernels:
        w = np.asarray(w, dtype=np.float64).ravel()
        total += float(np.dot(w, w))
    return l2 / (2 * m) * total


def scores(classification, P, Y, kernels=(), l2=0.0):
    """``{"loss", "accuracy"}`` (classification) or ``{"loss", "mse", "r2"}`` (regression).

    ``loss`` is the data loss plus the L2 term with m = number of rows, as
    nlayer's ``evaluate`` reports it. R^2 is averaged over outputs.

    Parameters
    ----------
    classification : bool
        True: ``P`` holds probabilities and ``Y`` one-hot rows; False: values and targets.
    P : array-like of shape (n_samples, n_outputs) or (n_samples,)
        Predictions.
    Y : array-like of shape (n_samples, n_outputs)
        Targets.
    kernels : sequence of array-like, default ()
        The Dense kernels for the L2 term.
    l2 : float, default 0.0
        lambda of the L2 term.

    Returns
    -------
    dict of str to float

    Examples
    --------
    >>> from nlayer.compare import scores
    >>> scores(False, [0.0, 2.0, 4.0, 8.0], [[0.0], [2.0], [4.0], [6.0]])
    {'loss': 1.0, 'mse': 1.0, 'r2': 0.8}
    >>> scores(True, [[0.9, 0.1], [0.2, 0.8]], [[1, 0], [0, 1]])["accuracy"]
    1.0
    """
    P = np.asarray(P, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if P.ndim == 1:
        P = P[:, None]
    out = {"loss": data_loss(classification, P, Y) + l2_term(l2, kernels, P.shape[0])}
    if classification:
        out["accuracy"] = float(np.mean(P.argmax(axis=1) == Y.argmax(axis=1)))
        return out
    res = np.sum((P - Y) ** 2, axis=0)
    tot = np.sum((Y - Y.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(tot > 0, 1.0 - res / np.where(tot > 0, tot, 1.0), 0.0)
    out["mse"] = float(np.mean((P - Y) ** 2))
    out["r2"] = float(r2.mean())
    return out


def rel_errors(weights, reference):
    """Per array: ``max|a - b| / max(max|b|, 1e-12)`` between two weight lists.

    Parameters
    ----------
    weights, reference : sequence of array-like
        Arrays of the same shapes, in the same order (``b`` is ``reference``'s).

    Returns
    -------
    list of float
        0.0 for an empty array.

    Raises
    ------
    ValueError
        If the lists differ in length or two arrays in shape.

    Examples
    --------
    >>> import numpy as np
    >>> from nlayer.compare import rel_errors
    >>> rel_errors([np.array([1.0, 2.0])], [np.array([1.0, 2.5])])
    [0.2]
    """
    weights, reference = list(weights), list(reference)
    if len(weights) != len(reference):
        raise ValueError(f"{len(weights)} arrays against {len(reference)}")
    out = []
    for a, b in zip(weights, reference):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            raise ValueError(f"shape {a.shape} against {b.shape}")
        scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1e-12)
        out.append(float(np.max(np.abs(a - b))) / scale if a.size else 0.0)
    return out


def weight_names(model):
    """``"<layer>/<array>"`` for every array of ``model.get_weights()``.

    Parameters
    ----------
    model : nlayer.Sequential

    Returns
    -------
    list of str

    Examples
    --------
    >>> import nlayer as nl
    >>> from nlayer.compare import weight_names
    >>> model = nl.Sequential([nl.Dense(3, activation="relu", name="hidden"),
    ...                        nl.Dense(2, activation="softmax", name="out")])
    >>> weight_names(model)
    ['hidden/kernel', 'hidden/bias', 'out/kernel', 'out/bias']
    """
    return [f"{layer.name}/{key}" for layer in model.layers for key in layer.weight_names]


def _kernel_positions(model):
    """Indices of the Dense kernels in ``get_weights()`` order."""
    pos, i = [], 0
    for layer in model.layers:
        for key in layer.weight_names:
            if isinstance(layer, layers_mod.Dense) and key == "kernel":
                pos.append(i)
            i += 1
    return pos
