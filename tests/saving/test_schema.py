"""The JSON header: size and depth caps, and every field's type and range."""

import json

import numpy as np
import pytest

import nlayer as nl
from nlayer.saving import schema as _modelschema
from nlayer.errors import ModelFileError

import model_file_attacks as attacks


@pytest.fixture(scope="module")
def header():
    model = nl.Sequential([nl.Dense(4, use_bias=False), nl.BatchNorm(), nl.Activation("relu"),
                           nl.Dropout(0.1), nl.Dense(2, activation="sigmoid")])
    model.compile(optimizer="adam", normalize="minmax", metrics=["accuracy"])
    X = np.random.default_rng(0).normal(size=(30, 3))
    model.fit(X, np.eye(2)[np.arange(30) % 2], epochs=2, seed=0)
    return attacks.unpack(attacks.save_bytes(model))[0]


def _depth(value):
    if isinstance(value, (list, dict)):
        children = value.values() if isinstance(value, dict) else value
        return 1 + max((_depth(v) for v in children), default=0)
    return 0


def _random_json(rng, depth=0):
    pick = rng.integers(0, 6 if depth < 12 else 3)
    if pick == 0:
        return "".join(rng.choice(list('ab[]{}"\\\\ \u00e9'), size=rng.integers(0, 8)))
    if pick == 1:
        return float(rng.normal())
    if pick == 2:
        return None
    if pick in (3, 4):
        return [_random_json(rng, depth + 1) for _ in range(rng.integers(0, 4))]
    return {str(_random_json(rng, 12)): _random_json(rng, depth + 1)
            for _ in range(rng.integers(0, 4))}


def _containers(value):
    if isinstance(value, (list, dict)):
        children = value.values() if isinstance(value, dict) else value
        return 1 + sum(_containers(v) for v in children)
    return 0


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
def test_json_depth_is_exact_on_valid_json_with_tricky_strings(chunk):
    """Strings full of brackets, quotes and backslashes, cut into chunks anywhere."""
    rng = np.random.default_rng(chunk)
    for _ in range(200):
        doc = _random_json(rng)
        raw = json.dumps(doc, ensure_ascii=bool(rng.integers(0, 2))).encode()
        assert _modelschema.json_depth(raw, chunk) == (_depth(doc), _containers(doc)), raw


def test_json_depth_needs_no_recursion():
    assert _modelschema.json_depth(b"[" * 3_000_000) == (3_000_000, 3_000_000)
    assert _modelschema.json_depth(b'"\\"[[[" []') == (1, 1)  # an escaped quote: one string
    assert _modelschema.json_depth(b'"\\\\"[[[" []') == (3, 3)  # an escaped backslash


def test_depth_and_size_are_capped_before_parsing(monkeypatch):
    assert _modelschema.parse("f", b'{"a": ' * 64 + b"1" + b"}" * 64) is not None
    deep = b'{"a": ' * 65 + b"1" + b"}" * 65
    with pytest.raises(ModelFileError, match="f: the JSON header is nested 65 levels deep "
                                             r"\(at most 64\)"):
        _modelschema.parse("f", deep)
    monkeypatch.setattr(_modelschema, "MAX_CONTAINERS", 3)
    with pytest.raises(ModelFileError, match="holds 4 lists and objects"):
        _modelschema.parse("f", b'{"a": [], "b": [{}]}')
    monkeypatch.setattr(_modelschema, "MAX_JSON_BYTES", 10)
    with pytest.raises(ModelFileError, match="has 11 bytes, more than the 10 allowed"):
        _modelschema.parse("f", b'{"a": 1234}')


@pytest.mark.parametrize("raw, match", [
    (b"[1]", "the header is a list, not an object"),
    (b"\xff", "the JSON header is invalid"),
    (b"9" * 5000, "the JSON header is invalid"),
])
def test_invalid_json_is_a_model_file_error(raw, match):
    with pytest.raises(ModelFileError, match=match):
        _modelschema.parse("f", raw)


def _set(header, path, value):
    header = json.loads(json.dumps(header))
    node = header
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return header


_DELETE = object()


