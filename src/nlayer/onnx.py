"""Export a trained :class:`~nlayer.Sequential` model to an ONNX file.

The exported graph computes exactly what ``model.predict`` computes, for raw
(un-normalised) inputs:

- input ``X`` of shape ``[N, n_features]`` and output ``Y`` of shape
  ``[N, n_outputs]``, where ``N`` is a symbolic batch size; the element type is
  the model's dtype (float32 or float64);
- the stored input normalisation comes first, as ``Sub(X, shift)`` then
  ``Mul(., 1/scale)`` with constants in the model's dtype (the same arithmetic
  as :meth:`nlayer.preprocessing.Standardizer.transform`);
- each ``Dense`` becomes one ``Gemm`` (``Z = A @ W + b``; no ``C`` input when the
  layer has no bias), followed by its activation;
- activations map to ``Relu``, ``Sigmoid``, ``Tanh``, ``LeakyRelu(alpha)`` and
  ``Softmax(axis=1)``; ``linear`` needs no node;
- ``Dropout`` is the identity at inference and is left out;
- a model compiled with ``scale_targets=True`` ends in ``Mul(., std)`` then
  ``Add(., mean)``, so the graph returns targets in their original units (the same
  arithmetic as :meth:`~nlayer.preprocessing.Standardizer.inverse_transform`);
- a ``BatchNorm`` that follows a ``Dense`` with a linear activation (Dropout in
  between is ignored) is folded into that Dense by default::

      s  = gamma / sqrt(moving_variance + epsilon)
      W' = W * s                       (each column j scaled by s_j)
      b' = (b - moving_mean) * s + beta

  (computed in float64, then cast to the model's dtype). Any other BatchNorm,
  or every BatchNorm with ``fold_batchnorm=False``, becomes an inference-mode
  ``BatchNormalization`` node.

ONNX attributes are float32 numbers. For float64 models, so that the file keeps
float64 accuracy, ``leaky_relu`` becomes ``Max(z, Mul(z, alpha))`` with a float64
``alpha`` (unless alpha is exact in float32), and a BatchNormalization node's
``moving_variance`` input carries ``epsilon - float32(epsilon)`` (about 5e-11 for
the default 1e-3) so that ``moving_variance + epsilon`` is unchanged.

Only the ``onnx`` package is needed to export; ``onnxruntime`` (or any other
ONNX runtime) runs the file::

    import onnxruntime as ort
    sess = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
    probs = sess.run(None, {"X": X.astype("float32")})[0]
"""

import json
import os
import tempfile

import numpy as np

from . import layers as layers_mod
from ._version import __version__
from .errors import NotFittedError

__all__ = ["export_onnx", "to_onnx_model", "DEFAULT_OPSET", "MIN_OPSET"]

DEFAULT_OPSET = 17
MIN_OPSET = 13  # Softmax normalises along one axis from opset 13 on

_INPUT, _OUTPUT = "X", "Y"
_ONNX_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "leaky_relu": "LeakyRelu",
             "softmax": "Softmax"}
_IMPORT_HINT = 'ONNX export needs the onnx package: pip install "nlayer[onnx]"'


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper  # noqa: F401  (sub-modules used below)
    except ImportError as exc:
        raise ImportError(_IMPORT_HINT) from exc
    return onnx


# -- the plan: layers reduced to the operations that run at inference ----------------
class _DenseStep:
    """A Dense layer, possibly with BatchNorm layers folded in (weights kept in float64)."""

    def __init__(self, layer):
        self.layer = layer
        self.kernel = layer.params["kernel"].astype(np.float64)
        self.bias = layer.params["bias"].astype(np.float64) if layer.use_bias else None
        self.folded = []

    def fold(self, bn):
        p = {k: v.astype(np.float64) for k, v in bn.params.items()}
        s = p["gamma"] / np.sqrt(p["moving_variance"] + bn.epsilon)
        bias = self.bias if self.bias is not None else np.zeros_like(p["beta"])
        self.kernel = self.kernel * s
        self.bias = (bias - p["moving_mean"]) * s + p["beta"]
        self.folded.append(bn)


