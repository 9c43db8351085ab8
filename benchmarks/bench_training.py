"""Training-speed benchmark of nlayer against the GEMM floor, PyTorch, scikit-learn and Keras.

    python benchmarks/bench_training.py [--quick] [--out benchmarks/results]

Every measurement runs in its own child process (``--worker SPEC.json``) so that
the thread pools of NumPy/OpenBLAS, PyTorch and TensorFlow never share a
process. The parent loads the data once (Fashion-MNIST through
``nlayer.datasets`` when the IDX files are installed, random data of the same
shape otherwise), hands it to the workers as ``.npy`` files, collects their JSON
answers and writes ``results.md``, ``results.json`` and ``epoch_times.png``.

See ``benchmarks/README.md`` for what every number means.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
SEED = 0
LR = 0.05
MOMENTUM = 0.9
N_CLASSES = 10
MAIN = (256, 128)
DEEP = (128,) * 10

#: (timed epochs, training rows, prediction repeats, worker timeout in s)
SETTINGS = {
    "full": {"epochs": 7, "rows": 60000, "predict_repeats": 9, "timeout": 900},
    "quick": {"epochs": 2, "rows": 12000, "predict_repeats": 5, "timeout": 300},
}

CASES = [
    {"key": "b32", "label": "784-256-128-10, batch 32", "hidden": MAIN, "batch": 32},
    {"key": "b128", "label": "784-256-128-10, batch 128", "hidden": MAIN, "batch": 128,
     "predict": True},
    {"key": "b512", "label": "784-256-128-10, batch 512", "hidden": MAIN, "batch": 512},
    {"key": "deep", "label": "784-10x128-10 (deep, narrow), batch 128", "hidden": DEEP,
     "batch": 128},
    {"key": "bn_dropout", "label": "784-256-128-10 + batch norm + dropout 0.2, batch 128",
     "hidden": MAIN, "batch": 128, "batchnorm": True, "dropout": 0.2},
    {"key": "f64", "label": "784-256-128-10 float64, batch 128", "hidden": MAIN, "batch": 128,
     "dtype": "float64"},
]
SYSTEMS = ["floor", "nlayer", "torch", "sklearn", "keras"]
SYSTEM_NAMES = {"floor": "GEMM floor (NumPy)", "nlayer": "nlayer", "torch": "PyTorch",
                "sklearn": "scikit-learn", "keras": "Keras 3 (TensorFlow)"}
PEER_MODULES = {"torch": "torch", "sklearn": "sklearn", "keras": "keras"}

MEMORY_TOLERANCE_MB = 100.0       # allowed growth beyond the training data
EPOCH_GROWTH_TOLERANCE_MB = 2.0   # "no growth" between epochs 2 and 3 (allocator noise)
LINEAR_TOLERANCE = 0.15           # time per row within +-15 %
QUIET = 0.15                      # a pair whose state probe is within 15 % of the fastest: quiet
MIN_QUIET_PAIRS = 3               # the floor targets use the quiet pairs when there are this many


# ============================================================================ helpers
def _median(values):
    return float(statistics.median(values)) if values else None


def _timed_median(epoch_seconds):
    """Median of the epochs after the first (warm-up) one."""
    timed = epoch_seconds[1:] if len(epoch_seconds) > 1 else epoch_seconds
    return _median(timed)


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


def _load1():
    """1-minute load average (None where unavailable): other jobs on the cores spoil timings."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _case_defaults(case):
    return {"batchnorm": False, "dropout": 0.0, "dtype": "float32", "predict": False, **case}


# ============================================================================ workers
def _load_worker_data(spec, dtype=None):
    d = Path(spec["data_dir"])
    rows = spec["rows"]
    X = np.load(d / "X_train.npy")[:rows]
    y = np.load(d / "y_train.npy")[:rows]
    X_test, y_test = np.load(d / "X_test.npy"), np.load(d / "y_test.npy")
    if dtype is not None and X.dtype != np.dtype(dtype):
        X, X_test = X.astype(dtype), X_test.astype(dtype)
    return np.ascontiguousarray(X), y, np.ascontiguousarray(X_test), y_test


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


def _state_probe():
    """Seconds for 200 small two-thread GEMMs, each followed by single-threaded NumPy work.

    This shared machine has a slow state, lasting seconds to minutes, in which waking
    the second BLAS thread after single-threaded work gets expensive (the second vCPU
    seems contended). It slows nlayer, whose GEMMs alternate with element-wise work,
    up to 2.5x at batch 32, and the back-to-back GEMMs of the floor far less; a
    memory-bound probe does not see it. This probe does (+20 % in the slow state).
    """
    A, W = np.ones((32, 784), dtype=np.float32), np.ones((784, 256), dtype=np.float32)
    Z, B = np.empty((32, 256), dtype=np.float32), np.ones(235_146, dtype=np.float32)
    t0 = time.perf_counter()
    for _ in range(200):
        np.matmul(A, W, out=Z)
        B *= np.float32(0.9)
    return time.perf_counter() - t0


