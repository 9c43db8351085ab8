"""Seconds of training until each system first reaches a test accuracy on Fashion-MNIST.

    python benchmarks/bench_time_to_accuracy.py            # 60,000 rows, target 0.88
    python benchmarks/bench_time_to_accuracy.py --quick    # 12,000 rows, 4 epochs, target 0.80

Each system trains with its own best recipe, epoch by epoch, in its own child
process (so thread pools never share one); after every epoch the test accuracy
is measured with the clock stopped, and the clock's total when it first reaches
``--target`` is the result:

- nlayer: its ``quick`` recipe for ``fashion-mnist`` (``nlayer train --dataset
  fashion-mnist --recipe quick``: the ``fast`` recipe cut to 3 epochs without
  dropout, chosen on the development split as the shortest run that clears 0.88),
  trained on all the training rows (no dev split).
- nlayer fast: its ``fast`` recipe (20 epochs, dropout 0.2), the same way.
- nlayer one-cycle: nlayer with the peers' one-cycle recipe below, so that the
  per-epoch cost of the same math is compared too.
- PyTorch quick: nlayer's quick recipe in PyTorch (the same network, initial
  weights and batch order; ``torch.optim.Adam`` with nlayer's epsilon, its rate set
  before every step from nlayer's cosine schedule), so the same math on both.
- PyTorch: the same network, initial weights and batch order, SGD with
  Nesterov momentum and weight decay 5e-4, and ``OneCycleLR`` (peak 0.1, 30 %
  warm-up, momentum 0.9 -> 0.8 -> 0.9): the one-cycle recipe (nlayer's default
  before adam + cosine replaced it).
- Keras: the same network and initial weights, SGD with Nesterov momentum 0.9,
  the one-cycle rate set before every batch by a callback (Keras has no
  one-cycle schedule; its momentum stays fixed), its own shuffling.
- scikit-learn: ``MLPClassifier`` with the same hidden layers, adam and
  ``early_stopping=True`` (its defaults otherwise), one ``fit``; its per-epoch
  early-stopping hook also scores the test rows, with the clock stopped.

Every system runs ``--repeats`` times (default 3), in rounds that take the
systems in turn, so a slow spell of the machine touches every system alike;
the table gives the median and the range. Results go to ``--out`` (default
``benchmarks/results``) as ``time_to_accuracy.md`` and ``.json``. Timings mean
something only on a quiet machine; the load average around each run is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_training as bench  # noqa: E402  (data, machine line, torch network)

SYSTEMS = ["nlayer", "nlayer-fast", "nlayer-onecycle", "torch-quick", "torch", "keras",
           "sklearn"]
NAMES = {"nlayer": "nlayer (quick recipe)", "nlayer-fast": "nlayer (fast recipe)",
         "nlayer-onecycle": "nlayer (one-cycle recipe)",
         "torch-quick": "PyTorch (nlayer's quick recipe)", "torch": "PyTorch (one-cycle)",
         "keras": "Keras (one-cycle)", "sklearn": "scikit-learn (adam, early stopping)"}
#: The peers' recipe on nlayer's network: SGD, Nesterov, one-cycle to a peak of 0.1.
ONE_CYCLE = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True,
             "schedule": "onecycle", "warmup": None, "cycle_momentum": True,
             "weight_decay": 5e-4, "l2": 0.0}
PEERS = {"torch": "torch", "torch-quick": "torch", "keras": "keras", "sklearn": "sklearn"}
SEED = 0


def recipe(max_epochs=None, one_cycle=False, name="quick"):
    """(settings, schedule): nlayer's Fashion-MNIST recipe ``name``, or with ``one_cycle``
    the fast recipe's network trained by the peers' one-cycle recipe (ONE_CYCLE)."""
    from nlayer.runs import config, train

    name = "fast" if one_cycle else name
    cfg = {**config.resolve({"dataset": "fashion-mnist", "recipe": name}), "dev_split": 0.0,
           "patience": 0}
    if one_cycle:
        cfg.update(ONE_CYCLE)
    if max_epochs:
        cfg["epochs"] = min(cfg["epochs"], max_epochs)
    return cfg, train.learning_rate(cfg)


class Clock:
    """Cumulative training seconds and the test accuracy after each epoch."""

    def __init__(self, X_test, y_test, target):
        self.X_test, self.y_test, self.target = X_test, y_test, target
        self.seconds, self.accuracy, self.total = [], [], 0.0

    def epoch(self, seconds, scores):
        """Record one epoch; True once the target is reached."""
        self.total += seconds
        self.seconds.append(self.total)
        self.accuracy.append(float(np.mean(np.asarray(scores).argmax(axis=1) == self.y_test)))
        return self.accuracy[-1] >= self.target

    def result(self):
        hit = next((i for i, a in enumerate(self.accuracy) if a >= self.target), None)
        return {"seconds_to_target": None if hit is None else self.seconds[hit],
                "epochs_to_target": None if hit is None else hit + 1,
                "cumulative_seconds": self.seconds, "test_accuracy": self.accuracy}


# ============================================================================ workers
def worker_nlayer(spec, data, one_cycle=False, name="quick"):
    import nlayer as nl
    from nlayer.runs import train

    X, y, X_test, y_test = data
    cfg, _ = recipe(spec["max_epochs"], one_cycle, name)
    model = train.build_model(cfg, "classification", 10)
    clock = Clock(X_test, y_test, spec["target"])

    class Watch(nl.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if clock.epoch(time.perf_counter() - self.t0, self.model.predict(X_test)):
                self.model.stop_training = True

    model.fit(X, y, epochs=cfg["epochs"], batch_size=cfg["batch_size"], seed=SEED,
              callbacks=[Watch()])
    return {**clock.result(), "recipe": _describe(cfg)}


def _standardized(model, X, X_test):
    """Inputs scaled as nlayer's recipe scales them (fit on the training rows)."""
    norm = model.normalizer
    if norm is None:
        return X, X_test
    norm.fit(X)
    return norm.transform(X), norm.transform(X_test)


