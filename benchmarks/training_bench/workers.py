"""The nlayer-side workers: the GEMM floor, nlayer's fit, the paired ratios and fit's memory.

Each ``worker_*`` runs in a child process (``bench_training.py --worker SPEC.json``), takes
the spec and returns a JSON-able dict; ``bench_training.WORKERS`` maps systems to them.
"""

from __future__ import annotations

import resource
import statistics
import time

import numpy as np

from .data import _load_worker_data
from .machine import _state_probe
from .settings import LR, MOMENTUM, N_CLASSES, SEED


def _median(values):
    return float(statistics.median(values)) if values else None


def _proc_status_mb(field):
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM) in MB, or None."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _nlayer_model(spec):
    """The benchmark network in nlayer, built with the shared initial weights (seed SEED)."""
    import nlayer as nl

    model = nl.MLP(tuple(spec["hidden"]), activation="relu", output="softmax",
                   n_outputs=N_CLASSES, batchnorm=spec["batchnorm"], dropout=spec["dropout"],
                   dtype=spec["dtype"])
    model.compile(optimizer=nl.SGD(lr=LR, momentum=MOMENTUM), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    model.build((None, spec["n_features"]), seed=SEED)
    return model


def _accuracy(scores, y):
    return float(np.mean(np.asarray(scores).argmax(axis=1) == y))


def _predict_rates(fn, n_rows, repeats):
    """rows/s of ``fn()`` (one pass over the test set): median of ``repeats`` after a warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    med = _median(times)
    return {"rows": n_rows, "seconds": times, "median_seconds": med, "rows_per_second": n_rows / med}


def floor_epoch(Ws, X, order, batch, rng):
    """One epoch of the floor over ``order``'s batches: (seconds, seconds per stage).

    The rows are permuted into a new array first (untimed: the floor times no gather);
    then every batch, the last partial one included, runs the network's products on
    preallocated arrays: forward ``Z = A W`` for every kernel, backward ``dW = A^T dZ``
    for every kernel and ``dA = dZ W^T`` for all but the first, from a fixed random
    ``dZ`` of the output. Stages: "<l> forward" and "<l> backward" per kernel l (their
    clocks cost about 0.6 us per batch) and "loop" for the rest.
    """
    dtype, n = X.dtype, X.shape[0]

    def arrays(m):
        Z = [np.empty((m, W.shape[1]), dtype) for W in Ws]
        dA = [None] + [np.empty((m, W.shape[0]), dtype) for W in Ws[1:]]
        dZ_out = (rng.standard_normal((m, Ws[-1].shape[1])) * 1e-2).astype(dtype)
        return Z, dA, dZ_out

    bufs = {m: arrays(m) for m in {min(batch, n)} | ({n % batch} if n % batch else set())}
    dW = [np.empty_like(W) for W in Ws]
    Xp = np.take(X, order, axis=0)
    stages, clock = dict.fromkeys([f"{l} {d}" for l in range(len(Ws))
                                   for d in ("forward", "backward")], 0.0), time.perf_counter
    t_start = clock()
    for start in range(0, n, batch):
        Xb = Xp[start:start + batch]
        Z, dA, dZ = bufs[Xb.shape[0]]
        A = Xb
        for l, (W, Zl) in enumerate(zip(Ws, Z)):
            t0 = clock()
            A = np.matmul(A, W, out=Zl)                          # Z = A W
            stages[f"{l} forward"] += clock() - t0
        for l in range(len(Ws) - 1, -1, -1):
            t0 = clock()
            np.matmul((Xb if l == 0 else Z[l - 1]).T, dZ, out=dW[l])  # dW = A^T dZ
            if l > 0:
                dZ = np.matmul(dZ, Ws[l].T, out=dA[l])           # dA = dZ W^T
            stages[f"{l} backward"] += clock() - t0
    total = clock() - t_start
    stages["loop"] = total - sum(stages.values())
    return total, stages


def worker_floor(spec):
    """Forward and backward GEMMs alone, on preallocated arrays, in nlayer's batch order."""
    from nlayer.model import batch_orders

    dtype = np.dtype(spec["dtype"])
    X, _, _, _ = _load_worker_data(spec, dtype)
    model = _nlayer_model(spec)
    Ws = [np.ascontiguousarray(layer.params["kernel"]) for layer in model.layers
          if type(layer).__name__ == "Dense"]
    orders = batch_orders(SEED, X.shape[0], spec["epochs"] + 1)
    rng = np.random.default_rng(1)
    seconds = [floor_epoch(Ws, X, order, spec["batch"], rng)[0] for order in orders]
    return {"epoch_seconds": seconds, "test_accuracy": None,
            "note": "GEMMs only, no gather/activation/update"}


def worker_nlayer(spec):
    X, y, X_test, y_test = _load_worker_data(spec)
    model = _nlayer_model(spec)
    hist = model.fit(X, y, epochs=spec["epochs"] + 1, batch_size=spec["batch"], seed=SEED)
    out = {"epoch_seconds": [float(s) for s in hist.history["seconds"]],
           "train_loss": [float(v) for v in hist.history["loss"]],
           "test_accuracy": _accuracy(model.predict(X_test), y_test)}
    if spec["predict"]:
        out["predict"] = _predict_rates(lambda: model.predict(X_test), X_test.shape[0],
                                        spec["predict_repeats"])
    return out


def worker_paired(spec):
    """Floor and nlayer epochs alternating in one process: their ratio, robust to slow spells.

    The machine's speed can change for minutes at a time; two processes measured one after
    the other may see different machines. Alternating one epoch of each, several times, and
    taking the median of the per-pair ratios compares like with like.
    """
    X, y, _, _ = _load_worker_data(spec)
    model = _nlayer_model(spec)
    model.fit(X, y, epochs=1, batch_size=spec["batch"], seed=SEED)  # warm-up
    ratios, floors, nlayers, probes = [], [], [], []
    for r in range(spec["pairs"]):
        probes.append(_state_probe())
        floor = _median(worker_floor({**spec, "epochs": 0})["epoch_seconds"])
        hist = model.fit(X, y, epochs=1, batch_size=spec["batch"], seed=SEED + 1 + r)
        nlayer = hist.history["seconds"][0]
        floors.append(floor)
        nlayers.append(nlayer)
        ratios.append(nlayer / floor)
    return {"ratio": _median(ratios), "ratios": ratios, "floor_seconds": floors,
            "nlayer_seconds": nlayers, "probe_seconds": probes}


def worker_paired_bn(spec):
    """Plain and batch norm + dropout nlayer epochs alternating in one process: their ratio."""
    X, y, _, _ = _load_worker_data(spec)
    plain = _nlayer_model({**spec, "batchnorm": False, "dropout": 0.0})
    extra = _nlayer_model(spec)
    for model in (plain, extra):  # warm-up
        model.fit(X, y, epochs=1, batch_size=spec["batch"], seed=SEED)
    ratios, plains, extras, probes = [], [], [], []
    for r in range(spec["pairs"]):
        probes.append(_state_probe())
        a = plain.fit(X, y, epochs=1, batch_size=spec["batch"], seed=SEED + 1 + r)
        b = extra.fit(X, y, epochs=1, batch_size=spec["batch"], seed=SEED + 1 + r)
        plains.append(a.history["seconds"][0])
        extras.append(b.history["seconds"][0])
        ratios.append(extras[-1] / plains[-1])
    return {"ratio": _median(ratios), "ratios": ratios, "plain_seconds": plains,
            "bn_dropout_seconds": extras, "probe_seconds": probes}


def worker_memory(spec):
    """Peak resident memory of nlayer's fit, measured in this fresh process."""
    import nlayer as nl

    X, y, _, _ = _load_worker_data(spec)
    X = np.ascontiguousarray(X)
    rss_loaded = _proc_status_mb("VmRSS")
    hwm_loaded = _proc_status_mb("VmHWM")
    try:  # reset the high-water mark so the peak below belongs to fit alone
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        hwm_reset = True
    except OSError:
        hwm_reset = False
    rss_epochs = []

    class RssSampler(nl.Callback):
        def on_epoch_end(self, epoch, logs=None):
            rss_epochs.append(_proc_status_mb("VmRSS"))

    model = _nlayer_model(spec)
    model.fit(X, y, epochs=3, batch_size=spec["batch"], seed=SEED, callbacks=[RssSampler()])
    hwm = _proc_status_mb("VmHWM")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux
    peak = hwm if hwm is not None else maxrss
    data_mb = (X.nbytes + y.nbytes) / 2**20
    return {"rss_loaded_mb": rss_loaded, "hwm_loaded_mb": hwm_loaded, "hwm_reset": hwm_reset,
            "peak_mb": peak, "vmhwm_mb": hwm, "ru_maxrss_mb": maxrss,
            "growth_mb": peak - rss_loaded, "train_data_mb": data_mb,
            "rss_after_epoch_mb": rss_epochs,
            "epoch2_to_3_mb": rss_epochs[2] - rss_epochs[1] if len(rss_epochs) >= 3 else None}