def mark_quiet(results):
    """Quiet pairs: probe within QUIET of the fastest probe of the whole run (any case).

    Judged across the run, because a case can spend all its pairs in a slow spell.
    """
    runs = [r for r in (*results["paired"].values(), results["paired_bn"])
            if r.get("probe_seconds")]
    if not runs:
        return
    fastest = min(t for r in runs for t in r["probe_seconds"])
    for r in runs:
        quiet = [x for x, t in zip(r["ratios"], r["probe_seconds"]) if t <= fastest * (1 + QUIET)]
        r["quiet_pairs"], r["quiet_ratio"] = len(quiet), _median(quiet) if quiet else None


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


def _torch_net(model, nn):
    """nn.Sequential mirroring the nlayer layers, with the same initial weights."""
    import torch

    mods = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            lin = nn.Linear(layer.n_in, layer.units, bias=layer.use_bias)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.params["kernel"].T.copy()))
                if layer.use_bias:
                    lin.bias.copy_(torch.from_numpy(layer.params["bias"]))
            mods.append(lin)
            act = layer.activation.name
            if act == "relu":
                mods.append(nn.ReLU())
            elif act not in ("softmax", "linear"):  # softmax is inside CrossEntropyLoss
                raise ValueError(f"no torch mapping for activation {act}")
        elif kind == "BatchNorm":
            bn = nn.BatchNorm1d(layer.n_in, eps=layer.epsilon, momentum=1 - layer.momentum)
            with torch.no_grad():
                bn.weight.copy_(torch.from_numpy(layer.params["gamma"]))
                bn.bias.copy_(torch.from_numpy(layer.params["beta"]))
            mods.append(bn)
        elif kind == "Activation":
            if layer.activation.name != "relu":
                raise ValueError(f"no torch mapping for activation {layer.activation.name}")
            mods.append(nn.ReLU())
        elif kind == "Dropout":
            mods.append(nn.Dropout(layer.rate))
        else:
            raise ValueError(f"no torch mapping for layer {kind}")
    net = nn.Sequential(*mods)
    return net.double() if model.dtype == np.float64 else net


def worker_torch(spec):
    import torch
    from torch import nn

    from nlayer.model import batch_orders

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(SEED)
    X, y, X_test, y_test = _load_worker_data(spec, spec["dtype"])
    model = _nlayer_model(spec)
    net = _torch_net(model, nn)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    n, bs = X.shape[0], spec["batch"]
    epochs = spec["epochs"] + 1
    orders = batch_orders(SEED, n, epochs)
    seconds, losses = [], []
    net.train()
    for e in range(epochs):
        order = torch.from_numpy(orders[e])
        t0 = time.perf_counter()
        total_loss = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            xb, yb = Xt.index_select(0, idx), yt.index_select(0, idx)  # gather, as nlayer does
            logits = net(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():  # running loss and accuracy, as nlayer's fit reports
                total_loss += loss.detach() * idx.numel()
                correct += (logits.argmax(dim=1) == yb).sum()
        seconds.append(time.perf_counter() - t0)
        losses.append(float(total_loss) / n)
    net.eval()
    Xtest_np = X_test

    def infer():
        with torch.no_grad():
            return torch.softmax(net(torch.from_numpy(Xtest_np)), dim=1).numpy()

    out = {"epoch_seconds": seconds, "train_loss": losses,
           "test_accuracy": _accuracy(infer(), y_test),
           "threads": torch.get_num_threads(),
           "note": "same initial weights and batch order as nlayer"}
    if spec["predict"]:
        out["predict"] = _predict_rates(infer, X_test.shape[0], spec["predict_repeats"])
    return out


def worker_sklearn(spec):
    if spec["batchnorm"] or spec["dropout"]:
        return {"skipped": "MLPClassifier has no batch norm or dropout"}
    import warnings

    from sklearn.neural_network import MLPClassifier

    X, y, X_test, y_test = _load_worker_data(spec, spec["dtype"])
    clf = MLPClassifier(hidden_layer_sizes=tuple(spec["hidden"]), activation="relu",
                        solver="sgd", momentum=MOMENTUM, nesterovs_momentum=False,
                        learning_rate_init=LR, batch_size=spec["batch"], alpha=0.0,
                        shuffle=True, random_state=SEED)
    classes = np.arange(N_CLASSES)
    seconds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(spec["epochs"] + 1):
            t0 = time.perf_counter()
            clf.partial_fit(X, y, classes=classes)
            seconds.append(time.perf_counter() - t0)
    return {"epoch_seconds": seconds, "train_loss": [float(v) for v in clf.loss_curve_],
            "test_accuracy": _accuracy(clf.predict_proba(X_test), y_test),
            "weights_dtype": str(clf.coefs_[0].dtype),
            "note": "own initialisation and shuffling (partial_fit)"}


def worker_keras(spec):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    keras.config.set_floatx(spec["dtype"])
    keras.utils.set_random_seed(SEED)
    X, y, X_test, y_test = _load_worker_data(spec, spec["dtype"])
    model = _nlayer_model(spec)
    layers = [keras.Input((X.shape[1],))]
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            layers.append(keras.layers.Dense(layer.units, activation=layer.activation.name,
                                             use_bias=layer.use_bias))
        elif kind == "BatchNorm":
            layers.append(keras.layers.BatchNormalization(momentum=layer.momentum,
                                                          epsilon=layer.epsilon))
        elif kind == "Activation":
            layers.append(keras.layers.Activation(layer.activation.name))
        elif kind == "Dropout":
            layers.append(keras.layers.Dropout(layer.rate))
    net = keras.Sequential(layers)
    net.set_weights(model.get_weights())  # same order as Keras: kernel, bias; gamma, beta, ...
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._t0)

    timer = EpochTimer()
    hist = net.fit(X, y, batch_size=spec["batch"], epochs=spec["epochs"] + 1, shuffle=True,
                   verbose=0, callbacks=[timer])
    scores = net.predict(X_test, batch_size=4096, verbose=0)
    return {"epoch_seconds": timer.seconds,
            "train_loss": [float(v) for v in hist.history["loss"]],
            "test_accuracy": _accuracy(scores, y_test),
            "note": "same initial weights as nlayer, own shuffling"}


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


