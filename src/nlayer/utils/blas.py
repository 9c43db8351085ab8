"""Which kernels BLAS multiplies with: part of the numbers, so a run records them.

OpenBLAS picks its kernel set for the CPU when NumPy loads it ("Haswell" for AVX2,
"SkylakeX" and later for AVX-512), unless ``OPENBLAS_CORETYPE`` names one. Kernels sum
float32 products in different orders, so two machines, or one machine with another
setting, give different last bits; ``summary.json`` records the set next to the BLAS
thread count (see :mod:`nlayer.training.threads`).
"""

from __future__ import annotations

__all__ = ["kernel"]


def kernel() -> str | None:
    """The kernel set OpenBLAS runs NumPy's products with ("Haswell", "SkylakeX", ...), or
    None where unknown (another BLAS, or no ``threadpoolctl``)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    names = {lib.get("architecture") for lib in threadpool_info()
             if lib.get("internal_api") == "openblas"}
    return names.pop() if len(names) == 1 else None
