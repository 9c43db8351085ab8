"""The JSON header of a model file: its size, nesting, field types and value ranges.

A file whose digest checks out can still be hostile (anyone can recompute a
SHA-256), so every field is checked for its type and range before anything is
built from it: ``validate(path, header)`` raises a :class:`ModelFileError` that
names the field (``config.layers[3].units``), what is wrong and what to do.
:func:`parse` caps the header's size and nesting depth before ``json.loads``
(the depth is measured by a vectorised scan, not by recursion).
"""

import json
import math
import re

import numpy as np

from .. import activations, initializers, losses, metrics, optimizers
from ..errors import ModelFileError
from ..preprocessing import NORMALIZERS
from ..utils import checks

__all__ = ["check_size", "parse", "validate", "MAX_LAYERS", "MAX_JSON_BYTES", "MAX_DEPTH"]

MAX_JSON_BYTES = 16 << 20  # 16 MiB: a 10,000-layer header with a 10,000-epoch history fits
MAX_DEPTH = 64
MAX_CONTAINERS = 500_000  # lists and objects: a 10,000-layer header has about 100,000
MAX_LAYERS = 10_000
MAX_WIDTH = 2**31 - 1  # units and features; the stored arrays bound them much more tightly
MAX_NAME = checks.MAX_NAME
SUPPORTED_VERSIONS = (1, 2)

TOP_REQUIRED = ("format", "version", "config", "arrays", "sha256")
TOP_OPTIONAL = ("normalizer", "history", "metadata", "optimizer_state", "checkpoint")
# the keys each object may have (required, optional): a new setting is added here
CONFIG_KEYS = (("dtype", "n_features", "layers"), ("name", "compile"))
COMPILE_KEYS = (("optimizer", "loss", "l2", "metrics", "normalize"), ("scale_targets",))
LAYER_KEYS = {
    "Dense": ("units", "activation", "init", "use_bias"),
    "Activation": ("activation",),
    "BatchNorm": ("momentum", "epsilon"),
    "Dropout": ("rate",),
}
# (low, high, low_open, high_open) of the optimisers' numeric hyper-parameters (a schedule
# may stand for lr as an object: that is checked by its own constructor)
OPTIMIZER_RANGES = {
    "lr": (0.0, math.inf, True, False), "epsilon": (0.0, math.inf, True, False),
    "momentum": (0.0, 1.0, False, True), "beta_1": (0.0, 1.0, False, True),
    "beta_2": (0.0, 1.0, False, True), "rho": (0.0, 1.0, False, True),
    "weight_decay": (0.0, math.inf, False, False),
}
STATE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}\Z")
FIX = "the file was altered or written by something else; save the model again"