WORKERS = {"floor": worker_floor, "nlayer": worker_nlayer, "paired": worker_paired,
           "paired_bn": worker_paired_bn, "torch": worker_torch,
           "sklearn": worker_sklearn, "keras": worker_keras, "memory": worker_memory}


def run_worker(spec_path):
    spec = json.loads(Path(spec_path).read_text())
    t0 = time.perf_counter()
    try:
        result = WORKERS[spec["system"]](spec)
    except ImportError as exc:
        result = {"skipped": f"not importable: {exc}"}
    result["worker_seconds"] = time.perf_counter() - t0
    Path(spec["result_path"]).write_text(json.dumps(result))


# ============================================================================ parent
def machine_info():
    info = {"date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "python": platform.python_version(), "platform": platform.platform(),
            "cpu_count": os.cpu_count()}
    try:
        info["cpu_affinity"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    cpu = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "cpu family", "model", "stepping", "flags") and key not in cpu:
                cpu[key] = value.strip()
    except OSError:
        pass
    model = cpu.get("model name")
    if not model and shutil.which("lscpu"):
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((l.split(":", 1)[1].strip() for l in out.splitlines()
                      if l.startswith("Model name")), None)
    info["cpu_model"] = model or platform.processor() or "unknown"
    if "cpu family" in cpu:
        info["cpu_family_model_stepping"] = f"{cpu['cpu family']}/{cpu.get('model')}/{cpu.get('stepping')}"
    flags = cpu.get("flags", "").split()
    info["simd"] = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16") if f in flags]
    try:
        info["load_average_start"] = os.getloadavg()
    except OSError:
        pass
    versions = {}
    for dist in ("numpy", "nlayer", "torch", "tensorflow", "keras", "scikit-learn", "matplotlib",
                 "threadpoolctl"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    info["versions"] = versions
    blas = []
    try:
        import threadpoolctl

        for lib in threadpoolctl.threadpool_info():
            blas.append({k: lib.get(k) for k in ("user_api", "internal_api", "version",
                                                  "num_threads", "architecture", "prefix")})
    except ImportError:
        pass
    info["threadpools"] = blas
    try:
        cfg = np.show_config(mode="dicts")
        b = cfg["Build Dependencies"]["blas"]
        info["numpy_blas"] = f"{b.get('name')} {b.get('version')}"
    except Exception:  # older numpy: no dict mode
        info["numpy_blas"] = None
    return info


def machine_line(info):
    v = info["versions"]
    blas = info.get("numpy_blas") or "?"
    np_pool = next((p for p in info["threadpools"] if p["user_api"] == "blas"), None)
    if np_pool:
        blas += f" ({np_pool['internal_api']} {np_pool['version']}, {np_pool['architecture']}, " \
                f"{np_pool['num_threads']} threads)"
    peers = ", ".join(f"{k} {v[k]}" for k in ("torch", "tensorflow", "keras", "scikit-learn")
                      if v.get(k))
    cpu = info["cpu_model"]
    if info.get("cpu_family_model_stepping"):
        cpu += f" (family/model/stepping {info['cpu_family_model_stepping']})"
    simd = "+".join(info.get("simd", []))
    load = info.get("load_average_start")
    load_s = f"; load average at start {load[0]:.2f}" if load else ""
    return (f"{cpu}, {info['cpu_count']} logical cores{', ' + simd if simd else ''}; "
            f"Python {info['python']}, NumPy {v['numpy']} with {blas}; {peers}; "
            f"{info['platform']}; {info['date']}{load_s}")


def prepare_data(mode, rows, tmp):
    """Write X_train/y_train (first ``rows`` rows), X_test/y_test as .npy; describe the source."""
    X, y, X_test, y_test, info = load_data(mode, rows)
    np.save(tmp / "X_train.npy", X)
    np.save(tmp / "y_train.npy", y)
    np.save(tmp / "X_test.npy", X_test)
    np.save(tmp / "y_test.npy", y_test)
    return info


def load_data(mode, rows):
    """(X_train, y_train, X_test, y_test, description): float32 in [0, 1], int64 labels.

    Fashion-MNIST when ``mode`` is "fashion-mnist", or "auto" and it is installed;
    random data of its shape otherwise. The first ``rows`` training rows are kept.
    """
    use_fm = mode == "fashion-mnist" or (mode == "auto" and DATA_DIR.exists())
    if use_fm:
        from nlayer.datasets import load_dataset

        ds = load_dataset("fashion-mnist", data_dir=str(DATA_DIR), download=False)
        X, y, X_test, y_test = ds.X_train, ds.y_train, ds.X_test, ds.y_test
        source = f"Fashion-MNIST from {DATA_DIR} (via nlayer.datasets)"
    else:
        rng = np.random.default_rng(12345)
        protos = rng.random((N_CLASSES, 784), dtype=np.float32)
        protos *= protos > 0.6  # sparse class prototypes

        def sample(n):  # prototype + heavy Gaussian noise, clipped to [0, 1]: learnable, stable
            labels = rng.integers(0, N_CLASSES, n)
            X = rng.standard_normal((n, 784), dtype=np.float32)
            X *= np.float32(2.0)
            X += protos[labels]
            np.clip(X, 0.0, 1.0, out=X)
            return X, labels

        X, y = sample(60000)
        X_test, y_test = sample(10000)
        why = "forced by --data random" if mode == "random" else f"{DATA_DIR} not found"
        source = (f"random data of Fashion-MNIST's shape ({why}): a sparse random prototype "
                  "per class + Gaussian noise (sd 2), clipped to [0, 1]")
    rows = min(rows, X.shape[0])
    info = {"source": source, "fashion_mnist": use_fm, "train_rows": rows,
            "test_rows": int(X_test.shape[0]), "features": int(X.shape[1])}
    return (np.ascontiguousarray(X[:rows], dtype=np.float32),
            np.asarray(y[:rows], dtype=np.int64),
            np.ascontiguousarray(X_test, dtype=np.float32),
            np.asarray(y_test, dtype=np.int64), info)


class Runner:
    def __init__(self, args, settings, tmp, n_features):
        self.args, self.settings, self.tmp, self.n_features = args, settings, tmp, n_features
        self.count = 0

    def run(self, system, case, rows=None, label=None):
        """Run one worker; returns its JSON answer (with ``error`` or ``skipped`` on failure)."""
        case = _case_defaults(case)
        if system in PEER_MODULES and importlib.util.find_spec(PEER_MODULES[system]) is None:
            res = {"skipped": f"{PEER_MODULES[system]} is not importable"}
            self._log(system, label or case["key"], res, 0.0)
            return res
        self.count += 1
        spec = {**case, "system": system, "hidden": list(case["hidden"]),
                "rows": rows or self.settings["rows"], "epochs": self.settings["epochs"],
                "predict_repeats": self.settings["predict_repeats"],
                "n_features": self.n_features, "data_dir": str(self.tmp),
                "result_path": str(self.tmp / f"result_{self.count}.json")}
        spec_path = self.tmp / f"spec_{self.count}.json"
        spec_path.write_text(json.dumps(spec))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
        load = _load1()
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker",
                                   str(spec_path)], capture_output=True, text=True, env=env,
                                  timeout=self.settings["timeout"])
            if proc.returncode == 0 and Path(spec["result_path"]).exists():
                res = json.loads(Path(spec["result_path"]).read_text())
            else:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                res = {"error": f"worker exited with {proc.returncode}: " + " | ".join(tail)}
        except subprocess.TimeoutExpired:
            res = {"error": f"timed out after {self.settings['timeout']} s"}
        wall = time.perf_counter() - t0
        res["process_seconds"] = wall
        res["load_before"], res["load_after"] = load, _load1()
        if "epoch_seconds" in res:
            res["median_seconds"] = _timed_median(res["epoch_seconds"])
        self._log(system, label or case["key"], res, wall)
        return res

    @staticmethod
    def _log(system, label, res, wall):
        if "median_seconds" in res:
            acc = res.get("test_accuracy")
            what = f"{res['median_seconds']:.3f} s/epoch" + (f", test acc {acc:.4f}" if acc else "")
        elif "ratio" in res:
            which = "bn+dropout / plain" if system == "paired_bn" else "nlayer / floor"
            what = f"{which} {res['ratio']:.2f} (pairs: " + \
                ", ".join(f"{r:.2f}" for r in res["ratios"]) + ")"
        elif "peak_mb" in res:
            what = f"peak {res['peak_mb']:.0f} MB, growth {res['growth_mb']:.0f} MB"
        else:
            what = res.get("skipped") or res.get("error") or "done"
        print(f"  [{label}] {SYSTEM_NAMES.get(system, system)}: {what}  ({wall:.1f} s)",
              flush=True)


