"""How much memory a model will need, worked out before anything is allocated.

Training keeps, for P parameters of ``itemsize`` bytes each: the parameters
(drawn per layer, then packed into one buffer: 2P at the peak of ``build``),
their gradients (P), the optimiser's slots (momentum: P; Adam: 2P), and per
batch of m rows the layers' work arrays (Z, A and dA: about ``3 m n_out`` per
layer). :func:`check` compares that with the memory the system reports free
and raises :class:`~nlayer.errors.ModelTooLargeError` with the size and the fix.
"""

import math
from typing import NamedTuple, Optional

from .. import layers as layers_mod
from ..errors import ModelTooLargeError
from ..utils.system import available_bytes, format_bytes

__all__ = ["Size", "sizes", "estimate", "check"]

#: Arrays of parameter size each optimiser keeps (SGD without momentum keeps none).
_SLOTS = {"sgd": 1, "adam": 2, "adamw": 2, "rmsprop": 1}


class Size(NamedTuple):
    """A layer's widths and parameter counts; None where the input width is not known yet."""

    layer: object
    n_in: Optional[int]
    n_out: Optional[int]
    params: Optional[int]     # every array of get_weights()
    trainable: Optional[int]  # those the optimiser updates


def sizes(layers, n_features):
    """A :class:`Size` per layer from the layers' ``weight_shapes`` (nothing is allocated).

    ``n_features=None`` (the input width not known yet) leaves the first layers' input
    width, and the counts that need it, None; a Dense's own ``units`` are known anyway.
    """
    out, width = [], None if n_features is None else int(n_features)
    for layer in layers:
        n_in = width
        units = getattr(layer, "units", None) if isinstance(layer, layers_mod.Dense) else n_in
        if n_in is None or units is None:  # Dense(None): the targets give the width at fit
            params = trainable = 0 if not layer.weight_names else None
            width = units
        else:
            shapes, width = layer.weight_shapes(n_in)
            counts = {name: math.prod(shape) for name, shape in shapes}
            params = sum(counts.values())
            trainable = sum(counts[k] for k in layer.trainable_names if k in counts)
        out.append(Size(layer, n_in, width, params, trainable))
    return out


def estimate(layers, n_features, itemsize, batch_rows=0, optimizer=None):
    """Bytes needed by part: parameters, their packing copy, gradients, optimiser state and
    the activations of one batch of ``batch_rows`` rows."""
    known = sizes(layers, n_features)
    params = sum(s.params or 0 for s in known)
    slots = 2
    if optimizer is not None:
        config = optimizer.get_config()
        slots = _SLOTS.get(config.get("name"), 2)
        if config.get("name") == "sgd" and not config.get("momentum"):
            slots = 0
    return {"parameters": params * itemsize, "packing copy": params * itemsize,
            "gradients": params * itemsize, "optimizer state": slots * params * itemsize,
            "activations": 3 * batch_rows * sum(s.n_out or 0 for s in known) * itemsize}


def check(layers, n_features, dtype, batch_rows=0, optimizer=None, available=None):
    """Raise ModelTooLargeError when the estimate exceeds the available memory."""
    parts = estimate(layers, n_features, dtype.itemsize, batch_rows, optimizer)
    needed = sum(parts.values())
    available = available_bytes() if available is None else available
    if available is None or needed <= available:
        return parts
    biggest = max(sizes(layers, n_features), key=lambda s: s.params or 0)
    detail = ", ".join(f"{k} {format_bytes(v)}" for k, v in parts.items() if v)
    fixes = ["layers"] + (["batch_size"] if parts["activations"] > needed / 4 else []) + \
        (["dtype"] if dtype.itemsize == 8 else [])
    raise ModelTooLargeError(
        f"the model needs about {format_bytes(needed)} of memory ({detail}) but only "
        f"{format_bytes(available)} is available; its largest layer is {biggest.layer.name} "
        f"({biggest.n_in:,} x {biggest.n_out or 0:,}, {biggest.params or 0:,} parameters).",
        needed, available, fixes)