def _peer_model(cfg):
    """nlayer's network with the initial weights ``fit(seed=SEED)`` draws (from fit's own
    weight-init generator; the peers' float64 test in tests/benchmarks checks that they
    start where nlayer's own run does)."""
    from nlayer.runs import train
    from nlayer.training.loop import _generators

    model = train.build_model(cfg, "classification", 10)
    model.build((None, 784), seed=_generators(SEED)[1])
    return model


def _torch_one_cycle(torch, net, cfg, cycle, steps):
    """SGD with Nesterov momentum and torch's own OneCycleLR (the peers' recipe)."""
    low, high = cycle.momentum_range or (cfg["momentum"], cfg["momentum"])
    opt = torch.optim.SGD(net.parameters(), lr=cycle.max_lr, momentum=high,
                          nesterov=cfg["nesterov"], weight_decay=cfg["weight_decay"])
    return opt, torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cycle.max_lr, epochs=cfg["epochs"], steps_per_epoch=steps,
        pct_start=cycle.warmup, div_factor=cycle.div, final_div_factor=cycle.final_div,
        cycle_momentum=cycle.momentum_range is not None, base_momentum=low, max_momentum=high)


def _torch_adam_cosine(torch, net, cfg, cosine, steps):
    """Adam with nlayer's epsilon, its rate set before every step from nlayer's schedule."""
    from nlayer.optimizers import Adam

    cosine.bind(steps, cfg["epochs"])
    opt = torch.optim.Adam(net.parameters(), lr=cosine(0), eps=Adam().epsilon)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda step: cosine(step) / cosine(0))