def best_round(runs):
    """The round with the lowest median epoch time (other jobs only ever add time)."""
    timed = [r for r in runs if "median_seconds" in r]
    if not timed:
        return runs[0]
    best = dict(min(timed, key=lambda r: r["median_seconds"]))
    best["round_medians"] = [r["median_seconds"] for r in timed]
    return best


def _status(ok):
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def evaluate(results):
    """Targets as (name, measured text, target text, ok or None)."""
    cases, out = results["cases"], []

    def med(case, system):
        return cases.get(case, {}).get(system, {}).get("median_seconds")

    def ratio(a, b):
        return a / b if a is not None and b else None

    paired = results.get("paired", {})
    for case, limit in (("b128", 1.25), ("b32", 1.6), ("b512", 1.15)):
        p = paired.get(case, {})
        if p.get("quiet_pairs", 0) >= MIN_QUIET_PAIRS:
            r, how = p["quiet_ratio"], f" (paired, {p['quiet_pairs']} quiet pairs)"
        elif p.get("ratio"):
            r, how = p["ratio"], " (paired, all pairs)"
        else:
            r, how = ratio(med(case, "nlayer"), med(case, "floor")), ""
        out.append((f"{case}: nlayer / GEMM floor{how}", _fmt_ratio(r), f"<= {limit}x",
                    None if r is None else r <= limit))
    r = ratio(med("b128", "nlayer"), med("b128", "torch"))
    out.append(("b128: nlayer / PyTorch epoch time", _fmt_ratio(r), "<= 0.75x",
                None if r is None else r <= 0.75))
    bn = results.get("paired_bn", {})
    if bn.get("quiet_pairs", 0) >= MIN_QUIET_PAIRS:
        r, how = bn["quiet_ratio"], f" (paired, {bn['quiet_pairs']} quiet pairs)"
    elif bn.get("ratio"):
        r, how = bn["ratio"], " (paired, all pairs)"
    else:
        r, how = ratio(med("bn_dropout", "nlayer"), med("b128", "nlayer")), ""
    out.append((f"batch norm + dropout / plain nlayer (b128){how}", _fmt_ratio(r), "<= 1.25x",
                None if r is None else r <= 1.25))
    pred = results.get("prediction", {})
    a, b = (pred.get(s, {}).get("rows_per_second") for s in ("nlayer", "torch"))
    out.append(("prediction: nlayer rows/s vs PyTorch",
                f"{a:,.0f} vs {b:,.0f} rows/s" if a and b else "n/a", ">= PyTorch",
                None if not (a and b) else a >= b))
    mem = results.get("memory", {})
    if "growth_mb" in mem:
        limit = mem["train_data_mb"] + MEMORY_TOLERANCE_MB
        out.append(("fit memory growth beyond loaded data", f"{mem['growth_mb']:.1f} MB",
                    f"<= {limit:.0f} MB (data {mem['train_data_mb']:.0f} + "
                    f"{MEMORY_TOLERANCE_MB:.0f})", mem["growth_mb"] <= limit))
        d = mem.get("epoch2_to_3_mb")
        out.append(("RSS growth epoch 2 -> 3", "n/a" if d is None else f"{d:+.1f} MB",
                    f"<= {EPOCH_GROWTH_TOLERANCE_MB:.0f} MB",
                    None if d is None else d <= EPOCH_GROWTH_TOLERANCE_MB))
    else:
        out.append(("fit memory growth beyond loaded data", mem.get("error", "n/a"),
                    f"<= data + {MEMORY_TOLERANCE_MB:.0f} MB", None))
    sc = results.get("scaling", {})
    if sc.get("max_deviation") is not None:
        out.append(("scaling: time per row vs largest size", f"max {sc['max_deviation']:+.1%}",
                    f"within +-{LINEAR_TOLERANCE:.0%}", sc["linear"]))
    return out


