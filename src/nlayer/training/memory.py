"""How much memory a model will need, worked out before anything is allocated.

Training keeps, for P parameters of ``itemsize`` bytes each: the parameters
(drawn per layer, then packed into one buffer: 2P at the peak of ``build``),
their gradients (P), the optimiser's slots (momentum: P; Adam: 2P), and per
batch of m rows the layers' work arrays (Z, A and dA: about ``3 m n_out`` per
layer). :func:`check` compares that with the memory the system reports free
and raises :class:`~nlayer.errors.ModelTooLargeError` with the size and the fix.
"""

from .. import layers as layers_mod
from ..errors import ModelTooLargeError
from ..utils.system import available_bytes, format_bytes

__all__ = ["estimate", "check"]

#: Arrays of parameter size each optimiser keeps (SGD without momentum keeps none).
_SLOTS = {"sgd": 1, "adam": 2, "adamw": 2, "rmsprop": 1}


def _widths(layers, n_features):
    """(layer, n_in, n_out, params) for each layer, from the sizes alone (nothing built)."""
    out, width = [], int(n_features)
    for layer in layers:
        n_in = width
        params = 0
        if isinstance(layer, layers_mod.Dense):
            width = int(layer.units) if layer.units is not None else width
            params = n_in * width + (width if layer.use_bias else 0)
        elif isinstance(layer, layers_mod.BatchNorm):
            params = 4 * width
        out.append((layer, n_in, width, params))
    return out


def estimate(layers, n_features, itemsize, batch_rows=0, optimizer=None):
    """Bytes needed by part: parameters, their packing copy, gradients, optimiser state and
    the activations of one batch of ``batch_rows`` rows."""
    sizes = _widths(layers, n_features)
    params = sum(p for *_, p in sizes)
    slots = 2
    if optimizer is not None:
        config = optimizer.get_config()
        slots = _SLOTS.get(config.get("name"), 2)
        if config.get("name") == "sgd" and not config.get("momentum"):
            slots = 0
    return {"parameters": params * itemsize, "packing copy": params * itemsize,
            "gradients": params * itemsize, "optimizer state": slots * params * itemsize,
            "activations": 3 * batch_rows * sum(n_out for _, _, n_out, _ in sizes) * itemsize}


def check(layers, n_features, dtype, batch_rows=0, optimizer=None, available=None):
    """Raise ModelTooLargeError when the estimate exceeds the available memory."""
    parts = estimate(layers, n_features, dtype.itemsize, batch_rows, optimizer)
    needed = sum(parts.values())
    available = available_bytes() if available is None else available
    if available is None or needed <= available:
        return parts
    biggest = max(_widths(layers, n_features), key=lambda s: s[3])
    detail = ", ".join(f"{k} {format_bytes(v)}" for k, v in parts.items() if v)
    fixes = ["layers"] + (["batch_size"] if parts["activations"] > needed / 4 else []) + \
        (["dtype"] if dtype.itemsize == 8 else [])
    raise ModelTooLargeError(
        f"the model needs about {format_bytes(needed)} of memory ({detail}) but only "
        f"{format_bytes(available)} is available; its largest layer is {biggest[0].name} "
        f"({biggest[1]:,} x {biggest[2]:,}, {biggest[3]:,} parameters).",
        needed, available, fixes)