class _Checker:
    def __init__(self, path):
        self.path = path

    def fail(self, where, problem, fix=FIX):
        raise ModelFileError(f"{self.path}: header field {where} {problem}; {fix}")

    def dict(self, value, where, required=(), optional=()):
        if not isinstance(value, dict):
            self.fail(where, f"must be an object, got {_kind(value)}")
        missing = [k for k in required if k not in value]
        if missing:
            self.fail(where, f"lacks {', '.join(missing)}")
        unknown = sorted(k for k in value if k not in required and k not in optional)
        if unknown and (required or optional):
            self.fail(where, f"has unexpected keys {', '.join(map(repr, unknown[:5]))} "
                             f"(known: {', '.join((*required, *optional))})")
        return value

    def int(self, value, where, low, high):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(where, f"must be a whole number in [{low}, {high}], got {_show(value)}")
        return value

    def number(self, value, where, low=-math.inf, high=math.inf, low_open=False, high_open=False):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
            math.isfinite(value) and (value > low if low_open else value >= low) and \
            (value < high if high_open else value <= high)
        if not ok:
            interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
            self.fail(where, f"must be a finite number in {interval}, got {_show(value)}")
        return value

    def bool(self, value, where):
        if not isinstance(value, bool):
            self.fail(where, f"must be true or false, got {_show(value)}")
        return value

    def name(self, value, where, allowed=None, optional=False):
        if value is None and optional:
            return value
        if not isinstance(value, str) or len(value) > MAX_NAME:
            self.fail(where, f"must be a name (a string of at most {MAX_NAME} characters), "
                             f"got {_show(value)}")
        if allowed is not None and value.lower() not in allowed:
            self.fail(where, f"{value!r} is not one of {', '.join(allowed)}",
                      "the file was written by a newer or modified nlayer; upgrade nlayer")
        return value

    def list(self, value, where, max_len):
        if not isinstance(value, list) or len(value) > max_len:
            self.fail(where, f"must be a list of at most {max_len:,} items, got "
                             f"{_kind(value)}{_length(value)}")
        return value

    def spec(self, value, where, names, optional=True):
        """An activation/initialiser/optimiser spec: None, a name, or {"name": ..., numbers...}."""
        if value is None and optional:
            return
        if isinstance(value, str):
            self.name(value, where, names)
            return
        self.dict(value, where)
        self.name(value.get("name"), f"{where}.name", names)
        for key, v in value.items():
            if key != "name":
                self.plain(v, f"{where}.{key}")

    def plain(self, value, where, depth=0):
        """Hyper-parameters: finite numbers, booleans, short strings, None, or nests of those."""
        if isinstance(value, dict) and depth < 4:
            for key, v in value.items():
                self.plain(v, f"{where}.{key}", depth + 1)
        elif isinstance(value, list) and depth < 4 and len(value) <= 1000:
            for i, v in enumerate(value):
                self.plain(v, f"{where}[{i}]", depth + 1)
        elif isinstance(value, float) and not math.isfinite(value):
            self.fail(where, f"must be finite, got {value}")
        elif not (value is None or isinstance(value, (bool, int, float)) or
                  (isinstance(value, str) and len(value) <= MAX_NAME)):
            self.fail(where, f"must be a number, boolean or short name, got {_kind(value)}")


# -- parsing ------------------------------------------------------------------------------
def check_size(path, n_bytes):
    if n_bytes > MAX_JSON_BYTES:
        raise ModelFileError(f"{path}: the JSON header has {n_bytes:,} bytes, more than the "
                             f"{MAX_JSON_BYTES:,} allowed; {FIX}")


def parse(path, raw):
    """The header dict from its UTF-8 JSON bytes, after capping size and nesting depth."""
    check_size(path, len(raw))
    depth, containers = json_depth(raw)
    if depth > MAX_DEPTH:
        raise ModelFileError(f"{path}: the JSON header is nested {depth} levels deep (at most "
                             f"{MAX_DEPTH}); {FIX}")
    if containers > MAX_CONTAINERS:
        raise ModelFileError(f"{path}: the JSON header holds {containers:,} lists and objects "
                             f"(at most {MAX_CONTAINERS:,}); {FIX}")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, int limits
        raise ModelFileError(f"{path}: not a readable nlayer model file: the JSON header is "
                             f"invalid ({str(exc)[:200]}); {FIX}") from exc
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: not an nlayer model file: the header is "
                             f"{_kind(header)}, not an object")
    return header


def json_depth(raw, chunk=1 << 20):
    """``(deepest nesting, number of arrays and objects)`` of JSON bytes, strings skipped
    (exact for valid JSON).

    A quote is escaped when an odd number of backslashes precede it; a bracket after an
    odd number of real quotes is inside a string. Vectorised over chunks of ``chunk`` bytes
    (carrying the string state, the trailing backslashes and the depth from one to the
    next): O(n) time, O(chunk) memory, no recursion.
    """
    depth = deepest = containers = 0
    inside, carried = 0, 0  # inside a string at the chunk's start; backslashes ending the last
    for start in range(0, len(raw), chunk):
        b = np.frombuffer(raw, dtype=np.uint8, count=min(chunk, len(raw) - start), offset=start)
        idx = np.arange(b.size, dtype=np.int64)
        backslash = b == ord("\\")
        last_other = np.maximum.accumulate(np.where(backslash, -1, idx))
        previous = np.concatenate(([-1], last_other[:-1]))  # last non-backslash before i
        run = idx - 1 - previous + np.where(previous < 0, carried, 0)  # backslashes before i
        quote = (b == ord('"')) & (run % 2 == 0)
        before = np.cumsum(quote) - quote + inside  # real quotes before i (plus the carry)
        outside = (before % 2 == 0) & ~quote
        opening = outside & ((b == ord("[")) | (b == ord("{")))
        closing = outside & ((b == ord("]")) | (b == ord("}")))
        level = depth + np.cumsum(opening.astype(np.int64) - closing)
        deepest = max(deepest, int(level.max(initial=depth)))
        depth, containers = int(level[-1]), containers + int(opening.sum())
        inside = int(before[-1] + quote[-1]) % 2
        carried = carried + b.size if last_other[-1] < 0 else b.size - 1 - int(last_other[-1])
    return deepest, containers