def _fmt_ratio(r):
    return "n/a" if r is None else f"{r:.2f}x"


def _fmt_s(s):
    return "n/a" if s is None else f"{s:.3f}"


def scaling_summary(runs):
    pts = [(r["rows"], r["median_seconds"]) for r in runs if r.get("median_seconds")]
    if len(pts) < 2:
        return {"points": runs, "linear": None, "max_deviation": None}
    ref = pts[-1][1] / pts[-1][0]
    devs = [(t / n) / ref - 1 for n, t in pts]
    worst = max(devs, key=abs)
    return {"points": runs, "reference_seconds_per_row": ref, "deviations": devs,
            "max_deviation": worst, "linear": abs(worst) <= LINEAR_TOLERANCE}


def write_markdown(results, path):
    L = []
    meta = results["meta"]
    L.append("# nlayer training benchmark\n")
    L.append(f"**Machine:** {results['machine_line']}\n")
    L.append(f"**Data:** {results['data']['source']}; {results['data']['train_rows']:,} training "
             f"rows, {results['data']['test_rows']:,} test rows.\n")
    L.append(f"**Protocol:** mode `{meta['mode']}`; every system trains 1 warm-up epoch + "
             f"{meta['epochs']} timed epochs; seconds/epoch is the median of the timed epochs, "
             f"best of {meta.get('rounds', 1)} interleaved round(s) of every case; "
             f"SGD lr {LR}, momentum {MOMENTUM}, seed {SEED}; test accuracy on the "
             f"{results['data']['test_rows']:,} test rows after all {meta['epochs'] + 1} epochs. "
             f"Total benchmark time {meta['total_seconds']:.0f} s.\n")
    L.append("## Targets\n")
    L.append("| Target | Measured | Goal | Result |")
    L.append("|---|---|---|---|")
    for name, measured, goal, ok in results["targets"]:
        L.append(f"| {name} | {measured} | {goal} | {_status(ok)} |")
    L.append("")
    if results.get("paired"):
        L.append("## Floor ratio, paired\n")
        L.append("Floor and nlayer epochs alternate in one process; the ratio is the median of "
                 "the per-pair ratios, so a slow spell of the machine hits both sides alike. "
                 "Quiet pairs: before each pair a probe times 200 small two-thread GEMMs, each "
                 "followed by single-threaded work. A shared machine can turn slow at waking "
                 "the second BLAS thread (seen here for minutes at a time): that slows nlayer, "
                 "whose GEMMs alternate with element-wise work, far more than the back-to-back "
                 f"GEMMs of the floor. Pairs whose probe is within {QUIET:.0%} of the fastest "
                 "probe of the whole run are quiet, and the targets above use their median when there are at least "
                 f"{MIN_QUIET_PAIRS}.\n")
        L.append("| Case | nlayer / floor, all pairs | quiet pairs | each pair | floor s | nlayer s |")
        L.append("|---|---:|---:|---|---|---|")
        for key, res in results["paired"].items():
            if "ratio" not in res:
                L.append(f"| {key} | {res.get('error', 'n/a')} | | | | |")
                continue
            fmt = lambda xs: ", ".join(f"{x:.3f}" for x in xs)
            quiet = f"{res['quiet_ratio']:.2f}x ({res['quiet_pairs']})" if res.get("quiet_pairs") \
                else "none"
            L.append(f"| {key} | {res['ratio']:.2f}x | {quiet} | "
                     f"{', '.join(f'{r:.2f}' for r in res['ratios'])}"
                     f" | {fmt(res['floor_seconds'])} | {fmt(res['nlayer_seconds'])} |")
        L.append("")
    bn = results.get("paired_bn", {})
    if "ratio" in bn:
        fmt = lambda xs: ", ".join(f"{x:.3f}" for x in xs)
        L.append("## Batch norm + dropout against plain, paired\n")
        L.append("Plain and batch norm + dropout epochs (784-256-128-10, batch 128) alternate in "
                 "one process; the ratio is the median of the per-pair ratios (quiet pairs as "
                 "above).\n")
        L.append("| bn+dropout / plain, all pairs | quiet pairs | each pair | plain s | "
                 "bn+dropout s |")
        L.append("|---:|---:|---|---|---|")
        quiet = f"{bn['quiet_ratio']:.2f}x ({bn['quiet_pairs']})" if bn.get("quiet_pairs") \
            else "none"
        L.append(f"| {bn['ratio']:.2f}x | {quiet} | {', '.join(f'{r:.2f}' for r in bn['ratios'])} | "
                 f"{fmt(bn['plain_seconds'])} | {fmt(bn['bn_dropout_seconds'])} |")
        L.append("")
    L.append("## Seconds per epoch\n")
    L.append("| Case | System | s/epoch | spread | load | x floor | test acc | notes |")
    L.append("|---|---|---:|---:|---:|---:|---:|---|")
    for case in CASES:
        rows = results["cases"].get(case["key"], {})
        floor = rows.get("floor", {}).get("median_seconds")
        plain = results["cases"].get("b128", {}).get("nlayer", {}).get("median_seconds")
        for system in SYSTEMS:
            r = rows.get(system)
            if r is None:
                continue
            s = r.get("median_seconds")
            timed = r.get("epoch_seconds", [])[1:]
            spread = f"{(max(timed) - min(timed)) / s:.0%}" if s and len(timed) > 1 else ""
            acc = r.get("test_accuracy")
            notes = r.get("skipped") or r.get("error") or r.get("note", "")
            if case["key"] == "bn_dropout" and system == "nlayer" and s and plain:
                notes = f"{s / plain:.2f}x plain nlayer b128"
            load = max((v for v in (r.get("load_before"), r.get("load_after")) if v is not None),
                       default=None)
            load = "" if load is None else f"{load:.1f}"
            L.append(f"| {case['label']} | {SYSTEM_NAMES[system]} | {_fmt_s(s)} | {spread} | {load} | "
                     f"{_fmt_ratio(s / floor) if s and floor else 'n/a'} | "
                     f"{'' if acc is None else f'{acc:.4f}'} | {notes} |")
    L.append("")
    L.append(f"spread = (slowest - fastest timed epoch) / median; load = the larger 1-minute load "
             f"average before/after that system's process (the machine has {os.cpu_count()} "
             "cores; well above the benchmark's own ~1-2 means other jobs were running). "
             "Both are noise indicators.\n")
    sc = results["scaling"]
    L.append("## Scaling with rows (nlayer, 784-256-128-10, batch 128)\n")
    L.append("| Rows | s/epoch | us/row | vs largest |")
    L.append("|---:|---:|---:|---:|")
    devs = sc.get("deviations") or []
    ok_pts = [p for p in sc["points"] if p.get("median_seconds")]
    for i, p in enumerate(ok_pts):
        dev = f"{devs[i]:+.1%}" if i < len(devs) else ""
        L.append(f"| {p['rows']:,} | {p['median_seconds']:.3f} | "
                 f"{p['median_seconds'] / p['rows'] * 1e6:.2f} | {dev} |")
    for p in sc["points"]:
        if not p.get("median_seconds"):
            L.append(f"| {p['rows']:,} | {p.get('error') or p.get('skipped')} | | |")
    verdict = {True: "linear", False: "not linear", None: "n/a"}[sc.get("linear")]
    L.append(f"\nVerdict: **{verdict}** (time per row within +-{LINEAR_TOLERANCE:.0%} of the "
             "largest size's).\n")
    L.append("## Prediction throughput (10k test rows, median of repeats)\n")
    L.append("| System | rows/s | ms per pass |")
    L.append("|---|---:|---:|")
    for system, p in results["prediction"].items():
        if "rows_per_second" in p:
            L.append(f"| {SYSTEM_NAMES[system]} | {p['rows_per_second']:,.0f} | "
                     f"{p['median_seconds'] * 1e3:.1f} |")
        else:
            L.append(f"| {SYSTEM_NAMES[system]} | {p.get('error', 'n/a')} | |")
    L.append("")
    mem = results["memory"]
    L.append("## Memory of nlayer fit (784-256-128-10, batch 128, 3 epochs, child process)\n")
    if "peak_mb" in mem:
        L.append("| Quantity | MB |")
        L.append("|---|---:|")
        L.append(f"| RSS after loading the data, before fit | {mem['rss_loaded_mb']:.1f} |")
        L.append(f"| Training data (X + y) | {mem['train_data_mb']:.1f} |")
        L.append(f"| Peak RSS during fit ({'VmHWM, reset before fit' if mem['hwm_reset'] else 'VmHWM'}) "
                 f"| {mem['peak_mb']:.1f} |")
        L.append(f"| ru_maxrss | {mem['ru_maxrss_mb']:.1f} |")
        L.append(f"| Growth beyond the loaded data | {mem['growth_mb']:.1f} |")
        rss = ", ".join(f"{v:.1f}" for v in mem["rss_after_epoch_mb"])
        L.append(f"| RSS after epochs 1, 2, 3 | {rss} |")
        L.append("\nThe peak is VmHWM from /proc/self/status"
                 + (", reset through /proc/self/clear_refs after the data was loaded"
                    if mem["hwm_reset"] else "")
                 + ". ru_maxrss is shown for reference only: Linux carries it across exec, "
                 "so in a child of a large parent it can report the parent's size.")
    else:
        L.append(mem.get("error", "n/a"))
    L.append("")
    if results.get("chart"):
        L.append(f"![seconds per epoch]({results['chart']})\n")
    path.write_text("\n".join(L))
    return "\n".join(L)


