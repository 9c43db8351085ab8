"""One thread count for every system of a comparison, so that none is slowed by threads the
others do not have (or spins against work the others leave to one core).

:func:`same_threads` runs a peer's training with ``n`` threads: BLAS and OpenMP through
threadpoolctl (nlayer, NumPy, scikit-learn), nlayer's own choice through
``NLAYER_BLAS_THREADS``, TensorFlow's intra- and inter-op pools (set before its runtime
starts; where it has started already with other counts, the peer's note says so). PyTorch's
intra-op count is set by its peer (``torch.set_num_threads``, restored afterwards).
"""

import contextlib
import os

__all__ = ["same_threads", "tensorflow_threads"]


@contextlib.contextmanager
def same_threads(peer, n):
    """The block runs ``peer`` with ``n`` threads (None: as the machine is configured); it
    yields a list that holds a note when a system could not be given ``n``."""
    notes = []
    if n is None:
        yield notes
        return
    from threadpoolctl import threadpool_limits

    if peer == "keras":
        counts = tensorflow_threads(n)
        if counts != (n, n):
            notes.append(f"TensorFlow had started with {counts[0]} intra-op and {counts[1]} "
                         f"inter-op threads, not {n}")
    previous = os.environ.get("NLAYER_BLAS_THREADS")
    os.environ["NLAYER_BLAS_THREADS"] = str(n)
    try:
        with threadpool_limits(limits=n):
            yield notes
    finally:
        if previous is None:
            os.environ.pop("NLAYER_BLAS_THREADS", None)
        else:
            os.environ["NLAYER_BLAS_THREADS"] = previous


def tensorflow_threads(n):
    """Set TensorFlow's intra- and inter-op pools to ``n``; returns (intra, inter) in force
    (TensorFlow accepts the counts only before its runtime starts)."""
    import tensorflow as tf

    threading = tf.config.threading
    for setter in (threading.set_intra_op_parallelism_threads,
                   threading.set_inter_op_parallelism_threads):
        try:
            setter(n)
        except RuntimeError:  # the runtime has started: the counts stay as they are
            pass
    return (threading.get_intra_op_parallelism_threads(),
            threading.get_inter_op_parallelism_threads())