@pytest.mark.parametrize("path, value, match", [
    (("config", "n_features"), "6", r"config.n_features must be a whole number in "
                                    r"\[1, 2147483647\], got \"6\""),
    (("config", "n_features"), True, "config.n_features must be a whole number"),
    (("config", "layers"), [], "config.layers must be a list of 1 to 10,000 layers, got a list "
                               "of 0 items"),
    (("config", "layers", 0, "units"), 0, r"config.layers\[0\].units must be a whole number"),
    (("config", "layers", 0, "units"), 2.5, r"config.layers\[0\].units must be a whole number"),
    (("config", "layers", 0, "class"), "Conv2D", r"config.layers\[0\].class 'Conv2D' is not one "
                                                 "of Dense, Activation, BatchNorm, Dropout"),
    (("config", "layers", 0, "extra"), 1, r"config.layers\[0\] has unexpected keys 'extra'"),
    (("config", "layers", 0, "use_bias"), _DELETE, r"config.layers\[0\] lacks use_bias"),
    (("config", "layers", 0, "activation"), {"name": "relu", "alpha": float("nan")},
     r"config.layers\[0\].activation.alpha must be finite"),
    (("config", "layers", 1, "epsilon"), -1e-3, r"config.layers\[1\].epsilon must be a finite "
                                                r"number in \(0.0, inf\]"),
    (("config", "layers", 3, "rate"), 1.0, r"config.layers\[3\].rate must be a finite number "
                                           r"in \[0.0, 1.0\)"),
    (("config", "layers", 4, "activation"), "swish", r"'swish' is not one of linear, sigmoid"),
    (("config", "compile", "optimizer", "lr"), float("inf"), "optimizer.lr must be finite"),
    (("config", "compile", "optimizer", "lr"), [object], None),
    (("config", "compile", "optimizer", "lr"), 0, r"optimizer.lr must be a finite number in "
                                                  r"\(0.0, inf\]"),
    (("config", "compile", "optimizer", "epsilon"), -1e-7, "optimizer.epsilon must be a finite"),
    (("config", "compile", "optimizer", "beta_2"), 1.0, r"beta_2 must be a finite number in "
                                                        r"\[0.0, 1.0\)"),
    (("config", "compile", "optimizer", "nesterov"), 1, "nesterov must be true or false"),
    (("config", "compile", "optimizer"), {"name": "lbfgs"}, "'lbfgs' is not one of sgd, adam"),
    (("config", "compile", "loss"), 3, "config.compile.loss must be a name"),
    (("config", "compile", "l2"), -1, r"config.compile.l2 must be a finite number in \[0.0"),
    (("config", "compile", "metrics"), "accuracy", "config.compile.metrics must be a list"),
    (("config", "compile", "normalize"), "robust", "'robust' is not one of standard, minmax"),
    (("config", "compile", "scale_targets"), "yes", "scale_targets must be true or false"),
    (("config", "dtype"), "float16", "'float16' is not one of float32, float64"),
    (("normalizer",), 1, "header field normalizer must be a name"),
    (("history", "history", "loss"), [1.0], r"history.history\['loss'\] must be a list of 2 "
                                            r"numbers \(one per epoch\), got a list of 1 items"),
    (("history", "history", "loss"), ["a", "b"], r"history.history\['loss'\] must hold numbers"),
    (("history", "epoch"), [0, 1], r"history.epoch\[0\] must be a whole number in \[1, "),
    (("history", "interrupted"), "no", "history.interrupted must be true or false"),
    (("metadata",), [1], "header field metadata must be an object, got a list"),
    (("optimizer_state", "iterations"), -1, "optimizer_state.iterations must be a whole number"),
    (("optimizer_state", "slots", "0"), ["m", "m"], r"slots\['0'\] must list distinct names"),
    (("optimizer_state", "slots", "x"), [], r"slots\['x'\] must be numbered"),
    (("arrays", "w0", "shape"), [-1, 2], r"arrays\['w0'\].shape\[0\] must be a whole number in "
                                         r"\[0, "),
    (("arrays", "w0", "dtype"), None, r"arrays\['w0'\].dtype must be a name"),
    (("sha256",), "abc", "header field sha256 must be 64 hexadecimal digits"),
    (("checkpoint",), [], "header field checkpoint must be an object"),
    (("surprise",), 1, r"header field \(top level\) has unexpected keys 'surprise'"),
    (("config",), _DELETE, r"header field \(top level\) lacks config"),
])
def test_each_field_is_checked_for_type_and_range(header, path, value, match):
    if value == [object]:  # a value JSON cannot hold: stands for "a nested list of names"
        value, match = [["a" * 300]], r"optimizer.lr\[0\]\[0\] must be a number, boolean or short"
    with pytest.raises(ModelFileError, match=match) as info:
        _modelschema.validate("f", _set(header, path, value), "nlayer-model")
    assert str(info.value).startswith("f: header field ")


def test_a_valid_header_passes_and_versions_are_checked(header):
    _modelschema.validate("f", header, "nlayer-model")
    _modelschema.validate("f", _set(header, ("version",), 2), "nlayer-model")
    for version in (3, True, "1", None):
        with pytest.raises(ModelFileError, match=r"is not supported \(this nlayer reads versions "
                                                 r"1, 2\); upgrade nlayer"):
            _modelschema.validate("f", _set(header, ("version",), version), "nlayer-model")
    with pytest.raises(ModelFileError, match="not an nlayer model file"):
        _modelschema.validate("f", _set(header, ("format",), "keras"), "nlayer-model")


def test_monitor_rows_in_the_history_are_checked(tmp_path):
    """LayerMonitor rows are saved with the model; a retyped one (re-signed) is refused."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    m = nl.MLP(hidden=(4,))
    m.compile(optimizer="sgd")
    m.fit(X, np.arange(40) % 2, epochs=1, callbacks=[nl.LayerMonitor(every_batches=1)])
    m.save(tmp_path / "m.nlayer")
    assert nl.load(tmp_path / "m.nlayer").history.layer_stats == m.history.layer_stats
    header, arrays = attacks.unpack(attacks.save_bytes(m))
    for bad, message in ((1.5, "history.layer_stats must be a list"),
                         ([{"layer": 3}], r"history.layer_stats\[0\]\['layer'\] must be a name"),
                         ([{"grad_rms": "x"}], "must be a number or null")):
        h = json.loads(json.dumps(header))
        h["history"]["layer_stats"] = bad
        (tmp_path / "bad.nlayer").write_bytes(attacks.pack(h, arrays))
        with pytest.raises(ModelFileError, match=message):
            nl.load(tmp_path / "bad.nlayer")
