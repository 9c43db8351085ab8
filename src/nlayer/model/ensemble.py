"""Several trained networks as one: the mean of their output layers' Z.

Networks trained from different seeds make different mistakes, and the mean of their
outputs makes fewer than any one of them. :func:`ensemble` writes that mean as one plain
:class:`~nlayer.Sequential`, so an ensemble is saved, loaded, evaluated, exported to ONNX and
served like any model. For K members of the same layer sizes::

    first Dense:   W = [W_1 | W_2 | ... | W_K]            (each member's units side by side)
    hidden Dense:  W = diag(W_1, W_2, ..., W_K)            (block diagonal: no member reads
                                                             another's units)
    output Dense:  W = [W_1; W_2; ...; W_K] / K,  b = (b_1 + ... + b_K) / K
    BatchNorm:     gamma, beta and moving averages side by side

so the merged output layer's ``Z = (Z_1 + ... + Z_K) / K``: for softmax and sigmoid outputs
the mean of the members' logits (their probabilities' geometric mean, renormalised), for
linear outputs the mean of their predictions. Each member's input normaliser (fitted on its
own training rows) is folded into its first kernel and bias, so the merged model takes raw
inputs through the first member's normaliser and computes every member's exact ``Z^[1]``;
regression members' target scalers fold into the output layer the same way.
"""

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from .. import layers as layers_mod
from ..layers import BatchNorm, Dense
from .sequential import Sequential

__all__ = ["ensemble"]


def ensemble(models: Sequence[Sequential]) -> Sequential:
    """One network computing the mean of the trained ``models``' output Z (see the module).

    The members must have the same layer types in the same order, the same input width,
    outputs, activations, dtype and compile settings (their widths may differ). The result
    is compiled as the first member is, for evaluation and prediction: training it further
    would let the members' units mix, and it would no longer be an ensemble.

    Parameters
    ----------
    models : sequence of Sequential
        At least 2 trained (built and compiled) models.

    Returns
    -------
    Sequential
        The merged model, compiled, named ``ensemble_of_K``.

    Raises
    ------
    ValueError
        If there are fewer than 2 members, a member is untrained or not normalised as the
        first, the members differ in more than their widths, or a folded bias has nowhere to go.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> X = np.random.default_rng(0).normal(size=(200, 4)); y = (X[:, 0] > 0).astype(int)
    >>> members = []
    >>> for seed in range(3):
    ...     m = nl.MLP(hidden=(8,))
    ...     _ = m.compile(optimizer=nl.SGD(lr=0.1), normalize="standard")
    ...     _ = m.fit(X, y, epochs=2, seed=seed)
    ...     members.append(m)
    >>> merged = nl.ensemble(members)
    >>> logits = np.mean([np.log(m.predict(X)) for m in members], axis=0)
    >>> expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    >>> bool(np.allclose(merged.predict(X), expected, atol=1e-5))
    True
    """
    models = list(models)
    _check_members(models)
    first = models[0]
    dense = [i for i, l in enumerate(first.layers) if isinstance(l, Dense)]
    layers = []
    for i, layer in enumerate(first.layers):
        config = layer.get_config()
        if i in dense and i != dense[-1]:  # hidden units side by side; the outputs shared
            config["units"] = sum(cast(Dense, m.layers[i]).units or 0 for m in models)
        layers.append(layers_mod.from_config(config))
    merged = Sequential(layers, dtype=first.dtype, name=f"ensemble_of_{len(models)}")
    config = first.get_config()["compile"]
    merged.compile(optimizer=config["optimizer"], loss=config["loss"], l2=config["l2"],
                   metrics=config["metrics"], normalize=config["normalize"],
                   scale_targets=config.get("scale_targets", False))
    merged.build((None, first.n_features))
    weights: list[NDArray[Any]] = []
    dropped = None  # a folded bias that a Dense without one could not take
    for i, layer in enumerate(merged.layers):
        members: list[Any] = [m.layers[i] for m in models]
        if isinstance(layer, Dense):
            W, b = _dense_weights(members, models, first=i == dense[0], last=i == dense[-1])
            weights += [W, b] if layer.use_bias else [W]
            dropped = None if layer.use_bias or not np.any(b) else b
        elif isinstance(layer, BatchNorm):
            gamma, beta, mean, var = (np.concatenate(parts) for parts in
                                      zip(*(member.get_weights() for member in members)))
            if dropped is not None:  # Z is short of it: the moving mean moves down with it
                mean, dropped = mean - dropped, None
            weights += [gamma, beta, mean, var]
    if dropped is not None:
        raise ValueError("the members' first Dense has no bias and no BatchNorm after it "
                         "to take their normalisers' differences; build them with "
                         "use_bias=True")
    merged.set_weights(weights)
    merged.normalizer, merged.target_scaler = first.normalizer, first.target_scaler
    return merged