def worker_torch(spec, data, quick=False):
    import torch
    from torch import nn

    from nlayer.model import batch_orders

    torch.manual_seed(SEED)
    X, y, X_test, y_test = data
    cfg, cycle = recipe(spec["max_epochs"], one_cycle=not quick)
    model = _peer_model(cfg)
    X, X_test = _standardized(model, X, X_test)
    net = bench._torch_net(model, nn)
    n, bs = X.shape[0], cfg["batch_size"]
    steps = -(-n // bs)
    opt, sched = (_torch_adam_cosine if quick else _torch_one_cycle)(torch, net, cfg, cycle,
                                                                       steps)
    loss_fn = nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    Xtest = torch.from_numpy(X_test)
    clock = Clock(X_test, y_test, spec["target"])
    for order in batch_orders(SEED, n, cfg["epochs"]):
        net.train()
        order = torch.from_numpy(order)
        t0 = time.perf_counter()
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            loss = loss_fn(net(Xt.index_select(0, idx)), yt.index_select(0, idx))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        seconds = time.perf_counter() - t0
        net.eval()
        with torch.no_grad():
            scores = net(Xtest).numpy()
        if clock.epoch(seconds, scores):
            break
    return {**clock.result(), "threads": torch.get_num_threads()}


def worker_keras(spec, data):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    keras.utils.set_random_seed(SEED)
    X, y, X_test, y_test = data
    cfg, cycle = recipe(spec["max_epochs"], one_cycle=True)
    model = _peer_model(cfg)
    X, X_test = _standardized(model, X, X_test)
    layers = [keras.Input((X.shape[1],))]
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            layers.append(keras.layers.Dense(layer.units, activation=layer.activation.name))
        elif kind == "Dropout":
            layers.append(keras.layers.Dropout(layer.rate))
        else:
            raise ValueError(f"no Keras mapping for {kind}")
    net = keras.Sequential(layers)
    net.set_weights(model.get_weights())
    steps = -(-X.shape[0] // cfg["batch_size"])
    cycle.bind(steps, cfg["epochs"])
    opt = keras.optimizers.SGD(learning_rate=cycle(0), momentum=cfg["momentum"],
                               nesterov=cfg["nesterov"])
    net.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    clock = Clock(X_test, y_test, spec["target"])

    class OneCycleAndClock(keras.callbacks.Callback):
        step = 0

        def on_train_batch_begin(self, batch, logs=None):
            opt.learning_rate.assign(cycle(OneCycleAndClock.step))
            OneCycleAndClock.step += 1

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.t0
            if clock.epoch(seconds, net.predict(X_test, batch_size=4096, verbose=0)):
                self.model.stop_training = True

    net.fit(X, y, batch_size=cfg["batch_size"], epochs=cfg["epochs"], shuffle=True, verbose=0,
            callbacks=[OneCycleAndClock()])
    return clock.result()


class _Reached(Exception):
    """Stops scikit-learn's fit once the target is reached."""


def worker_sklearn(spec, data):
    import warnings

    from sklearn.neural_network import MLPClassifier

    X, y, X_test, y_test = data
    cfg, _ = recipe(spec["max_epochs"])
    X, X_test = _standardized(_peer_model(cfg), X, X_test)
    clock = Clock(X_test, y_test, spec["target"])

    class Timed(MLPClassifier):
        """Its own fit; the per-epoch early-stopping hook also scores the test rows with
        the clock stopped (a private hook of scikit-learn's, which runs once per epoch)."""

        def _update_no_improvement_count(self, *args, **kwargs):
            super()._update_no_improvement_count(*args, **kwargs)
            now = time.perf_counter()
            reached = clock.epoch(now - self._t0, self.predict_proba(X_test))
            self._t0 = time.perf_counter()
            if reached:
                raise _Reached

    clf = Timed(hidden_layer_sizes=tuple(cfg["hidden"]), solver="adam", early_stopping=True,
                max_iter=spec["sklearn_epochs"], random_state=SEED)
    clf._t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
        try:
            clf.fit(X, y)
        except _Reached:
            pass
    return clock.result()


WORKERS = {"nlayer": worker_nlayer,
           "nlayer-fast": lambda spec, data: worker_nlayer(spec, data, name="fast"),
           "nlayer-onecycle": lambda spec, data: worker_nlayer(spec, data, one_cycle=True),
           "torch-quick": lambda spec, data: worker_torch(spec, data, quick=True),
           "torch": worker_torch, "keras": worker_keras, "sklearn": worker_sklearn}


def run_worker(spec_path):
    spec = json.loads(Path(spec_path).read_text())
    d = Path(spec["data_dir"])
    data = tuple(np.load(d / f"{k}.npy") for k in ("X_train", "y_train", "X_test", "y_test"))
    t0 = time.perf_counter()
    result = WORKERS[spec["system"]](spec, data)
    result["process_seconds"] = time.perf_counter() - t0
    Path(spec["result_path"]).write_text(json.dumps(result))


def _describe(cfg):
    keys = ("hidden", "dropout", "optimizer", "lr", "momentum", "nesterov", "schedule",
            "weight_decay", "l2", "batch_size", "epochs")
    return {k: cfg[k] for k in keys}


# ============================================================================ parent
def run_system(system, spec, tmp, timeout):
    import importlib.util

    if system in PEERS and importlib.util.find_spec(PEERS[system]) is None:
        return {"skipped": f"{PEERS[system]} is not importable"}
    spec = {**spec, "system": system, "data_dir": str(tmp),
            "result_path": str(tmp / f"result_{system}.json")}
    path = tmp / f"spec_{system}.json"
    path.write_text(json.dumps(spec))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    load = bench._load1()
    try:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker",
                               str(path)], capture_output=True, text=True, env=env,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if proc.returncode != 0 or not Path(spec["result_path"]).exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"worker exited with {proc.returncode}: " + " | ".join(tail)}
    res = json.loads(Path(spec["result_path"]).read_text())
    res["load_before"], res["load_after"] = load, bench._load1()
    return res


