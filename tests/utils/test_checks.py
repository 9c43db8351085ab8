"""Argument and input checks: every mistake gets an error that names the parameter and the fix."""

import numpy as np
import pytest

import nlayer as nl
from nlayer.utils import checks as _checks


def regressor(**compile_kw):
    model = nl.MLP(hidden=(4,), output="linear", n_outputs=1)
    model.compile(**compile_kw)
    return model


@pytest.mark.parametrize("kwargs, error, match", [
    ({"l2": "a"}, ValueError, r"l2 \(lambda\) must be a finite number >= 0, got 'a'"),
    ({"l2": float("nan")}, ValueError, r"l2 \(lambda\)"),
    ({"metrics": "accuracy"}, TypeError, r"metrics must be a list of names, e\.g\. "
                                         r"metrics=\['accuracy'\]"),
    ({"scale_targets": "yes"}, TypeError, "scale_targets must be True or False"),
])
def test_compile_names_the_bad_parameter(kwargs, error, match):
    with pytest.raises(error, match=match):
        nl.MLP(hidden=(4,), output="softmax").compile(**kwargs)


def test_dropout_rate_that_is_not_a_number_is_named():
    with pytest.raises(ValueError, match=r"Dropout rate must be a finite number in \[0, 1\), "
                                         r"got 'half'"):
        nl.Dropout("half")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"seed": -1}, ValueError, "seed must be None or a whole number >= 0, got -1"),
    ({"seed": 1.5}, ValueError, "seed must be None"),
    ({"callbacks": "early"}, TypeError, "callbacks must be a list of nl.Callback instances"),
    ({"callbacks": [object()]}, TypeError, r"callbacks\[0\] is <object object"),
    ({"callbacks": [nl.EarlyStopping]}, TypeError, "add parentheses"),
])
def test_fit_names_the_bad_parameter(kwargs, error, match, rng):
    with pytest.raises(error, match=match):
        regressor().fit(rng.normal(size=(8, 3)), rng.normal(size=8), epochs=1, **kwargs)


def test_complex_inputs_are_refused_not_truncated(rng):
    X = rng.normal(size=(8, 3)) + 1j
    with pytest.raises(TypeError, match=r"X is complex \(complex128\).*X\.real"):
        regressor().fit(X, rng.normal(size=8), epochs=1)
    with pytest.raises(ValueError, match="regression targets must be real numbers"):
        regressor().fit(X.real, rng.normal(size=8) + 1j, epochs=1)


def test_values_beyond_float32_range_are_not_called_nan(rng):
    X = rng.normal(size=(8, 3))
    X[5, 2] = 1e300
    with pytest.raises(ValueError, match=r"X has 1e\+300 at row 5, column 2, beyond float32's "
                                         r"range .*dtype='float64'"):
        regressor().fit(X, rng.normal(size=8), epochs=1)
    model = nl.MLP(hidden=(4,), output="linear", n_outputs=1, dtype="float64")
    model.compile()
    model.fit(X / 1e299, rng.normal(size=8), epochs=1)  # float64 holds it: no error


def test_output_width_must_match_the_targets_before_any_broadcasting(rng):
    model = nl.Sequential([nl.Activation("relu")])
    model.compile(loss="mse")
    with pytest.raises(ValueError, match=r"the model's output has 4 units but y has 1 "
                                         r"column\(s\); end the model with Dense\(1\)"):
        model.fit(rng.normal(size=(40, 4)), rng.normal(size=(40, 1)), epochs=1)


def test_a_single_class_is_not_a_classification_problem(rng):
    model = nl.MLP(hidden=(4,), output="softmax")
    model.compile()
    with pytest.raises(ValueError, match=r"single class \(0\).*at least two classes"):
        model.fit(rng.normal(size=(8, 3)), np.zeros(8, dtype=int), epochs=1)
    with pytest.raises(ValueError, match=r"single class \(3\)"):
        model.fit(rng.normal(size=(8, 3)), np.full(8, 3), epochs=1)


def test_a_huge_class_id_is_refused_before_the_one_hot_is_allocated(rng):
    model = nl.MLP(hidden=(4,), output="softmax")
    model.compile()
    y = np.array([0, 1, 10**12, 2])
    with pytest.raises(ValueError, match=r"class id 1000000000000 would need an output layer "
                                         r"of 1,000,000,000,001 units .*return_inverse"):
        model.fit(rng.normal(size=(4, 3)), y, epochs=1)


@pytest.mark.parametrize("value, kwargs, ok", [
    (0.5, {"low": 0, "high": 1}, True), (1, {"low": 0, "high": 1, "high_open": True}, False),
    (True, {}, False), ("1", {}, False), (np.float32(2), {"low": 0}, True),
])
def test_real(value, kwargs, ok):
    if ok:
        assert _checks.real(value, "x", **kwargs) == float(value)
    else:
        with pytest.raises(ValueError, match="x must be a finite number"):
            _checks.real(value, "x", **kwargs)
