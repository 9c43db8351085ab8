import numpy as np
import pytest

from nlayer import activations
from nlayer.utils import fastpaths as _fastpaths


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_max_equals_numpy_including_nan_and_infinities(dtype, rng):
    Z = rng.normal(size=(300, 7)).astype(dtype)
    Z[3, 2], Z[5, :], Z[8, 1] = np.nan, -np.inf, np.inf
    Z[9] = Z[9, 0]  # ties
    np.testing.assert_array_equal(_fastpaths.row_max(Z), Z.max(axis=1))
    assert _fastpaths.row_max(Z).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_sums_equal_numpy_to_rounding(dtype, rng):
    X = rng.normal(size=(129, 33)).astype(dtype)
    out = np.empty(33, dtype)
    got = _fastpaths.column_sums(X, out=out)
    assert got is out and got.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, X.sum(axis=0, dtype=np.float64), rtol=tol, atol=tol)


def test_shared_zeros_and_ones_cannot_be_written():
    z = _fastpaths.zeros((4, 3), np.dtype(np.float32))
    big = _fastpaths.zeros((50, 7), np.dtype(np.float32))
    assert z.shape == (4, 3) and big.shape == (50, 7) and not big.any()
    small = _fastpaths.zeros((2, 5), np.dtype(np.float32))
    assert np.shares_memory(small, big)  # one array per dtype, the largest asked for
    with pytest.raises(ValueError, match="read-only"):
        z[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        _fastpaths.ones(5, np.dtype(np.float64))[0] = 2.0


def test_remembered_zeros_move_to_the_larger_array_when_it_grows():
    dt = np.dtype(np.float16)  # a dtype no other test asks for
    first = _fastpaths.zeros((3, 3), dt)
    assert _fastpaths.zeros((3, 3), dt) is first  # remembered per shape
    big = _fastpaths.zeros((300, 30), dt)
    again = _fastpaths.zeros((3, 3), dt)
    assert again is not first and np.shares_memory(again, big) and not again.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_finds_every_nan_and_infinity(rng, dtype):
    X = rng.normal(size=(50, 7)).astype(dtype)
    assert _fastpaths.all_finite(X)
    for bad in (np.nan, np.inf, -np.inf):
        Y = X.copy()
        Y[31, 4] = bad
        assert not _fastpaths.all_finite(Y)
    Y = X.copy()
    Y[3, 1], Y[3, 5] = np.inf, -np.inf  # a row whose sum is NaN
    assert not _fastpaths.all_finite(Y)
    huge = np.full((4, 3), np.finfo(dtype).max, dtype=dtype)  # finite, row sums overflow
    assert _fastpaths.all_finite(huge)


def test_relu_against_shared_zeros_is_numpys_maximum(rng):
    Z = rng.normal(size=(64, 40)).astype(np.float32)
    Z[0, :3] = [np.nan, -0.0, np.inf]
    out = np.empty_like(Z)
    A = activations.get("relu").forward(Z, out=out)
    np.testing.assert_array_equal(A, np.maximum(Z, 0))
    assert A is out


@pytest.mark.parametrize("n, dtype", [(10, np.float32), (200_000, np.float32), (700_000, np.float64)])
def test_zeros_on_huge_pages_are_zeros_of_the_asked_size(n, dtype):
    a = _fastpaths.zeros_on_huge_pages(n, dtype)
    assert a.shape == (n,) and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
    assert not a.any()
    a[:] = 1  # the whole range is usable
    if a.nbytes >= 512 * 1024:
        assert a.ctypes.data % (2 << 20) == 0  # starts on a huge-page boundary
