"""Back propagation against centred finite differences over the whole grid of techniques."""

import itertools
import zlib

import numpy as np
import pytest

import nlayer as nl
from nlayer import activations, initializers

LOSSES = {  # loss -> (output activation, targets maker)
    "categorical_crossentropy": ("softmax", lambda r, m: r.integers(0, 3, size=m)),
    "binary_crossentropy": ("sigmoid", lambda r, m: r.integers(0, 2, size=(m, 3))),
    "mean_squared_error": ("linear", lambda r, m: r.normal(size=(m, 3))),
}
INITS = [i for i in initializers.NAMES if i != "auto"]
# depth 1 has no hidden layer, so batch norm on/off is the same model there: listed once.
GRID = [case for case in itertools.product(activations.NAMES, LOSSES, INITS, (0.0, 0.1),
                                           (False, True), (1, 2, 5))
        if not (case[5] == 1 and case[4])]


def make_model(activation, loss, init, l2, batchnorm, depth, dropout=0.0):
    if init == "random_normal":
        init = {"name": "random_normal", "stddev": 0.5}  # the naive scheme at a scale that trains
    stack = []
    for _ in range(depth - 1):
        if batchnorm:
            stack += [nl.Dense(4, init=init, use_bias=False), nl.BatchNorm(), nl.Activation(activation)]
        else:
            stack.append(nl.Dense(4, activation=activation, init=init))
        if dropout:
            stack.append(nl.Dropout(dropout))
    stack.append(nl.Dense(3, activation=LOSSES[loss][0], init=init))
    model = nl.Sequential(stack)
    model.compile(optimizer="sgd", loss=loss, l2=l2)
    return model


@pytest.mark.parametrize("activation, loss, init, l2, batchnorm, depth", GRID)
def test_backprop_matches_finite_differences(activation, loss, init, l2, batchnorm, depth):
    r = np.random.default_rng(zlib.crc32(repr((activation, loss, init, l2, batchnorm, depth)).encode()))
    X, y = r.normal(size=(6, 5)), LOSSES[loss][1](r, 6)
    model = make_model(activation, loss, init, l2, batchnorm, depth)
    move_off_kinks(model, r)
    assert nl.check_gradients(model, X, y) < 1e-6


def move_off_kinks(model, r):
    """Zero biases put every unit of a dead row exactly at ReLU's kink, where the
    derivative is undefined and finite differences see half a step; a generic
    point of the parameter space has non-zero biases."""
    if not model.built:
        model.build((None, 5), seed=1)
    for layer in model.layers:
        if "bias" in layer.params:
            layer.params["bias"][:] = r.normal(scale=0.5, size=layer.params["bias"].shape)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_dropout_masks_are_held_fixed_during_the_check(batchnorm):
    r = np.random.default_rng(3)
    X, y = r.normal(size=(8, 5)), r.integers(0, 3, size=8)
    model = make_model("relu", "categorical_crossentropy", "he_normal", 0.1, batchnorm, 3, dropout=0.3)
    move_off_kinks(model, r)
    worst, details = nl.check_gradients(model, X, y, return_details=True)
    assert worst < 1e-6
    assert set(details) >= {"dense_1.kernel", "dense_3.kernel"}


def test_a_wrong_gradient_is_caught(monkeypatch):
    """The checker is not vacuous: a Dense that forgets the L2 term fails it."""
    r = np.random.default_rng(0)
    X, y = r.normal(size=(6, 5)), r.integers(0, 3, size=6)
    model = make_model("tanh", "categorical_crossentropy", "glorot_uniform", 0.5, False, 2)
    original = nl.Dense.backward

    def no_l2(self, dA, need_dA_prev=True, scale=1.0, is_dZ=False):
        saved, self.l2 = self.l2, 0.0
        try:
            return original(self, dA, need_dA_prev, scale, is_dZ)
        finally:
            self.l2 = saved

    monkeypatch.setattr(nl.Dense, "backward", no_l2)
    assert nl.check_gradients(model, X, y) > 1e-3


def test_check_does_not_modify_the_model():
    r = np.random.default_rng(0)
    X, y = r.normal(size=(6, 5)), r.integers(0, 3, size=6)
    model = make_model("relu", "categorical_crossentropy", "he_normal", 0.0, True, 3)
    model.build((None, 5), seed=0)
    before = model.get_weights()
    nl.check_gradients(model, X, y)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.dtype == np.float32
