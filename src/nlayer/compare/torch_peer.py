"""The PyTorch peer: the same layers in ``nn.Sequential``, weights moved in and out."""

import time

import numpy as np

from .. import layers as layers_mod
from .epoch_loop import _drive, _Totals


def build_torch_model(model):
    """A ``torch.nn.Sequential`` with the layers of the nlayer ``model``.

    A softmax output is left out: the module returns logits (``F.cross_entropy``
    takes logits; apply ``softmax`` for probabilities). BatchNorm1d gets
    ``momentum = 1 - nlayer momentum`` (PyTorch weighs the new batch by it).
    Load nlayer's weights with :func:`torch_set_weights`.

    Parameters
    ----------
    model : nlayer.Sequential
        A built model of Dense, BatchNorm, Activation and Dropout layers.

    Returns
    -------
    torch.nn.Sequential
        In the model's dtype; nlayer's initial weights are not loaded.

    Raises
    ------
    ImportError, NotFittedError, TypeError
        As :func:`build_keras_model` does: PyTorch missing, ``model`` not built, or a
        layer without a PyTorch counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from nlayer.compare import (ComparisonSpec, build_model, build_torch_model,
    ...                             torch_set_weights)
    >>> model = build_model(ComparisonSpec(hidden=(8,)), n_features=4, n_outputs=3)
    >>> net = build_torch_model(model)                                # doctest: +SKIP
    >>> net                                                           # doctest: +SKIP
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=3, bias=True)
    )
    >>> torch_set_weights(net, model.get_weights())                   # doctest: +SKIP
    >>> import torch                                                  # doctest: +SKIP
    >>> X = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    >>> P = torch.softmax(net(torch.from_numpy(X)), dim=1)            # doctest: +SKIP
    >>> bool(np.allclose(P.detach().numpy(), model.predict(X), atol=1e-6))  # doctest: +SKIP
    True
    """
    import torch
    from torch import nn

    model._require_built()
    dt = getattr(torch, model.dtype.name)
    last = len(model.layers) - 1
    mods = []
    for i, layer in enumerate(model.layers):
        if isinstance(layer, layers_mod.Dense):
            mods.append(nn.Linear(layer.n_in, layer.units, bias=layer.use_bias, dtype=dt))
            act = _torch_activation(layer.activation, i == last)
        elif isinstance(layer, layers_mod.BatchNorm):
            mods.append(nn.BatchNorm1d(layer.n_in, eps=layer.epsilon,
                                       momentum=1.0 - layer.momentum, dtype=dt))
            act = None
        elif isinstance(layer, layers_mod.Activation):
            act = _torch_activation(layer.activation, i == last)
        elif isinstance(layer, layers_mod.Dropout):
            act = nn.Dropout(layer.rate)
        else:
            raise TypeError(f"no PyTorch counterpart for layer {type(layer).__name__}")
        if act is not None:
            mods.append(act)
    return nn.Sequential(*mods)


def _torch_activation(act, is_last):
    from torch import nn

    name = act.name
    if name == "softmax":
        return None if is_last else nn.Softmax(dim=1)
    if name == "linear":
        return None
    if name == "leaky_relu":
        return nn.LeakyReLU(act.alpha)
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[name]()


def torch_set_weights(module, weights):
    """Load arrays in nlayer/Keras order into a module from :func:`build_torch_model`.

    Each kernel is transposed into its ``nn.Linear`` (which stores ``(n_out, n_in)``).

    Parameters
    ----------
    module : torch.nn.Sequential
    weights : sequence of array-like
        As ``model.get_weights()`` returns them.

    Raises
    ------
    ValueError
        If there are more or fewer arrays than the module holds.
    RuntimeError
        If an array's shape does not fit (PyTorch's own error).

    Examples
    --------
    See :func:`build_torch_model`.
    """
    import torch
    from torch import nn

    weights = [np.asarray(w) for w in weights]
    needed = sum(1 + (m.bias is not None) if isinstance(m, nn.Linear) else 4
                 for m in module if isinstance(m, (nn.Linear, nn.BatchNorm1d)))
    if len(weights) != needed:
        raise ValueError(f"the module holds {needed} weight arrays, got {len(weights)}")
    it = iter(weights)
    with torch.no_grad():
        for m in module:
            if isinstance(m, nn.Linear):
                m.weight.copy_(torch.from_numpy(np.ascontiguousarray(next(it).T)))
                if m.bias is not None:
                    m.bias.copy_(torch.from_numpy(next(it)))
            elif isinstance(m, nn.BatchNorm1d):
                for t in (m.weight, m.bias, m.running_mean, m.running_var):
                    t.copy_(torch.from_numpy(next(it)))