class _ActivationStep:
    def __init__(self, activation, owner):
        self.activation, self.owner = activation, owner


class _BatchNormStep:
    def __init__(self, layer):
        self.layer = layer


def _plan(model, fold_batchnorm):
    """The inference steps of ``model`` and a human-readable description of each layer."""
    steps, notes = [], []
    for layer in model.layers:
        if isinstance(layer, layers_mod.Dropout):
            notes.append(f"{layer.name}: Dropout({layer.rate}), identity at inference, omitted")
        elif isinstance(layer, layers_mod.Dense):
            steps.append(_DenseStep(layer))
            act = layer.activation.name
            if act != "linear":
                steps.append(_ActivationStep(layer.activation, layer))
            bias = "" if layer.use_bias else ", no bias"
            notes.append(f"{layer.name}: Dense({layer.units}, {act}{bias})")
        elif isinstance(layer, layers_mod.BatchNorm):
            prev = steps[-1] if steps else None
            if fold_batchnorm and isinstance(prev, _DenseStep):
                prev.fold(layer)
                notes.append(f"{layer.name}: BatchNorm(epsilon={layer.epsilon}), "
                             f"folded into {prev.layer.name}")
            else:
                steps.append(_BatchNormStep(layer))
                notes.append(f"{layer.name}: BatchNorm(epsilon={layer.epsilon})")
        elif isinstance(layer, layers_mod.Activation):
            if layer.activation.name != "linear":
                steps.append(_ActivationStep(layer.activation, layer))
            notes.append(f"{layer.name}: Activation({layer.activation.name})")
        else:
            raise TypeError(
                f"cannot export layer {layer.name!r} of type {type(layer).__name__} to ONNX; "
                "supported layers: Dense, Activation, BatchNorm, Dropout"
            )
    return steps, notes


# -- graph building -------------------------------------------------------------------
class _GraphBuilder:
    def __init__(self, onnx, dtype):
        self.onnx, self.dtype = onnx, dtype
        self.nodes, self.initializers = [], []
        self._used = {_INPUT, _OUTPUT}

    def name(self, base):
        base = str(base).replace(" ", "_") or "t"
        name, k = base, 1
        while name in self._used:
            k += 1
            name = f"{base}_{k}"
        self._used.add(name)
        return name

    def const(self, array, base):
        name = self.name(base)
        array = np.ascontiguousarray(np.asarray(array).astype(self.dtype))
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, base, **attrs):
        out = self.name(f"{base}/{op}")
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def _activation_node(g, activation, x, base):
    name = activation.name
    if name == "linear":
        return x
    if name not in _ONNX_OPS:
        raise TypeError(f"cannot export activation {name!r} to ONNX; "
                        f"supported: {', '.join(sorted(_ONNX_OPS))}, linear")
    if name == "leaky_relu":
        alpha = activation.alpha
        if g.dtype == np.float32 or float(np.float32(alpha)) == alpha:
            return g.node("LeakyRelu", [x], base, alpha=float(alpha))
        # ONNX attributes are float32; in float64 use max(z, alpha z), which equals
        # leaky_relu for 0 <= alpha < 1, with alpha as a float64 constant.
        scaled = g.node("Mul", [x, g.const(alpha, f"{base}/alpha")], base)
        return g.node("Max", [x, scaled], base)
    if name == "softmax":
        return g.node("Softmax", [x], base, axis=1)  # rows, as nlayer's softmax
    return g.node(_ONNX_OPS[name], [x], base)


def _check_model_ready(model):
    if not getattr(model, "built", False):
        raise NotFittedError(
            "cannot export an unbuilt model to ONNX: it has no weights yet; "
            "call fit() (or build((None, n_features))) first"
        )
    norm = model.normalizer
    if norm is not None and not norm.fitted:
        raise NotFittedError(
            f"cannot export to ONNX: the model's {norm.name!r} input normaliser is not fitted "
            "yet; it is fitted on the training rows at the first fit()"
        )


