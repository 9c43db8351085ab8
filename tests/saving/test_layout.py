"""The arrays a header implies (checked before reading) and the rules on their values."""

import json

import numpy as np
import pytest

import nlayer as nl
from nlayer.saving import layout as _modellayout, modelfile
from nlayer.errors import ModelFileError
from nlayer.model import Sequential

import model_file_attacks as attacks


def trained(layers, optimizer, normalize=None, dtype="float32"):
    model = nl.Sequential(layers, dtype=dtype)
    model.compile(optimizer=optimizer, normalize=normalize)
    X = np.random.default_rng(0).normal(size=(30, 5))
    model.fit(X, np.arange(30) % 3, epochs=1, seed=0)
    return model


ARCHITECTURES = [
    lambda: trained([nl.Dense(4, activation="relu"), nl.Dense(3, activation="softmax")], "sgd"),
    lambda: trained([nl.Dense(7, use_bias=False), nl.BatchNorm(), nl.Activation("tanh"),
                     nl.Dropout(0.3), nl.Dense(3, activation="softmax")],
                    nl.SGD(lr=0.1, momentum=0.9), "standard"),
    lambda: trained([nl.Dense(33), nl.Dense(17), nl.Dense(3, activation="softmax")], "adam",
                    "minmax", "float64"),
    lambda: trained([nl.Dense(3, activation="softmax")], "rmsprop"),
]


@pytest.mark.parametrize("make", ARCHITECTURES)
def test_expected_arrays_match_what_a_built_model_saves(make):
    model = make()
    header, arrays = attacks.unpack(attacks.save_bytes(model))
    layers, optimizer = modelfile._skeleton("f", header["config"])
    expected = _modellayout.expected_arrays("f", header, layers, optimizer)
    assert set(expected) == set(arrays)
    for name, e in expected.items():
        assert e.shape == arrays[name].shape and arrays[name].dtype.name in e.dtypes, name
    opt = [e for n, e in expected.items() if n.startswith("opt")]
    assert all(e.shape == model._flat_params.shape for e in opt)  # packed size, alignment gaps
    assert layers[0].params == {}  # nothing allocated


def _header_of(make):
    return attacks.unpack(attacks.save_bytes(make()))


def _expect(header, match):
    with pytest.raises(ModelFileError, match=match):
        _modellayout.expected_arrays("f", header, *modelfile._skeleton("f", header["config"]))


def test_architecture_disagreeing_with_the_list_is_named():
    header, _ = _header_of(ARCHITECTURES[1])
    h = json.loads(json.dumps(header))
    h["config"]["layers"][0]["units"] = 10**9
    _expect(h, r"array w0 \(layer 'dense_1' kernel\) has shape \(5, 7\) but the architecture "
               r"implies \(5, 1000000000\)")
    h, _ = _header_of(ARCHITECTURES[0])
    h["config"]["layers"][0]["use_bias"] = False
    _expect(h, r"array w1 \(layer 'dense_2' kernel\) has shape \(4,\) but the architecture "
               r"implies \(4, 3\)")
    h = json.loads(json.dumps(header))
    del h["arrays"]["w5"]
    _expect(h, r"needs array w5 \(layer 'dense_2' kernel, shape \(7, 3\)\) but the file has none")
    h = json.loads(json.dumps(header))
    h["arrays"]["w99"] = {"shape": [1], "dtype": "float32"}
    _expect(h, "array w99 is stored but the header does not use it")
    h = json.loads(json.dumps(header))
    h["arrays"]["w0"]["dtype"] = "float64"
    _expect(h, r"array w0 \(layer 'dense_1' kernel\) is float64 but must be float32")


def test_normaliser_and_compile_settings_must_agree():
    header, _ = _header_of(ARCHITECTURES[1])
    h = json.loads(json.dumps(header))
    h["config"]["compile"]["normalize"] = "minmax"
    _expect(h, "the compile settings say normalize='minmax' but the stored normaliser is "
               "'standard'; they contradict each other")
    h["normalizer"] = None
    for k in ("norm_shift", "norm_scale"):
        del h["arrays"][k]
    _expect(h, "say normalize='minmax' but the file holds no normaliser statistics")
    h = json.loads(json.dumps(header))
    h["normalizer"] = None
    _expect(h, "say normalize='standard' but the file holds no normaliser statistics")
    h["config"]["compile"]["normalize"] = None
    _expect(h, "array norm_shift is stored but the header does not use it \\(normaliser "
               "statistics without a normaliser named in the header\\)")
    h = json.loads(json.dumps(header))
    h["config"]["compile"]["scale_targets"] = True  # refused by compile: classification
    with pytest.raises(ValueError, match="scale_targets=True is for regression"):
        Sequential.from_config(h["config"])
    regression = nl.Sequential([nl.Dense(4, activation="tanh"), nl.Dense(2)])
    regression.compile(optimizer="sgd", scale_targets=False)
    regression.fit(np.random.default_rng(0).normal(size=(30, 5)), np.ones((30, 2)), epochs=1)
    h = json.loads(json.dumps(attacks.unpack(attacks.save_bytes(regression))[0]))
    h["config"]["compile"]["scale_targets"] = True
    _expect(h, r"needs array target_shift \(the target scaler's shift, shape \(2,\)\)")


def test_optimizer_state_must_fit_the_optimizer():
    header, _ = _header_of(ARCHITECTURES[2])  # adam
    h = json.loads(json.dumps(header))
    h["optimizer_state"]["slots"]["0"] = ["velocity"]
    _expect(h, r"the adam optimiser keeps \['m', 'v'\] but the file stores \['velocity'\]")
    h["optimizer_state"]["slots"] = {"1": ["m", "v"]}
    _expect(h, "optimiser slot 1 does not exist")
    h = json.loads(json.dumps(header))
    del h["config"]["compile"]
    _expect(h, "the file holds optimiser state but no compile settings")


def test_value_rules():
    e = {"v": _modellayout.Expected((3,), ("float32",), "bn", "variance", 1e-3),
         "s": _modellayout.Expected((3,), ("float64",), "norm", "scale"),
         "t": _modellayout.Expected((3,), ("float64",), "norm", "shift")}
    good = {"v": np.array([0.0, -0.0, 2.0], np.float32), "s": np.array([1e-30, 1.0, 3.0]),
            "t": np.array([-1e30, 0.0, 3e38])}
    _modellayout.check_values("f", e, good, "float32")
    for name, value, match in [("v", -1e-45, "has negative values"),
                               ("s", 0.0, "not a usable scale"),
                               ("s", 1e-39, "not a usable scale"),  # 1/scale is inf in float32
                               ("t", 4e38, "beyond the float32 range")]:
        bad = {k: a.copy() for k, a in good.items()}
        bad[name][0] = value
        with pytest.raises(ModelFileError, match=match):
            _modellayout.check_values("f", e, bad, "float32")
    tiny = dict(e, v=_modellayout.Expected((3,), ("float32",), "bn", "variance", 1e-300))
    with pytest.raises(ModelFileError, match="plus epsilon 1e-300 is 0 in float32"):
        _modellayout.check_values("f", tiny, dict(good, v=np.zeros(3, np.float32)), "float32")
    assert 1e-39 > 0 and np.isfinite(1 / 1e-39)  # ... while fine in float64:
    _modellayout.check_values("f", e, dict(good, s=np.array([1e-39, 1.0, 1.0])), "float64")