def torch_get_weights(module):
    """Copies of the module's arrays in nlayer/Keras order (kernels as (n_in, n_out)).

    Parameters
    ----------
    module : torch.nn.Sequential
        A module from :func:`build_torch_model`.

    Returns
    -------
    list of ndarray
        What ``model.set_weights`` takes.

    Examples
    --------
    >>> from nlayer.compare import (ComparisonSpec, build_model, build_torch_model,
    ...                             torch_get_weights)
    >>> model = build_model(ComparisonSpec(hidden=(8,)), n_features=4, n_outputs=3)
    >>> net = build_torch_model(model)                                # doctest: +SKIP
    >>> [w.shape for w in torch_get_weights(net)]                     # doctest: +SKIP
    [(4, 8), (8,), (8, 3), (3,)]
    """
    from torch import nn

    out = []
    for m in module:
        if isinstance(m, nn.Linear):
            out.append(m.weight.detach().numpy().T.copy())
            if m.bias is not None:
                out.append(m.bias.detach().numpy().copy())
        elif isinstance(m, nn.BatchNorm1d):
            out += [t.detach().numpy().copy()
                    for t in (m.weight, m.bias, m.running_mean, m.running_var)]
    return out


def _run_torch(run):
    import torch

    previous = torch.get_num_threads()
    if run.torch_threads:
        torch.set_num_threads(int(run.torch_threads))
    try:
        return _train_torch(run)
    finally:
        torch.set_num_threads(previous)


def _train_torch(run):
    import torch
    import torch.nn.functional as F
    from torch import nn

    spec = run.spec
    torch.manual_seed(run.seed)
    module = build_torch_model(run.model)
    torch_set_weights(module, run.initial)
    opt = torch.optim.SGD(module.parameters(), lr=spec.lr, momentum=spec.momentum,
                          nesterov=spec.nesterov)
    weights_l2 = [m.weight for m in module if isinstance(m, nn.Linear)]
    X = torch.from_numpy(run.X_train)
    if run.classification:
        T = torch.from_numpy(run.Y_train.argmax(axis=1))
    else:
        T = torch.from_numpy(run.Y_train)
    B, l2 = run.batch_size, spec.l2

    def train_epoch(order):
        module.train()
        totals = _Totals()
        start = time.perf_counter()
        idx = torch.from_numpy(order)
        for b in range(0, run.n, B):
            bi = idx[b:b + B]
            xb, tb = X[bi], T[bi]
            out = module(xb)
            loss = F.cross_entropy(out, tb) if run.classification else F.mse_loss(out, tb)
            if l2:
                m = xb.shape[0]
                loss = loss + (l2 / (2 * m)) * sum((w * w).sum() for w in weights_l2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            hits = int((out.argmax(dim=1) == tb).sum()) if run.classification else 0
            totals.add(float(loss.detach()), int(xb.shape[0]), hits)
        seconds = time.perf_counter() - start
        return seconds, totals.logs(run.classification)

    def predict(Xn):
        module.eval()
        with torch.no_grad():
            out = module(torch.from_numpy(Xn))
            if run.classification:
                out = torch.softmax(out, dim=1)
        return out.numpy()

    def snapshot():
        return {k: v.detach().clone() for k, v in module.state_dict().items()}

    return _drive(run, "pytorch", train_epoch, predict, lambda: torch_get_weights(module),
                  snapshot, module.load_state_dict)