def write_chart(results, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    groups = [c for c in CASES if c["key"] in ("b32", "b128", "b512")]
    systems = [s for s in SYSTEMS if s != "floor"]
    colors = {"nlayer": "#1f77b4", "torch": "#ee4c2c", "sklearn": "#f7931e", "keras": "#7f7f7f"}
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(9, 5))
    for gi, case in enumerate(groups):
        rows = results["cases"].get(case["key"], {})
        for si, system in enumerate(systems):
            s = rows.get(system, {}).get("median_seconds")
            if not s:
                continue
            x = gi - 0.4 + width * (si + 0.5)
            ax.bar(x, s, width, color=colors[system], label=SYSTEM_NAMES[system])
            ax.text(x, s, f"{s:.2f}", ha="center", va="bottom", fontsize=7)
        floor = rows.get("floor", {}).get("median_seconds")
        if floor:
            ax.hlines(floor, gi - 0.45, gi + 0.45, colors="black", linestyles="--",
                      label="GEMM floor", zorder=3)
    handles, labels = ax.get_legend_handles_labels()
    seen = {}
    for h, l in zip(handles, labels):
        seen.setdefault(l, h)
    ax.legend(seen.values(), seen.keys(), fontsize=8)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"batch {c['batch']}" for c in groups])
    ax.set_ylabel("seconds per epoch (median, after warm-up)")
    vals = [r.get("median_seconds") for c in groups
            for r in results["cases"].get(c["key"], {}).values() if r.get("median_seconds")]
    if vals and max(vals) / min(vals) > 30:
        ax.set_yscale("log")
    ax.set_title(f"784-256-128-10 float32, {results['data']['train_rows']:,} rows "
                 f"({'Fashion-MNIST' if results['data']['fashion_mnist'] else 'random data'})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path.name


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help=f"{SETTINGS['quick']['rows']:,} rows and {SETTINGS['quick']['epochs']} "
                        "timed epochs (a few minutes) instead of the full run")
    p.add_argument("--out", default=str(HERE / "results"), help="output folder")
    p.add_argument("--epochs", type=int, help="timed epochs (after 1 warm-up)")
    p.add_argument("--rows", type=int, help="training rows")
    p.add_argument("--rounds", type=int, help="interleaved repeats of every case; the fastest "
                                             "round counts (default 2, quick 1)")
    p.add_argument("--data", choices=("auto", "fashion-mnist", "random"), default="auto",
                   help="auto: Fashion-MNIST when installed, random data otherwise")
    p.add_argument("--cases", help="comma-separated subset of " + ",".join(c["key"] for c in CASES))
    p.add_argument("--systems", help="comma-separated subset of " + ",".join(SYSTEMS))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return run_worker(args.worker)

    t_start = time.perf_counter()
    mode = "quick" if args.quick else "full"
    settings = dict(SETTINGS[mode])
    if args.epochs:
        settings["epochs"] = args.epochs
    if args.rows:
        settings["rows"] = args.rows
    settings["rounds"] = args.rounds or (1 if args.quick else 2)
    settings["pairs"] = 3 if args.quick else 9
    case_keys = args.cases.split(",") if args.cases else [c["key"] for c in CASES]
    systems = args.systems.split(",") if args.systems else SYSTEMS
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    info = machine_info()
    print(f"Machine: {machine_line(info)}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="nlayer-bench-"))
    try:
        data = prepare_data(args.data, settings["rows"], tmp)
        settings["rows"] = data["train_rows"]
        print(f"Data: {data['source']}; {data['train_rows']:,} training rows; mode {mode}: "
              f"1 warm-up + {settings['epochs']} timed epochs", flush=True)
        runner = Runner(args, settings, tmp, data["features"])
        results = {"meta": {"mode": mode, **settings, "seed": SEED, "lr": LR,
                            "momentum": MOMENTUM},
                   "machine": info, "machine_line": machine_line(info), "data": data,
                   "cases": {}, "paired": {}, "paired_bn": {}, "prediction": {}, "scaling": {},
                   "memory": {}}

        for case in CASES:
            if case["key"] not in case_keys:
                continue
            print(f"{case['label']}:", flush=True)
            rounds = {system: [] for system in systems}
            for _ in range(settings["rounds"]):  # interleaved, so a slow spell hits every system
                for system in systems:
                    rounds[system].append(runner.run(system, case))
            results["cases"][case["key"]] = {}
            for system, runs in rounds.items():
                res = best_round(runs)
                results["cases"][case["key"]][system] = res
                if "predict" in res:
                    results["prediction"][system] = res.pop("predict")

        if "nlayer" in systems and "floor" in systems:
            print("Floor ratio, floor and nlayer epochs alternating in one process:", flush=True)
            for case in CASES:
                if case["key"] in ("b32", "b128", "b512") and case["key"] in case_keys:
                    results["paired"][case["key"]] = runner.run(
                        "paired", {**case, "predict": False, "pairs": settings["pairs"]},
                        label=case["key"])
        if "nlayer" in systems and "bn_dropout" in case_keys:
            print("Batch norm + dropout against plain, epochs alternating in one process:",
                  flush=True)
            bn = next(c for c in CASES if c["key"] == "bn_dropout")
            results["paired_bn"] = runner.run(
                "paired_bn", {**bn, "predict": False, "pairs": settings["pairs"]},
                label="bn_dropout")

        if "nlayer" in systems:
            n = settings["rows"]
            sizes = [10000, 30000, 60000] if n >= 60000 else [n // 6, n // 2, n]
            print("Scaling (nlayer, batch 128):", flush=True)
            runs = []
            for rows in sizes:
                r = runner.run("nlayer", {**CASES[1], "predict": False}, rows=rows,
                               label=f"{rows} rows")
                runs.append({"rows": rows, **{k: r[k] for k in
                             ("median_seconds", "epoch_seconds", "error", "skipped") if k in r}})
            results["scaling"] = scaling_summary(runs)
            print("Memory (nlayer fit, batch 128, 3 epochs):", flush=True)
            results["memory"] = runner.run("memory", {**CASES[1], "predict": False},
                                           label="memory")

        results["meta"]["total_seconds"] = time.perf_counter() - t_start
        mark_quiet(results)
        results["targets"] = evaluate(results)
        results["chart"] = write_chart(results, out / "epoch_times.png")
        try:
            results["machine"]["load_average_end"] = os.getloadavg()
        except OSError:
            pass
        text = write_markdown(results, out / "results.md")
        (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(text)
    print(f"\nWrote {out / 'results.md'}, {out / 'results.json'}"
          + (f", {out / results['chart']}" if results.get("chart") else ""))
    print(f"Total time: {results['meta']['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
