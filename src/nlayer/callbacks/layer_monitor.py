"""LayerMonitor: per-layer gradient and activation statistics, recorded while ``fit`` trains.

On every ``every_batches``-th training step (counted across epochs, the first
one included) the monitor records one row per Dense and BatchNorm layer into
``history.layer_stats``::

    grad_rms      RMS of dW (the kernel gradient the optimiser receives, L2 term included;
                  BatchNorm: of dgamma and dbeta)
    dz_rms        RMS of the article's dZ = dA * g'(Z) (the gradient of the loss of one
                  example with respect to Z: m times dJ/dZ of the batch cost J);
                  BatchNorm: of the gradient reaching its input
    update_ratio  ||W_after - W_before|| / ||W_before|| of that step (BatchNorm: gamma, beta)
    z_mean, z_std mean and standard deviation of Z over the batch (BatchNorm: its output)
    a_mean, a_std the same for A = g(Z), the layer's unit activation (the Dense's own g, or
                  the Activation layer that follows it)
    saturated     share of entries of A with tanh |A| > 0.99 or sigmoid A outside
                  [0.01, 0.99]; None for other activations
    dead          share of ReLU units never positive in the batch; None for others

Gradients arrive multiplied by the optimiser's ``gradient_scale`` (SGD: lr); the
monitor divides it out, so the numbers do not depend on the optimiser. It also keeps
``activation_samples``: up to 2,048 values of each layer's A at the first sampled
step and at the latest one (for plots of the distribution of A), and ``step_samples``:
as many values of each layer's dW, dZ and A at the latest sampled step, in the units of
the statistics (for histograms, :class:`~nlayer.callbacks.TensorBoard`). :func:`flag_layers`
names the layers whose gradients vanished or exploded (thresholds below).

Cost: the model calls the monitor's tap only on sampled steps (``train_step``
checks one attribute, between back propagation and the optimiser's step); there it
copies the monitored kernels into kept buffers and takes a few reductions. Without
a monitor nothing runs. One monitor per ``fit``.
"""

import math
from typing import Any

import numpy as np

from ..layers import Activation, BatchNorm, Dense, Dropout
from .base import Callback, checked_state

__all__ = ["LayerMonitor", "STAT_KEYS", "TANH_SATURATION", "SIGMOID_SATURATION",
           "VANISHED_RATIO", "VANISHED_UPDATE", "EXPLODED_GRAD", "EXPLODED_UPDATE", "flag_layers"]

#: Keys of every row of ``history.layer_stats``, in this order.
STAT_KEYS = ("epoch", "batch", "layer", "grad_rms", "dz_rms", "update_ratio", "z_mean", "z_std",
             "a_mean", "a_std", "saturated", "dead")
TANH_SATURATION = 0.99             # |A| above this counts as saturated
SIGMOID_SATURATION = (0.01, 0.99)  # A outside this interval counts as saturated

#: A layer's gradients *vanished* when its median dz_rms is below VANISHED_RATIO times the
#: largest median dz_rms of any monitored layer, or its median update ratio is below
#: VANISHED_UPDATE (its weights barely move).
VANISHED_RATIO = 1e-3
VANISHED_UPDATE = 1e-7
#: A layer's gradients *exploded* when its median grad_rms is above EXPLODED_GRAD, its median
#: update ratio above EXPLODED_UPDATE (one step changes W by more than W itself), or any
#: recorded value is not finite.
EXPLODED_GRAD = 1e3
EXPLODED_UPDATE = 1.0


