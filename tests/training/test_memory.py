"""nlayer.memory: the model's memory worked out, and refused, before anything is allocated."""

import numpy as np
import pytest

import nlayer as nl
from nlayer.training import memory
from nlayer.utils import system


def test_estimate_counts_parameters_gradients_optimiser_and_activations():
    layers = [nl.Dense(10), nl.BatchNorm(), nl.Activation("relu"), nl.Dense(3, use_bias=False)]
    parts = memory.estimate(layers, 4, 4, batch_rows=8, optimizer=nl.Adam())
    params = 4 * 10 + 10 + 4 * 10 + 10 * 3  # kernel+bias, BatchNorm's 4 vectors, kernel
    assert parts == {"parameters": params * 4, "packing copy": params * 4,
                     "gradients": params * 4, "optimizer state": 2 * params * 4,
                     "activations": 3 * 8 * (10 + 10 + 10 + 3) * 4}
    assert memory.estimate(layers, 4, 8, optimizer=nl.SGD(momentum=0.0))["optimizer state"] == 0
    assert memory.estimate(layers, 4, 8, optimizer=nl.SGD(momentum=0.9))["optimizer state"] == \
        params * 8


def test_check_refuses_with_the_size_the_largest_layer_and_the_fix():
    layers = [nl.Dense(1000, name="wide"), nl.Dense(2)]
    for i, layer in enumerate(layers):
        layer.name = layer.name or f"dense_{i}"
    with pytest.raises(nl.ModelTooLargeError) as err:
        memory.check(layers, 1000, np.dtype("float64"), batch_rows=32, available=10**6)
    text = str(err.value)
    assert "the model needs about 39.0 MB of memory" in text
    assert "only 976.6 KB is available" in text
    assert "largest layer is wide (1,000 x 1,000, 1,001,000 parameters)" in text
    assert text.endswith("Use fewer or narrower layers or dtype='float32' instead of float64.")
    assert err.value.needed > err.value.available == 10**6
    assert isinstance(err.value, MemoryError)


def test_fit_refuses_a_model_larger_than_memory_before_allocating_it(rng):
    model = nl.MLP(hidden=(10**6, 10**6), output="softmax")  # 1e12 weights: 4 TB in float32
    model.compile()
    with pytest.raises(nl.ModelTooLargeError, match=r"needs about [\d.]+ TB .*dense_2 "
                                                     r"\(1,000,000 x 1,000,000"):
        model.fit(rng.normal(size=(8, 3)), np.arange(8) % 2, epochs=1)
    assert not model.built
    with pytest.raises(nl.ModelTooLargeError):
        model.build((None, 3))


def test_format_bytes():
    assert [system.format_bytes(n) for n in (12, 2048, 3 * 1024 ** 3)] == \
        ["12 bytes", "2.0 KB", "3.0 GB"]


def test_sizes_need_no_built_layer_and_leave_unknown_widths_none():
    layers = [nl.Dense(5), nl.BatchNorm(), nl.Activation("relu"), nl.Dense(None)]
    known = memory.sizes(layers, None)  # no input width yet
    assert [(s.n_out, s.params, s.trainable) for s in known] == \
        [(5, None, None), (5, 10 + 10, 10), (5, 0, 0), (None, None, None)]
    built = memory.sizes(layers[:3], 4)
    assert [s.params for s in built] == [4 * 5 + 5, 20, 0] and not layers[0].built