def _check_members(models: list[Sequential]) -> None:
    if len(models) < 2:
        raise ValueError(f"an ensemble needs at least 2 trained models, got {len(models)}")
    first = models[0]
    for k, m in enumerate(models):
        if not isinstance(m, Sequential) or not m.built or not m.compiled:
            raise ValueError(f"member {k} is not a trained (built and compiled) nlayer model")
        same = (m.n_features == first.n_features and m.dtype == first.dtype and
                [type(l) for l in m.layers] == [type(l) for l in first.layers] and
                _shape_free(m) == _shape_free(first))
        if not same:
            raise ValueError(f"member {k} differs from member 0 in more than its layer "
                             "widths (layer types, activations, input width, outputs, dtype "
                             "or compile settings); an ensemble averages networks of one "
                             "design")
        if (m.normalizer is None) != (first.normalizer is None) or \
                (m.target_scaler is None) != (first.target_scaler is None):
            raise ValueError(f"member {k} is not normalised as member 0 is (fit it first)")


def _shape_free(model: Sequential) -> list[Any]:
    """The model's configuration without the hidden widths (which may differ)."""
    config = model.get_config()
    layers = config["layers"]
    last = max(i for i, l in enumerate(model.layers) if isinstance(l, Dense))
    for i, layer in enumerate(layers):
        if i != last:
            layer.pop("units", None)
    compile_settings = dict(config["compile"])
    compile_settings.pop("optimizer")  # how each member was trained does not matter here
    return [layers, compile_settings]


def _dense_weights(members: list[Dense], models: list[Sequential], first: bool,
                   last: bool) -> tuple[NDArray[Any], NDArray[Any]]:
    """The merged (kernel, bias) (the bias also when the layer has none: see ensemble)."""
    K = len(members)
    kernels = [m.get_weights()[0].astype(np.float64) for m in members]
    biases = [(m.get_weights()[1] if m.use_bias else np.zeros(m.units or 0)).astype(np.float64)
              for m in members]
    if first:
        kernels, biases = _fold_normalizers(kernels, biases, models)
    if last:
        kernels, biases = _fold_target_scalers(kernels, biases, models)
        W, b = np.vstack(kernels) / K, np.mean(biases, axis=0)
    elif first:
        W, b = np.hstack(kernels), np.concatenate(biases)
    else:
        W = np.zeros((sum(k.shape[0] for k in kernels), sum(k.shape[1] for k in kernels)))
        r = c = 0
        for k in kernels:
            W[r:r + k.shape[0], c:c + k.shape[1]] = k
            r, c = r + k.shape[0], c + k.shape[1]
        b = np.concatenate(biases)
    return W, b


def _fold_normalizers(kernels, biases, models):
    """Member k sees (x - s_k) / c_k; the merged model gives it (x - s_0) / c_0, so its
    kernel becomes diag(c_0 / c_k) W_k and its bias b_k + ((s_0 - s_k) / c_k) W_k."""
    norm0 = models[0].normalizer
    if norm0 is None:
        return kernels, biases
    s0, c0 = norm0.shift, norm0.scale
    out_k, out_b = [], []
    for W, b, m in zip(kernels, biases, models):
        s, c = m.normalizer.shift, m.normalizer.scale
        out_k.append(W * (c0 / c)[:, None])
        out_b.append(b + ((s0 - s) / c) @ W)
    return out_k, out_b


def _fold_target_scalers(kernels, biases, models):
    """Regression: member k predicts Z_k std_k + mean_k; in the first member's units that
    is Z_k (std_k / std_0) + (mean_k - mean_0) / std_0."""
    scaler0 = models[0].target_scaler
    if scaler0 is None:
        return kernels, biases
    out_k, out_b = [], []
    for W, b, m in zip(kernels, biases, models):
        ratio = m.target_scaler.scale / scaler0.scale
        out_k.append(W * ratio[None, :])
        out_b.append(b * ratio + (m.target_scaler.shift - scaler0.shift) / scaler0.scale)
    return out_k, out_b