def _check_opset(onnx, opset):
    if opset is None:
        opset = DEFAULT_OPSET
    latest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or \
            not MIN_OPSET <= opset <= latest:
        raise ValueError(f"opset must be a whole number from {MIN_OPSET} to {latest} "
                         f"(the newest this onnx package knows), got {opset!r}")
    return int(opset)


def to_onnx_model(model, opset=None, fold_batchnorm=True):
    """Return an ``onnx.ModelProto`` computing ``model.predict``; see the module docstring.

    ``opset`` is the ONNX operator-set version (default 17, at least 13).
    ``fold_batchnorm`` folds each BatchNorm that directly follows a linear Dense into
    that Dense's weights; otherwise BatchNorm becomes a ``BatchNormalization`` node.
    The model is checked with ``onnx.checker.check_model`` before it is returned.

    Parameters
    ----------
    model : nlayer.Sequential
        A built model (its input normaliser, if any, fitted) of Dense, Activation,
        BatchNorm and Dropout layers.
    opset : int, optional
        From ``MIN_OPSET`` (13) to the newest the installed onnx knows; None is
        ``DEFAULT_OPSET`` (17).
    fold_batchnorm : bool, default True

    Returns
    -------
    onnx.ModelProto
        Input ``"X"`` and output ``"Y"``, with nlayer's version, the dtype, the number of
        features and the output activation in its ``metadata_props``.

    Raises
    ------
    ImportError
        If the onnx package is not installed.
    NotFittedError
        If the model is not built, or its input normaliser is not fitted.
    TypeError
        If a layer or an activation has no ONNX form here.
    ValueError
        If ``opset`` is not a whole number in the range above.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> from nlayer.onnx import to_onnx_model
    >>> X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    >>> model = nl.MLP(hidden=(4,))
    >>> model.compile(optimizer="adam")
    Sequential(2 layers, dtype=float32)
    >>> history = model.fit(X, y, epochs=1, seed=0)
    >>> proto = to_onnx_model(model)                                  # doctest: +SKIP
    >>> [node.op_type for node in proto.graph.node]                   # doctest: +SKIP
    ['Gemm', 'Relu', 'Gemm', 'Softmax']
    """
    onnx = _import_onnx()
    from onnx import TensorProto, helper

    _check_model_ready(model)
    opset = _check_opset(onnx, opset)
    dtype = np.dtype(model.dtype)
    elem = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dtype.name]
    steps, notes = _plan(model, fold_batchnorm)

    g = _GraphBuilder(onnx, dtype)
    x = _INPUT
    norm = model.normalizer
    if norm is not None:
        # The same arithmetic as the normaliser's transform: (X - shift) * (1/scale).
        shift = np.asarray(norm.shift, dtype=np.float64)
        inv_scale = 1.0 / np.asarray(norm.scale, dtype=np.float64)
        x = g.node("Sub", [x, g.const(shift, "normalize/shift")], "normalize")
        x = g.node("Mul", [x, g.const(inv_scale, "normalize/inv_scale")], "normalize")

    for step in steps:
        if isinstance(step, _DenseStep):
            base = step.layer.name
            inputs = [x, g.const(step.kernel, f"{base}/kernel")]
            if step.bias is not None:
                inputs.append(g.const(step.bias, f"{base}/bias"))
            x = g.node("Gemm", inputs, base)
        elif isinstance(step, _ActivationStep):
            x = _activation_node(g, step.activation, x, step.owner.name)
        else:
            bn = step.layer
            base = bn.name
            var = bn.params["moving_variance"]
            eps32 = float(np.float32(bn.epsilon))
            if dtype == np.float64 and eps32 != bn.epsilon:
                # The epsilon attribute is float32: move the rounding difference into the
                # variance so that variance + epsilon is the model's float64 sum.
                var = var + (bn.epsilon - eps32)
            inputs = [x] + [g.const(bn.params[k], f"{base}/{k}")
                            for k in ("gamma", "beta", "moving_mean")]
            inputs.append(g.const(var, f"{base}/moving_variance"))
            x = g.node("BatchNormalization", inputs, base, epsilon=eps32)

    targets = model.target_scaler
    if targets is not None and targets.fitted:
        # predictions in the original units: A * std + mean, as the model's predict
        x = g.node("Mul", [x, g.const(targets.scale, "targets/scale")], "targets")
        x = g.node("Add", [x, g.const(targets.shift, "targets/shift")], "targets")

    if g.nodes:
        g.nodes[-1].output[0] = _OUTPUT  # the last node writes the graph output directly
    else:
        g.nodes.append(helper.make_node("Identity", [x], [_OUTPUT], name="output/Identity"))

    n_out = model.layers[-1].n_out
    graph = helper.make_graph(
        g.nodes, model.name or "nlayer",
        [helper.make_tensor_value_info(_INPUT, elem, ["N", model.n_features])],
        [helper.make_tensor_value_info(_OUTPUT, elem, ["N", n_out])],
        initializer=g.initializers,
    )
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="nlayer",
                              producer_version=_nlayer_version(),
                              doc_string=_doc_string(model, notes))
    # The oldest IR version that knows this opset, so older runtimes can read the file.
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    _set_metadata(proto, model)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, path, opset=None, fold_batchnorm=True):
    """Write ``model`` as an ONNX file at ``path`` and return ``path``.

    The file is written to a temporary file in the same directory and then moved
    into place, so a crash never leaves a half-written file at ``path``.
    See :func:`to_onnx_model` for ``opset`` and ``fold_batchnorm``.

    Parameters
    ----------
    model : nlayer.Sequential
        As for :func:`to_onnx_model`.
    path : str or os.PathLike
        The file to write (replaced if it exists); its directory must exist.
    opset : int, optional
    fold_batchnorm : bool, default True

    Returns
    -------
    str or os.PathLike
        ``path``, as given.

    Raises
    ------
    ImportError, NotFittedError, TypeError, ValueError
        As :func:`to_onnx_model`; nothing is written then.
    OSError
        If the file cannot be written.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> from nlayer.onnx import export_onnx

    A built model is enough (here untrained: ``n_outputs`` fixes the output width):

    >>> model = nl.MLP(hidden=(4,), n_outputs=2)
    >>> model.build((None, 3))
    Sequential(2 layers, dtype=float32)
    >>> export_onnx(model, "model.onnx")                              # doctest: +SKIP
    'model.onnx'
    >>> import onnxruntime as ort                                     # doctest: +SKIP
    >>> sess = ort.InferenceSession("model.onnx")                     # doctest: +SKIP
    >>> X = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    >>> Y = sess.run(None, {"X": X})[0]                               # doctest: +SKIP
    >>> bool(np.allclose(Y, model.predict(X), atol=1e-6))             # doctest: +SKIP
    True
    """
    proto = to_onnx_model(model, opset=opset, fold_batchnorm=fold_batchnorm)
    data = proto.SerializeToString()
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".onnx", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


# -- descriptive fields -----------------------------------------------------------------
def _nlayer_version():
    return __version__


def _doc_string(model, notes):
    lines = [f"nlayer {_nlayer_version()} Sequential model {model.name!r} "
             f"({np.dtype(model.dtype).name}, {model.n_features} features -> "
             f"{model.layers[-1].n_out} outputs)."]
    norm = model.normalizer
    if norm is not None:
        lines.append(f"Input normalisation: {norm.name}, X' = (X - shift) * (1 / scale).")
    if getattr(model, "target_scaler", None) is not None:
        lines.append("Targets standardised in training: Y = A * std + mean.")
    lines.append("Layers:")
    lines += [f"  {note}" for note in notes]
    return "\n".join(lines)


def _set_metadata(proto, model):
    props = {
        "nlayer.version": _nlayer_version(),
        "nlayer.dtype": np.dtype(model.dtype).name,
        "nlayer.n_features": str(model.n_features),
        "nlayer.output_activation": model.output_activation,
        "nlayer.normalize": model.normalizer.name if model.normalizer is not None else "none",
    }
    if getattr(model, "metadata", None):
        props["nlayer.metadata"] = json.dumps(model.metadata, default=str)
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
