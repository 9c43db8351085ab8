"""How many BLAS threads a pass over the network gets: chosen for the work and the machine.

A second BLAS thread only pays when each matrix product is large enough to split;
for small products its start-up and synchronisation cost more than it saves, and
when several trainings share the cores their BLAS threads spin against each other
(two digits runs at once took 6x longer each than one alone). So:

- ``fit``, ``predict`` and ``evaluate`` run with **one BLAS thread when the largest
  product of a batch is below** :data:`SMALL_PRODUCT` multiply-adds
  (rows x n_in x n_out);
- for larger products nlayer looks at the machine: it counts the threads of
  *other* processes that are running or waiting for a core (``procs_running`` in
  ``/proc/stat`` minus this process's own), and gives BLAS only the cores left free
  (at least one), so that two trainings share the cores instead of fighting over
  them. ``fit`` looks afresh when it starts (the mean of :data:`LOAD_SAMPLES`
  samples 5 ms apart, about 40 ms); ``predict`` and ``evaluate`` reuse a look
  younger than :data:`LOOK_SECONDS` or take one sample (about 0.1 ms);
- otherwise BLAS stays as configured.

``NLAYER_BLAS_THREADS`` overrides the choice: ``auto`` (default), ``off`` (never
touch BLAS), or a whole number N >= 1 (at most N threads for every pass). The limit
only ever lowers the thread count (``OPENBLAS_NUM_THREADS`` and friends still cap it)
and is lifted when the call returns. It needs ``threadpoolctl``; without it nothing
changes. Results do not depend on it beyond floating-point summation order.
"""

import contextlib
import os
import time

__all__ = ["SMALL_PRODUCT", "LOAD_SAMPLES", "LOOK_SECONDS", "ENV", "choose", "limit",
           "busy_elsewhere"]

#: Below this many multiply-adds per matrix product, one BLAS thread is as fast as two.
SMALL_PRODUCT = 1 << 22  # about 4 million: e.g. 128 rows x 256 x 128
#: Samples of the machine's running threads taken when a large fit starts (5 ms apart).
LOAD_SAMPLES = 8
#: How long predict/evaluate reuse the last look at the machine.
LOOK_SECONDS = 2.0
ENV = "NLAYER_BLAS_THREADS"
_controller = None
_last_look = (-LOOK_SECONDS, 0.0)  # (time.monotonic(), threads of other processes running)


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


def choose(model, rows, setting=None, fresh_look=False):
    """The BLAS thread limit for passes of ``rows`` rows through ``model`` (None: no limit).

    ``fresh_look``: sample the machine now (fit) rather than reuse a recent look."""
    asked = _setting(setting)
    if asked is not None:
        return asked or None
    largest = max((layer.n_in * layer.n_out for layer in model.layers
                   if getattr(layer, "params", None) and "kernel" in layer.params), default=0)
    if rows * largest < SMALL_PRODUCT:
        return 1
    free = _cpus() - _look(fresh_look)
    if free < _cpus() - 0.5:  # someone else is computing: only the cores left free
        return max(1, int(free + 0.5))
    return None


def _look(fresh):
    """Threads of other processes running now: sampled afresh, or a recent look reused."""
    global _last_look
    now = time.monotonic()
    if fresh or now - _last_look[0] >= LOOK_SECONDS:
        _last_look = (now, busy_elsewhere(LOAD_SAMPLES if fresh else 1))
    return _last_look[1]


def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _running_threads():
    """(running threads on the machine, running threads of this process), or None."""
    try:
        with open("/proc/stat", "rb") as fh:
            total = next(int(line.split()[1]) for line in fh if line.startswith(b"procs_running"))
        own = 0
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/stat", "rb") as fh:
                own += fh.read().rsplit(b")", 1)[1].split()[0] == b"R"
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return total, own


def busy_elsewhere(samples=LOAD_SAMPLES, pause=0.005):
    """Mean number of other processes' threads running now (0.0 where it cannot be seen)."""
    seen = []
    for i in range(samples):
        counts = _running_threads()
        if counts is None:
            return 0.0
        seen.append(max(0, counts[0] - counts[1]))
        if i + 1 < samples:
            time.sleep(pause)
    return sum(seen) / len(seen)


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


def limit(model, rows, fresh_look=False):
    """A context manager running its body with :func:`choose`'s BLAS limit."""
    controller = _get_controller()
    if not controller:
        return contextlib.nullcontext()
    n = choose(model, rows, fresh_look=fresh_look)
    if n is None:
        return contextlib.nullcontext()
    blas = controller.select(user_api="blas")
    current = max((lib.num_threads for lib in blas.lib_controllers), default=0)
    if not current or n >= current:
        return contextlib.nullcontext()  # only ever lower the thread count
    return blas.limit(limits=n)