def summary(runs):
    """Median and range of the seconds to target over a system's repeats (None: not reached)."""
    done = [r for r in runs if "seconds_to_target" in r]
    if not done:
        return None
    secs = [r["seconds_to_target"] for r in done]
    reached = sorted(x for x in secs if x is not None)
    epochs = sorted(r["epochs_to_target"] for r in done if r["epochs_to_target"] is not None)
    return {"median": None if len(reached) < len(secs) else float(np.median(reached)),
            "min": reached[0] if reached else None, "max": reached[-1] if reached else None,
            "epochs": epochs, "runs": len(done), "first": done[0],
            "loads": [x for r in done for x in (r["load_before"], r["load_after"])]}


def markdown(results, info, spec, machine):
    cfg, _ = recipe(spec["max_epochs"])
    fast, _ = recipe(spec["max_epochs"], name="fast")
    peer, cycle = recipe(spec["max_epochs"], one_cycle=True)
    lines = [f"# Time to {spec['target']:.2f} test accuracy on Fashion-MNIST", "",
             f"Machine: {machine}", "",
             f"Data: {info['source']}; {info['train_rows']} training rows, "
             f"{info['test_rows']} test rows.", "",
             f"nlayer's quick recipe (`nlayer train --dataset fashion-mnist --recipe quick`; "
             f"PyTorch quick runs the same): {_describe(cfg)}.", "",
             f"nlayer's fast recipe (`--recipe fast`): {_describe(fast)}.", "",
             f"One-cycle recipe (PyTorch, Keras, nlayer one-cycle): {_describe(peer)}, peak "
             f"{cycle.max_lr:g} at {cycle.warmup:g} of the run, momentum range "
             f"{cycle.momentum_range} (Keras: fixed momentum). scikit-learn: "
             "MLPClassifier(adam, early_stopping=True) with the same hidden layers.", "",
             f"Each system ran {spec['repeats']} times, in rounds taking the systems in turn.", "",
             "| system | seconds to target (median) | range | epochs | "
             "test accuracy per epoch (first run) | load average around the runs |",
             "|---|---:|---:|---:|---|---|"]
    for system, runs in results.items():
        s = summary(runs)
        if s is None:
            why = runs[0].get("skipped") or runs[0].get("error")
            lines.append(f"| {NAMES[system]} | {why} | | | | |")
            continue
        median = "not reached" if s["median"] is None else f"{s['median']:.1f}"
        span = f"{s['min']:.1f}-{s['max']:.1f}" if s["min"] is not None else ""
        epochs = ", ".join(map(str, sorted(set(s["epochs"])))) or \
            str(len(s["first"]["test_accuracy"]))
        accs = ", ".join(f"{a:.4f}" for a in s["first"]["test_accuracy"])
        load = f"{min(s['loads']):.1f}-{max(s['loads']):.1f}" if s["loads"] else ""
        lines.append(f"| {NAMES[system]} | {median} | {span} | {epochs} | {accs} | {load} |")
    lines += ["", "Seconds count training only (the test evaluation after each epoch is "
              "excluded); every run is its own process."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true", help="12,000 rows, 4 epochs, target 0.80")
    p.add_argument("--target", type=float, default=None, help="test accuracy (default 0.88)")
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--repeats", type=int, default=3, help="runs of each system (default 3)")
    p.add_argument("--data", default="auto", choices=("auto", "fashion-mnist", "random"))
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--timeout", type=float, default=1800)
    args = p.parse_args(argv)
    if args.worker:
        run_worker(args.worker)
        return 0
    rows = 12000 if args.quick else 60000
    spec = {"target": args.target or (0.80 if args.quick else 0.88),
            "max_epochs": 4 if args.quick else None, "sklearn_epochs": 4 if args.quick else 200,
            "repeats": max(1, args.repeats)}
    machine = bench.machine_line(bench.machine_info())
    systems = args.systems.split(",")
    results = {system: [] for system in systems}
    with tempfile.TemporaryDirectory(prefix="ttacc-") as tmp:
        tmp = Path(tmp)
        info = bench.prepare_data(args.data, rows, tmp)
        for round_ in range(spec["repeats"]):
            for system in systems:
                res = run_system(system, spec, tmp, args.timeout)
                results[system].append(res)
                print(f"  round {round_ + 1} {NAMES[system]}: "
                      f"{res.get('seconds_to_target', res.get('skipped') or res.get('error'))}",
                      flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(results, info, spec, machine)
    name = "time_to_accuracy_quick" if args.quick else "time_to_accuracy"
    (out / f"{name}.md").write_text(text)
    (out / f"{name}.json").write_text(json.dumps({"spec": spec, "data": info,
                                                  "machine": machine, "results": results},
                                                 indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