# -- validation -----------------------------------------------------------------------------
def validate(path, header, format_tag):
    """Check every field of a parsed header; return nothing or raise ModelFileError."""
    c = _Checker(path)
    if header.get("format") != format_tag:
        raise ModelFileError(f"{path}: not an nlayer model file (format tag missing); give the "
                             "path of a file written by model.save or nlayer train")
    version = header.get("version")
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise ModelFileError(
            f"{path}: format version {_show(version)} is not supported (this nlayer reads "
            f"versions {', '.join(map(str, SUPPORTED_VERSIONS))}); upgrade nlayer")
    c.dict(header, "(top level)", TOP_REQUIRED, TOP_OPTIONAL)
    _config(c, header["config"])
    c.name(header.get("normalizer"), "normalizer", tuple(NORMALIZERS), optional=True)
    _history(c, header.get("history"))
    if header.get("metadata") is not None:
        c.dict(header["metadata"], "metadata")
    _optimizer_state(c, header.get("optimizer_state"))
    _arrays(c, header["arrays"])
    sha = header["sha256"]
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        c.fail("sha256", "must be 64 hexadecimal digits")
    if header.get("checkpoint") is not None:
        c.dict(header["checkpoint"], "checkpoint")  # its content: the checkpoint loader's


def _config(c, config):
    c.dict(config, "config", *CONFIG_KEYS)
    c.name(config.get("name"), "config.name", optional=True)
    c.name(config["dtype"], "config.dtype", ("float32", "float64"))
    c.int(config["n_features"], "config.n_features", 1, MAX_WIDTH)
    layers = config["layers"]
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        c.fail("config.layers", f"must be a list of 1 to {MAX_LAYERS:,} layers, got "
                                f"{_kind(layers)}{_length(layers)}")
    for i, layer in enumerate(layers):
        _layer(c, layer, f"config.layers[{i}]")
    if config.get("compile") is not None:
        _compile(c, config["compile"])


def _layer(c, layer, where):
    if not isinstance(layer, dict):
        c.fail(where, f"must be an object, got {_kind(layer)}")
    cls = c.name(layer.get("class"), f"{where}.class")
    if cls not in LAYER_KEYS:
        c.fail(f"{where}.class", f"{cls!r} is not one of {', '.join(LAYER_KEYS)}",
               "the file was written by a newer or modified nlayer; upgrade nlayer")
    c.dict(layer, where, ("class", *LAYER_KEYS[cls]), ("name",))
    c.name(layer.get("name"), f"{where}.name", optional=True)
    if cls == "Dense":
        c.int(layer["units"], f"{where}.units", 1, MAX_WIDTH)
        c.bool(layer["use_bias"], f"{where}.use_bias")
        c.spec(layer["init"], f"{where}.init", initializers.NAMES)
    if cls in ("Dense", "Activation"):
        c.spec(layer["activation"], f"{where}.activation", activations.NAMES)
    if cls == "BatchNorm":
        c.number(layer["momentum"], f"{where}.momentum", 0.0, 1.0, high_open=True)
        c.number(layer["epsilon"], f"{where}.epsilon", 0.0, low_open=True)
    if cls == "Dropout":
        c.number(layer["rate"], f"{where}.rate", 0.0, 1.0, high_open=True)


