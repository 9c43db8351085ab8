"""How many BLAS threads a pass over the network gets: chosen for the work.

A second BLAS thread only pays when each matrix product is large enough to split;
for small products its start-up and synchronisation cost more than it saves, and
when several trainings share the cores their BLAS threads spin against each other
(two digits runs at once took 6x longer each than one alone). So ``fit``,
``predict`` and ``evaluate`` run with **one BLAS thread when the largest product of
a batch is below** :data:`SMALL_PRODUCT` multiply-adds (rows x n_in x n_out), and
leave BLAS as configured otherwise.

``NLAYER_BLAS_THREADS`` overrides the choice: ``auto`` (default), ``off`` (never
touch BLAS), or a whole number N >= 1 (at most N threads for every pass). The limit
only ever lowers the thread count (``OPENBLAS_NUM_THREADS`` and friends still cap it)
and is lifted when the call returns. It needs ``threadpoolctl``; without it nothing
changes.
"""

import contextlib
import os

__all__ = ["SMALL_PRODUCT", "ENV", "choose", "limit"]

#: Below this many multiply-adds per matrix product, one BLAS thread is as fast as two.
SMALL_PRODUCT = 1 << 22  # about 4 million: e.g. 128 rows x 256 x 128
ENV = "NLAYER_BLAS_THREADS"
_controller = None


def choose(model, rows, setting=None):
    """The BLAS thread limit for passes of ``rows`` rows through ``model`` (None: no limit)."""
    setting = (os.environ.get(ENV, "auto") if setting is None else str(setting)).strip().lower()
    if setting == "off":
        return None
    if setting != "auto":
        try:
            n = int(setting)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"{ENV} must be 'auto', 'off' or a whole number >= 1, got {setting!r}")
        return n
    largest = max((layer.n_in * layer.n_out for layer in model.layers
                   if getattr(layer, "params", None) and "kernel" in layer.params), default=0)
    return 1 if rows * largest < SMALL_PRODUCT else None


def _get_controller():
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _controller = False
        else:
            _controller = ThreadpoolController()
    return _controller


def limit(model, rows):
    """A context manager running its body with :func:`choose`'s BLAS limit."""
    n = choose(model, rows)
    if n is None:
        return contextlib.nullcontext()
    controller = _get_controller()
    if not controller:
        return contextlib.nullcontext()
    blas = controller.select(user_api="blas")
    current = max((lib.num_threads for lib in blas.lib_controllers), default=0)
    if not current or n >= current:
        return contextlib.nullcontext()  # only ever lower the thread count
    return blas.limit(limits=n)