class LayerMonitor(Callback):
    """Record per-layer statistics every ``every_batches`` training steps.

    Parameters
    ----------
    every_batches : int, default 50
        Record on every this-many-th training step (>= 1), counted across epochs.

    Raises
    ------
    ValueError
        If ``every_batches`` is not a whole number >= 1.

    Examples
    --------
    Two epochs of 4 batches, sampled every 2 steps: 4 rows for each of the 2 Dense layers.

    >>> import numpy as np, nlayer as nl
    >>> X, y = np.random.default_rng(0).normal(size=(64, 4)), np.arange(64) % 2
    >>> model = nl.MLP(hidden=(8,))
    >>> model.compile(optimizer=nl.SGD(lr=0.1))
    Sequential(2 layers, dtype=float32)
    >>> monitor = nl.LayerMonitor(every_batches=2)
    >>> history = model.fit(X, y, epochs=2, batch_size=16, seed=0, callbacks=[monitor])
    >>> len(history.layer_stats), [row["layer"] for row in history.layer_stats[:2]]
    (8, ['dense_1', 'dense_2'])
    >>> bool(history.layer_stats[0]["dz_rms"] > 0)
    True
    """

    #: values of A kept per layer and sample for ``activation_samples``
    SAMPLE_SIZE = 2048

    def __init__(self, every_batches: int = 50) -> None:
        if isinstance(every_batches, bool) or not isinstance(every_batches, (int, np.integer)) \
                or every_batches < 1:
            raise ValueError(f"every_batches must be a whole number >= 1, got {every_batches!r}")
        self.every_batches = int(every_batches)
        self.step = 0  # training steps seen, across epochs (and across a resume)
        self.epoch: int | None = None
        self._pending: list[Any] | None = None
        #: {epoch: {layer name: up to SAMPLE_SIZE values of A}} at the first sampled step of
        #: training and the last one so far (for plots of the distribution of A)
        self.activation_samples: dict[int, dict[str, np.ndarray]] = {}
        #: {"epoch": e, "layers": {layer name: {"dW": ..., "dZ": ..., "A": ...}}}: up to
        #: SAMPLE_SIZE values of each at the latest sampled step (None before the first)
        self.step_samples: dict[str, Any] | None = None

    # -- arming the model's tap ------------------------------------------------------
    def _arm(self):
        """Ask the model to call the tap before the optimiser's next step if it is sampled."""
        if self.step % self.every_batches == 0:
            self.model._step_tap = self._tap

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.step, self._pending, self.activation_samples = 0, None, {}
        self.step_samples = None
        self._arm()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.step += 1
        pending, self._pending = self._pending, None
        if pending is not None:
            rows = self._finish(pending, batch)
            history = getattr(self.model, "history", None)
            if history is not None:
                history.layer_stats.extend(rows)
        self._arm()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.model._step_tap = None
        self._pending = None

    def get_state(self) -> dict[str, Any]:
        return {"step": self.step, "epoch": self.epoch,  # a resume may start inside an epoch
                "activation_samples": {str(e): {k: v.copy() for k, v in layers.items()}
                                       for e, layers in self.activation_samples.items()}}

    def set_state(self, state: dict[str, Any]) -> None:
        checked_state("LayerMonitor", state, optional=("epoch", "activation_samples"),
                      step="whole number >= 0", epoch="epoch or None",
                      activation_samples="samples")
        if state.get("activation_samples") and state.get("epoch") is None:
            raise ValueError("LayerMonitor's state holds activation samples but no epoch")
        self.step = int(state.get("step", 0))
        self.epoch = state.get("epoch")
        self.activation_samples = {
            int(e): {k: np.array(v, dtype=np.float32) for k, v in layers.items()}
            for e, layers in (state.get("activation_samples") or {}).items()}
        self.model._step_tap = None
        self._arm()

    # -- the measurements -------------------------------------------------------------
    def _tap(self, scale):
        """Called by ``train_step`` after back propagation, before the optimiser's step."""
        model = self.model
        model._step_tap = None
        inv = 1.0 / float(scale)
        monitored = [i for i, layer in enumerate(model.layers)
                     if isinstance(layer, (Dense, BatchNorm))]
        self._pending = [(model.layers[i], self._copy_before(model.layers[i]),
                          _stats(model.layers, i, inv)) for i in monitored]
        self._keep_samples({model.layers[i].name: _unit_activation(model.layers, i)[0]
                            for i in monitored})
        self.step_samples = {"epoch": self.epoch, "layers": {
            model.layers[i].name: _step_samples(model.layers, i, inv, self.SAMPLE_SIZE)
            for i in monitored}}

    def _keep_samples(self, activations):
        """Up to SAMPLE_SIZE evenly spaced values of each layer's A. The first sample of the
        training stays; from the next epoch on, the latest sample replaces the previous one."""
        samples = {name: _spaced(A, self.SAMPLE_SIZE) for name, A in activations.items()
                   if A is not None}
        kept = self.activation_samples
        first = min(kept) if kept else None
        if first is None:
            kept[self.epoch] = samples
        elif self.epoch != first:
            for epoch in [e for e in kept if e != first]:
                del kept[epoch]
            kept[self.epoch] = samples

    def _copy_before(self, layer):
        """Copies of the layer's updated arrays, into buffers kept from sample to sample (a fresh
        array this size costs page faults on every sample)."""
        store = self.__dict__.setdefault("_buffers", {})
        out = []
        for k, a in enumerate(_updated(layer)):
            buf = store.get((id(layer), k))
            if buf is None or buf.shape != a.shape or buf.dtype != a.dtype:
                buf = store[id(layer), k] = np.empty_like(a)
            np.copyto(buf, a)
            out.append(buf)
        return out

    def _finish(self, pending, batch):
        rows = []
        for layer, before, stats in pending:
            change = norm = 0.0
            for a, b in zip(_updated(layer), before):
                norm += _sq(b)
                change += _sq(np.subtract(a, b, out=b))  # b is not needed after this
            change, norm = math.sqrt(change), math.sqrt(norm)
            ratio = change / norm if norm > 0 else (0.0 if change == 0 else math.inf)
            rows.append({"epoch": self.epoch, "batch": int(batch), "layer": layer.name,
                         **stats, "update_ratio": ratio})
        return [{k: row[k] for k in STAT_KEYS} for row in rows]

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_buffers", "_pending")}


