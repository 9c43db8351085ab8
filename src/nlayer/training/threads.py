"""How many BLAS threads a pass over the network gets: fixed by the work and the machine.

The thread count is part of the numbers. An OpenBLAS product sums each entry in a
register tile, and entries at a tile's edge are summed in another order than those
inside; its threads cut the rows where the thread count puts the cut, so 1 and 2
threads give different float32 bits (measured here, OpenBLAS 0.3.31's Haswell kernels:
15 % of the entries of a 128x784 by 784x256 product, each by a few units in the last
place; float64 agreed). Rows cut at multiples of the tile would agree, but nlayer's
own threads splitting them so cost 10-40 % of BLAS's speed. So nlayer
never chooses the count from the machine's load, only from the work:

- ``fit``, ``predict`` and ``evaluate`` run with **one BLAS thread when the largest
  product of a batch is below** :data:`SMALL_PRODUCT` multiply-adds
  (rows x n_in x n_out): a second thread costs more than it saves there, and one
  thread a run is what lets several small trainings share the cores (BLAS threads
  spin while they wait and fight over shared cores);
- larger products run with BLAS's configured count (the cores, unless
  ``OPENBLAS_NUM_THREADS`` and friends say less).

``fit`` reports the count it used (``history.params["blas_threads"]``; ``nlayer
train`` writes it in ``summary.json``), a checkpoint records it, and a resumed fit
runs with the recorded count, so it matches the uninterrupted run bit for bit.

``NLAYER_BLAS_THREADS`` overrides the choice: ``auto`` (default), ``off`` (never
touch BLAS), or a whole number N >= 1 (at most N threads for every pass). The limit
is lifted when the call returns. It needs ``threadpoolctl``; without it BLAS keeps
its configured count (also fixed, so results are still reproducible on the machine).
"""

import contextlib
import os

__all__ = ["SMALL_PRODUCT", "ENV", "choose", "limit", "configured", "kernel"]

#: Below this many multiply-adds per matrix product, one BLAS thread is as fast as two.
SMALL_PRODUCT = 1 << 22  # about 4 million: e.g. 128 rows x 256 x 128
ENV = "NLAYER_BLAS_THREADS"
_controller = None


def _setting(setting):
    """None for 'auto', 0 for 'off', else the whole number N >= 1 asked for."""
    setting = (os.environ.get(ENV, "auto") if setting is None else str(setting)).strip().lower()
    if setting == "auto":
        return None
    if setting == "off":
        return 0
    try:
        n = int(setting)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV} must be 'auto', 'off' or a whole number >= 1, got {setting!r}")
    return n


def choose(model, rows, setting=None):
    """The BLAS thread limit for passes of ``rows`` rows through ``model`` (None: no limit)."""
    asked = _setting(setting)
    if asked is not None:
        return asked or None
    largest = max((layer.n_in * layer.n_out for layer in model.layers
                   if getattr(layer, "params", None) and "kernel" in layer.params), default=0)
    return 1 if rows * largest < SMALL_PRODUCT else None


def _blas():
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _controller = False
        else:
            _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def configured():
    """BLAS's thread count now (the largest of its libraries'), or None where unknown."""
    blas = _blas()
    counts = [lib.num_threads for lib in blas.lib_controllers] if blas else []
    return max(counts, default=None) or None


def kernel():
    """The kernel set OpenBLAS multiplies with ("Haswell", "SkylakeX", ...), or None where
    unknown (another BLAS, or no ``threadpoolctl``). Like the thread count it is part of the
    numbers (kernels sum float32 products in different orders): OpenBLAS picks it for the
    CPU when NumPy loads it, unless ``OPENBLAS_CORETYPE`` names one."""
    blas = _blas()
    names = {getattr(lib, "architecture", None) for lib in blas.lib_controllers
             if lib.internal_api == "openblas"} if blas else set()
    return names.pop() if len(names) == 1 else None


@contextlib.contextmanager
def limit(model, rows, threads=None):
    """Run the body with :func:`choose`'s BLAS limit, or exactly ``threads`` when given
    (a resumed fit: the count its checkpoint recorded). Yields the count in effect
    (None where it cannot be known: no ``threadpoolctl``, or ``off``)."""
    n = threads if threads is not None else choose(model, rows)
    current = configured()
    if current is None or n is None or n == current or (threads is None and n > current):
        yield current  # only a resume raises the count (to what its run had)
        return
    with _blas().limit(limits=n):
        yield n
