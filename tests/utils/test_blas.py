"""The BLAS kernel set a run records (nlayer.utils.blas)."""

import sys

import numpy as np  # noqa: F401  (loads OpenBLAS, as every run has)
import pytest

from nlayer.utils import blas


def test_kernel_is_openblass_own_architecture():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    names = {lib["architecture"] for lib in threadpoolctl.threadpool_info()
             if lib["internal_api"] == "openblas"}  # NumPy's, and SciPy's once it is loaded
    if len(names) != 1:
        pytest.skip(f"OpenBLAS libraries with {len(names)} kernel sets here")
    assert blas.kernel() == names.pop() != ""


def test_kernel_is_unknown_without_threadpoolctl(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    assert blas.kernel() is None