def _sq(a):
    """||a||^2 by one BLAS dot in the array's dtype; a float64 copy (0.8 ms per kernel of the
    benchmark's network) only when float32 squares would underflow or overflow (vanished or
    exploded gradients are exactly what the monitor must see)."""
    a = a.ravel()
    with np.errstate(over="ignore", under="ignore"):
        total = float(np.dot(a, a))
    if a.dtype != np.float64 and not 1e-30 < total < 1e30:  # squares may under/overflow
        a = a.astype(np.float64)
        total = float(np.dot(a, a))
    return total


def _rms(a):
    return math.sqrt(_sq(a) / a.size) if a is not None and a.size else math.nan


def _spaced(A, n):
    flat = A.ravel()
    return flat[::max(1, flat.size // n)][:n].astype(np.float32)


def _updated(layer):
    """The arrays whose update ratio is recorded: Dense kernel; BatchNorm gamma and beta."""
    if isinstance(layer, Dense):
        return [layer.params["kernel"]]
    return [layer.params["gamma"], layer.params["beta"]]


def _unit_activation(layers, i):
    """(A, activation name) of the units layer i feeds: its own g, or the next Activation."""
    layer = layers[i]
    if isinstance(layer, Dense) and layer.activation.name != "linear":
        return layer.A, layer.activation.name
    for nxt in layers[i + 1:]:
        if isinstance(nxt, Activation):
            return nxt.A, nxt.activation.name
        if not isinstance(nxt, (BatchNorm, Dropout)):
            break
    return (layer.A, "linear") if isinstance(layer, Dense) else (None, "linear")


def _measured(layers, i):
    """(Z, dZ, the gradients of grad_rms) of layer i's last training batch."""
    layer = layers[i]
    if isinstance(layer, Dense):
        return layer.Z, layer.dZ, [layer.grads["kernel"]]
    # BatchNorm: its output, and the gradient reaching its (linear Dense's) input
    p = layer.params
    below = layers[i - 1] if i > 0 else None
    linear_below = isinstance(below, Dense) and below.activation.name == "linear"
    return (layer.Z_hat * p["gamma"] + p["beta"], below.dZ if linear_below else None,
            [layer.grads["gamma"], layer.grads["beta"]])


def _step_samples(layers, i, inv_scale, n):
    """Up to ``n`` evenly spaced values of layer i's dW (BatchNorm: dgamma, then dbeta), dZ and
    A, scaled as grad_rms, dz_rms and a_mean are (None where the statistic is)."""
    Z, dZ, grads = _measured(layers, i)
    A = _unit_activation(layers, i)[0]
    dW = np.concatenate([_spaced(g, n) for g in grads])[:n] * np.float32(inv_scale)
    return {"dW": dW,
            "dZ": None if dZ is None else _spaced(dZ, n) * np.float32(inv_scale * Z.shape[0]),
            "A": None if A is None else _spaced(A, n)}


def _stats(layers, i, inv_scale):
    """Every statistic of layer i's last training batch except the update ratio."""
    Z, dZ, grads = _measured(layers, i)
    m = Z.shape[0]
    A, name = _unit_activation(layers, i)
    size = sum(g.size for g in grads)
    grad_rms = math.sqrt(sum(_sq(g) for g in grads) / size) * inv_scale
    return {"grad_rms": grad_rms,
            "dz_rms": _rms(dZ) * inv_scale * m if dZ is not None else None,
            "z_mean": float(Z.mean(dtype=np.float64)), "z_std": float(Z.std(dtype=np.float64)),
            "a_mean": float(A.mean(dtype=np.float64)) if A is not None else None,
            "a_std": float(A.std(dtype=np.float64)) if A is not None else None,
            "saturated": _saturated(A, name), "dead": _dead(A, name)}


def _saturated(A, name):
    if A is None:
        return None
    if name == "tanh":
        return float(np.mean(np.abs(A) > TANH_SATURATION))
    if name == "sigmoid":
        low, high = SIGMOID_SATURATION
        return float(np.mean((A < low) | (A > high)))
    return None


def _dead(A, name):
    if A is None or name != "relu":
        return None
    return float(np.mean(~(A > 0).any(axis=0)))


def _median(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def flag_layers(rows):
    """``{"vanished": [names], "exploded": [names]}`` from layer_stats rows (thresholds above)."""
    names = list(dict.fromkeys(r["layer"] for r in rows))
    by_layer = {n: [r for r in rows if r["layer"] == n] for n in names}
    med = {n: {k: _median([r[k] for r in rs]) for k in ("grad_rms", "dz_rms", "update_ratio")}
           for n, rs in by_layer.items()}
    dz = [m["dz_rms"] for m in med.values() if m["dz_rms"] is not None and math.isfinite(m["dz_rms"])]
    top = max(dz) if dz else None
    vanished, exploded = [], []
    for n in names:
        m = med[n]
        values = [r[k] for r in by_layer[n] for k in ("grad_rms", "dz_rms", "update_ratio")
                  if r[k] is not None]
        if not all(math.isfinite(v) for v in values) or \
                (m["grad_rms"] is not None and m["grad_rms"] > EXPLODED_GRAD) or \
                (m["update_ratio"] is not None and m["update_ratio"] > EXPLODED_UPDATE):
            exploded.append(n)
        elif (top and m["dz_rms"] is not None and m["dz_rms"] < VANISHED_RATIO * top) or \
                (m["update_ratio"] is not None and m["update_ratio"] < VANISHED_UPDATE):
            vanished.append(n)
    return {"vanished": vanished, "exploded": exploded}
