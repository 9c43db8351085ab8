"""The arrays a validated model-file header implies, and the values they must hold.

From the header's architecture (its unbuilt layers and optimiser, made from the
config: no weights allocated), normaliser, compile settings and optimiser state,
:func:`expected_arrays` works out every array the file must hold: its name,
shape and dtype, and the layer or role it belongs to. It checks them against
the header's list of arrays *before* any array is read, so a header declaring
``units=10**9`` over a tiny kernel is refused without allocating anything.
After the arrays are read, :func:`check_values` applies the rules that keep a
loaded model's predictions finite: batch-norm moving variance >= 0, normaliser
and target scales > 0.
"""

import numpy as np

from ..errors import ModelFileError
from ..utils.fastpaths import packed_layout
from .schema import FIX

__all__ = ["Expected", "expected_arrays", "check_values"]

_STATS = ("float32", "float64")


class Expected:
    """What one array must be: ``shape``, allowed ``dtypes`` (names), ``owner`` (for
    messages) and ``rule`` for its values (None, "nonnegative" or "positive")."""

    def __init__(self, shape, dtypes, owner, rule=None, epsilon=0.0):
        self.shape, self.dtypes, self.owner, self.rule = tuple(shape), dtypes, owner, rule
        self.epsilon = epsilon  # batch norm's, for the "variance" rule


def expected_arrays(path, header, layers, optimizer):
    """``{name: Expected}`` for a validated header, its unbuilt ``layers`` and its
    ``optimizer`` (None when the model is not compiled); raises ModelFileError where the
    header's list of arrays disagrees."""
    config = header["config"]
    dtype = config["dtype"]
    expected, sizes = {}, []
    width = config["n_features"]
    for layer in layers:
        shapes, out_width = layer.weight_shapes(width)
        for key, shape in shapes:
            rule = "variance" if key == "moving_variance" else None
            expected[f"w{len(expected)}"] = Expected(shape, (dtype,), f"layer {layer.name!r} {key}",
                                                     rule, getattr(layer, "epsilon", 0.0))
        named = dict(shapes)
        sizes += [_product(named[key]) for key in layer.trainable_names]
        width = out_width
    expected.update(_statistics(path, header, width))
    expected.update(_optimizer_arrays(path, header, optimizer, dtype, packed_layout(sizes)[1]))
    _compare(path, expected, header["arrays"])
    return expected


def _statistics(path, header, n_outputs):
    """The normaliser's and the target scaler's arrays, after checking they agree with the
    compile settings."""
    config, out = header["config"], {}
    norm, settings = header.get("normalizer"), config.get("compile")
    said = settings.get("normalize") if settings else None
    if norm is not None:
        if settings is not None and said != norm:
            _fail(path, f"the compile settings say normalize={said!r} but the stored normaliser "
                        f"is {norm!r}; they contradict each other")
        n = config["n_features"]
        out["norm_shift"] = Expected((n,), _STATS, f"the {norm} normaliser's shift", "shift")
        out["norm_scale"] = Expected((n,), _STATS, f"the {norm} normaliser's scale", "scale")
    elif said is not None and header.get("history"):
        _fail(path, f"the compile settings say normalize={said!r} but the file holds no "
                    "normaliser statistics, which a trained model always has")
    if settings and settings.get("scale_targets"):
        out["target_shift"] = Expected((n_outputs,), _STATS, "the target scaler's shift", "shift")
        out["target_scale"] = Expected((n_outputs,), _STATS, "the target scaler's scale", "scale")
    return out


def _optimizer_arrays(path, header, optimizer, dtype, n_packed):
    state = header.get("optimizer_state")
    if state is None:
        return {}
    if optimizer is None:
        _fail(path, "the file holds optimiser state but no compile settings")
    names = set(optimizer._init_state(np.zeros(1, dtype=dtype)))
    out = {}
    for slot, keys in state["slots"].items():
        if slot != "0":
            _fail(path, f"optimiser slot {slot} does not exist: the parameters are packed into "
                        "one buffer, slot 0")
        if set(keys) != names:
            _fail(path, f"the {optimizer.name} optimiser keeps {sorted(names) or 'nothing'} "
                        f"but the file stores {sorted(keys)}")
        for key in keys:
            out[f"opt{slot}_{key}"] = Expected((n_packed,), (dtype,),
                                               f"the optimiser's {key} (one value per parameter)")
    return out


def _compare(path, expected, listed):
    for name, e in expected.items():
        if name not in listed:
            _fail(path, f"the architecture needs array {name} ({e.owner}, shape {e.shape}) but "
                        "the file has none")
        spec = listed[name]
        if tuple(spec["shape"]) != e.shape:
            _fail(path, f"array {name} ({e.owner}) has shape {tuple(spec['shape'])} but the "
                        f"architecture implies {e.shape}")
        if spec["dtype"] not in e.dtypes:
            _fail(path, f"array {name} ({e.owner}) is {spec['dtype']} but must be "
                        f"{' or '.join(e.dtypes)}")
    for name in listed:
        if name not in expected and not name.startswith("ckpt_"):
            _fail(path, f"array {name} is stored but the header does not use it ({_unused(name)})")


def _unused(name):
    if name.startswith("norm_"):
        return "normaliser statistics without a normaliser named in the header"
    if name.startswith("target_"):
        return "target statistics without scale_targets in the compile settings"
    if name.startswith("opt"):
        return "optimiser state the header's optimizer_state does not list"
    return "more weight arrays than the architecture has"


def check_values(path, expected, arrays, dtype):
    """Rules on the values, after the arrays are read (they are finite already), so that the
    model computes in ``dtype`` (its own) without producing inf or NaN from them:

    - batch norm: moving variance >= 0 and variance + epsilon > 0 (it is square-rooted and
      divided by);
    - normaliser/target scaler: scale > 0 with 1/scale finite (inputs are multiplied by it),
      shift within the dtype's range.
    """
    dt = np.dtype(dtype)
    big = float(np.finfo(dt).max)
    for name, e in expected.items():
        a, where = arrays[name], f"array {name} ({e.owner})"
        if e.rule == "variance":
            if (a < 0).any():
                _fail(path, f"{where} has negative values (min {a.min():.4g}); a variance cannot "
                            "be negative")
            if not (a.astype(dt) + dt.type(e.epsilon) > 0).all():
                _fail(path, f"{where} plus epsilon {e.epsilon:g} is 0 in {dt.name}; the model "
                            "would divide by zero")
        elif e.rule == "scale":
            with np.errstate(divide="ignore", over="ignore"):
                reciprocal = (1.0 / a).astype(dt)
            if (a <= 0).any() or not np.isfinite(reciprocal).all():
                _fail(path, f"{where} has a value that is not a usable scale (min {a.min():.4g}); "
                            f"a scale must be positive and at least {1 / big:.3g} in {dt.name}")
        elif e.rule == "shift" and (np.abs(a) > big).any():
            _fail(path, f"{where} has values beyond the {dt.name} range (+-{big:.3g})")


def _fail(path, what):
    raise ModelFileError(f"{path}: {what}; {FIX}")


def _product(shape):
    n = 1
    for d in shape:
        n *= d
    return n