def _compile(c, settings):
    c.dict(settings, "config.compile", *COMPILE_KEYS)
    c.spec(settings["optimizer"], "config.compile.optimizer", optimizers.NAMES, optional=False)
    if isinstance(settings["optimizer"], dict):
        for key, value in settings["optimizer"].items():
            if key in OPTIMIZER_RANGES and not isinstance(value, (dict, list)):
                low, high, low_open, high_open = OPTIMIZER_RANGES[key]
                c.number(value, f"config.compile.optimizer.{key}", low, high, low_open, high_open)
        if "nesterov" in settings["optimizer"]:
            c.bool(settings["optimizer"]["nesterov"], "config.compile.optimizer.nesterov")
    c.name(settings["loss"], "config.compile.loss", losses.NAMES)
    c.number(settings["l2"], "config.compile.l2", 0.0)
    for i, m in enumerate(c.list(settings["metrics"], "config.compile.metrics", 16)):
        c.name(m, f"config.compile.metrics[{i}]", metrics.NAMES)
    c.name(settings["normalize"], "config.compile.normalize", tuple(NORMALIZERS), optional=True)
    if "scale_targets" in settings:
        c.bool(settings["scale_targets"], "config.compile.scale_targets")


def _history(c, history):
    if history is None:
        return
    c.dict(history, "history")  # keys beyond these are other features' (kept, not read here)
    epochs = c.list(history.get("epoch", []), "history.epoch", 10**7)
    for i, e in enumerate(epochs):
        c.int(e, f"history.epoch[{i}]", 1, 2**62)
    for key in ("best_epoch", "stopped_epoch"):
        if history.get(key) is not None:
            c.int(history[key], f"history.{key}", 1, 2**62)
    if "interrupted" in history:
        c.bool(history["interrupted"], "history.interrupted")
    values = c.dict(history.get("history", {}), "history.history")
    for key, series in values.items():
        where = f"history.history[{key[:64]!r}]"
        if not isinstance(series, list) or len(series) != len(epochs):
            c.fail(where, f"must be a list of {len(epochs)} numbers (one per epoch), got "
                          f"{_kind(series)}{_length(series)}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in series):
            c.fail(where, "must hold numbers only")
    if history.get("layer_stats") is not None:
        _layer_stats(c, history["layer_stats"])


def _layer_stats(c, rows):
    """LayerMonitor rows: {epoch, batch: int; layer: str; the statistics: number or None}."""
    c.list(rows, "history.layer_stats", 10**7)
    for i, row in enumerate(rows):
        where = f"history.layer_stats[{i}]"
        c.dict(row, where)
        for key, value in row.items():
            ok = isinstance(value, str) if key == "layer" else \
                value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
            if not ok:
                wanted = "a name" if key == "layer" else "a number or null"
                c.fail(f"{where}[{key[:32]!r}]", f"must be {wanted}, got {_kind(value)}")


def _optimizer_state(c, state):
    if state is None:
        return
    c.dict(state, "optimizer_state")  # keys beyond these are other features' (kept)
    c.int(state.get("iterations"), "optimizer_state.iterations", 0, 2**62)
    slots = c.dict(state.get("slots"), "optimizer_state.slots")
    for slot, names in slots.items():
        where = f"optimizer_state.slots[{slot[:20]!r}]"
        if not slot.isdigit() or len(slot) > 6:
            c.fail(where, "must be numbered by a whole number")
        c.list(names, where, 16)
        if len(set(map(str, names))) != len(names) or \
                not all(isinstance(n, str) and STATE_NAME.match(n) for n in names):
            c.fail(where, "must list distinct names of letters, digits and _")


def _arrays(c, listed):
    c.dict(listed, "arrays")
    for name, spec in listed.items():
        where = f"arrays[{name[:80]!r}]"
        c.dict(spec, where, ("shape", "dtype"))
        shape = c.list(spec["shape"], f"{where}.shape", 8)
        for i, d in enumerate(shape):
            c.int(d, f"{where}.shape[{i}]", 0, 2**62)
        c.name(spec["dtype"], f"{where}.dtype")


def _kind(value):
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null", int: "a number", float: "a number"}.get(type(value), "a value")


def _length(value):
    return f" of {len(value):,} items" if isinstance(value, (list, dict)) else ""


def _show(value):
    text = json.dumps(value) if not isinstance(value, (dict, list)) else _kind(value)
    return text if len(text) <= 60 else text[:60] + "..."
