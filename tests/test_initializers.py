import numpy as np
import pytest

from nlayer import initializers


@pytest.mark.parametrize("name, expected_var", [
    ("he_normal", 2 / 400), ("he_uniform", 2 / 400), ("xavier", 1 / 400),
    ("glorot_normal", 2 / 600), ("glorot_uniform", 2 / 600),
])
def test_variance_matches_the_scheme(name, expected_var):
    W = initializers.get(name)((400, 200), np.random.default_rng(0), np.float32)
    assert W.shape == (400, 200) and W.dtype == np.float32
    assert abs(W.mean()) < 0.01 * np.sqrt(expected_var) * 10
    assert W.var() == pytest.approx(expected_var, rel=0.03)


def test_uniform_limits():
    W = initializers.get("glorot_uniform")((300, 100), np.random.default_rng(1), np.float64)
    assert np.abs(W).max() <= np.sqrt(6 / 400)


def test_random_normal_is_the_naive_fixed_scale():
    W = initializers.get({"name": "random_normal", "stddev": 0.5})((500, 100),
                                                                 np.random.default_rng(0), np.float64)
    assert W.std() == pytest.approx(0.5, rel=0.02)


def test_auto_picks_he_for_relu_and_glorot_otherwise():
    assert initializers.get("auto", "relu").name == "he_normal"
    assert initializers.get("auto", "leaky_relu").name == "he_normal"
    assert initializers.get("auto", "tanh").name == "glorot_uniform"
    assert initializers.get("auto", "sigmoid").name == "glorot_uniform"


def test_depth_keeps_activations_alive_only_with_a_scaled_init():
    """20 ReLU layers: He keeps the signal's scale, N(0, 0.01^2) makes it vanish."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 100))

    def final_std(init):
        A = X
        for _ in range(20):
            A = np.maximum(A @ initializers.get(init)((100, 100), rng, np.float64), 0)
        return A.std()

    assert 0.1 < final_std("he_normal") < 10
    assert final_std("random_normal") < 1e-20


def test_unknown_initializer():
    with pytest.raises(ValueError, match="unknown initializer 'lecun'.*he_normal"):
        initializers.get("lecun")


@pytest.mark.parametrize("name", ["he_normal", "he_uniform", "glorot_normal", "glorot_uniform"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_draws_in_the_models_dtype_without_a_float64_temporary(name, dtype):
    """A float32 model's weights are drawn as float32 (half the memory of drawing float64
    and casting): the generator's own float32 stream, scaled in float32."""
    init = initializers.get(name)
    shape = (300, 100)
    W = init(shape, np.random.default_rng(3), dtype)
    std = init.stddev(shape)
    rng = np.random.default_rng(3)
    if name.endswith("normal"):
        expected = rng.standard_normal(shape, dtype=dtype) * dtype(std)
    else:
        limit = np.sqrt(3.0) * std
        expected = rng.random(shape, dtype=dtype) * dtype(2 * limit) - dtype(limit)
    assert W.dtype == dtype
    np.testing.assert_array_equal(W, expected)
