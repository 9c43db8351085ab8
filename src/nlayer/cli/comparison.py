"""``nlayer compare``: the same network trained by nlayer and by other libraries.

The CLI makes the data identical for everyone (dev rows split off the training
set, a Standardizer fit on the remaining training rows) and hands it to
:func:`nlayer.compare.run_comparison`, which trains every system.
"""

import contextlib
import os
import sys

import numpy as np
from rich.table import Table

from nlayer.datasets import load_dataset
from nlayer.preprocessing import get_normalizer, train_dev_split
from nlayer.runs import config, data, plots, rundir
from nlayer.runs.errors import UserError

from . import report
from .progress import epoch_line

DEFAULT_PEERS = ("keras", "pytorch", "sklearn")
FILES = ("comparison.png", "comparison.json")


def split_and_normalise(ds, cfg):
    """(X_train, y_train, X_dev, y_dev, X_test, y_test); the scaler is fit on training rows."""
    if not cfg["dev_split"] > 0:
        raise UserError("compare needs a development set: --dev-split must be > 0")
    rng = np.random.default_rng(cfg["seed"])
    train, dev = train_dev_split(len(ds.y_train), cfg["dev_split"], rng, strata=ds.y_train)
    parts = [ds.X_train[train], ds.X_train[dev], ds.X_test]
    if cfg["normalize"] != "none":
        scaler = get_normalizer(cfg["normalize"]).fit(parts[0])
        parts = [scaler.transform(X) for X in parts]
    return parts[0], ds.y_train[train], parts[1], ds.y_train[dev], parts[2], ds.y_test


def make_spec(cfg):
    """The ComparisonSpec of the resolved settings (every system trains with SGD)."""
    from nlayer.compare import ComparisonSpec
    return ComparisonSpec(
        hidden=tuple(cfg["hidden"]), activation=cfg["activation"], init=cfg["init"],
        batchnorm=cfg["batchnorm"], dropout=cfg["dropout"], output="softmax", lr=cfg["lr"],
        momentum=cfg["momentum"], nesterov=cfg["nesterov"], l2=cfg["l2"],
        batch_size=cfg["batch_size"], epochs=cfg["epochs"],
        patience=cfg["patience"] or None, seed=cfg["seed"], dtype=cfg["dtype"])


def resolve(args):
    """Train settings, with SGD forced: the comparison module trains every peer with SGD."""
    explicit = {k: v for k, v in vars(args).items() if k in config.CHECKS}
    if explicit.get("optimizer", "sgd") != "sgd":
        raise UserError("compare trains every system with SGD (momentum, nesterov); "
                       f"--optimizer {explicit['optimizer']} is not supported")
    explicit["optimizer"] = "sgd"
    cfg = config.resolve(explicit, args.config, defaults=config.COMPARE_DEFAULTS)
    if cfg["ensemble"] > 1:
        raise UserError(f"compare trains one network per system, and ensemble "
                        f"{cfg['ensemble']} asks for {cfg['ensemble']}; drop --ensemble")
    for key in ("augment", "adversarial"):
        if cfg[key] is not None:
            raise UserError(f"compare gives every system the same batches, and {key} "
                            f"({cfg[key]}) is nlayer's alone; drop --{key} (or the config "
                            f"file's {key} key) to compare")
    return cfg


def peer_list(peers):
    chosen = ["nlayer", *(DEFAULT_PEERS if peers is None else peers)]
    return list(dict.fromkeys(chosen))  # nlayer first, no duplicates


def _num(value, fmt):
    return "—" if value is None else format(value, fmt)


def results_table(results):
    table = Table(title="Comparison (same data, same network)")
    for header in ("System", "Test acc", "Test loss", "Epochs", "Best", "s/epoch", "Total s"):
        table.add_column(header, justify="left" if header == "System" else "right")
    notes = []
    for r in results:
        if r["note"]:
            notes.append(f"{r['name']}: {r['note']}")
        if not r["available"]:
            continue
        table.add_row(r["name"], _num(r["test_accuracy"], ".4f"), _num(r["test_loss"], ".4f"),
                      _num(r["epochs_run"], "d"), _num(r["best_epoch"], "d"),
                      _num(r["seconds_per_epoch"], ".2f"), _num(r["total_seconds"], ".1f"))
    return table, notes


def epoch_printer(console, epochs):
    """run_comparison's progress hook: one line per system and epoch."""
    def show(peer, epoch, logs):
        if epoch == 0:
            console.print(f"training {peer} ...", markup=False)
        else:
            console.print(f"{peer:>8} {epoch_line(epoch, epochs, logs)}", markup=False,
                          soft_wrap=True)
    return show


@contextlib.contextmanager
def _stderr_to_devnull():
    """Point file descriptor 2 at /dev/null for the duration (Python exceptions still rise)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def comparison_threads(cfg, n_features, n_outputs, asked=None):
    """The one thread count of a comparison: ``--threads``, else 1 when a batch's largest
    product is small (as nlayer itself chooses) and every core otherwise; never the
    machine's load, so a comparison can be repeated."""
    from nlayer.training.threads import SMALL_PRODUCT
    if asked is not None:
        if asked < 1:
            raise UserError(f"--threads must be a whole number >= 1, got {asked}")
        return asked
    widths = [n_features, *cfg["hidden"], n_outputs]
    largest = max(a * b for a, b in zip(widths, widths[1:]))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 1 if cfg["batch_size"] * largest < SMALL_PRODUCT else max(1, cores or 1)


def _load():
    """The 1-, 5- and 15-minute load averages (None where the system has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def preload_keras_quietly(threads=None):
    """Import Keras (and TensorFlow) before the comparison, without their start-up lines.

    TensorFlow's C++ start-up writes INFO lines (oneDNN, no CUDA driver) straight to
    stderr before its logging is set up, whatever TF_CPP_MIN_LOG_LEVEL says. Imported
    here with stderr silenced, the comparison's own ``import keras`` finds it loaded.
    A failed import is left to the comparison, which reports the peer as missing.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the log lines after start-up
    try:
        with _stderr_to_devnull():
            if threads is not None:  # before its runtime starts, or the counts are fixed
                from nlayer.compare.threads import tensorflow_threads
                tensorflow_threads(threads)
            import keras  # noqa: F401
    except Exception:  # not installed or broken: run_comparison says which, with the fix
        pass


def run(args, console):
    from nlayer.compare import run_comparison
    cfg = resolve(args)
    if cfg["csv"]:
        raise UserError("compare works on the built-in datasets; use --dataset")
    out = rundir.choose(args.out, f"compare-{cfg['dataset']}", args.overwrite)
    ds = load_dataset(cfg["dataset"], data_dir=cfg["data_dir"], download=cfg["download"],
                      test_size=data.TEST_SIZE, seed=data.SPLIT_SEED)
    arrays = split_and_normalise(ds, cfg)
    peers = peer_list(args.peers)
    threads = comparison_threads(cfg, arrays[0].shape[1], len(ds.class_names or ()) or 1,
                                 getattr(args, "threads", None))
    if "keras" in peers:
        preload_keras_quietly(threads)
    quiet = args.quiet or args.json
    if not quiet:
        console.print(f"nlayer compare: {ds.name}, systems: {' '.join(peers)}, {threads} "
                      "thread(s) each (BLAS, PyTorch, TensorFlow)", markup=False)
        if cfg["schedule"] != "constant" or cfg["weight_decay"]:
            console.print(f"note: compare trains every system with a constant rate "
                          f"lr={cfg['lr']:g} and no weight decay; the recipe's "
                          f"{cfg['schedule']} schedule and weight_decay are not used",
                          markup=False, soft_wrap=True)
    load_before = _load()
    with np.errstate(all="ignore"):
        results = run_comparison(make_spec(cfg), *arrays, peers=peers, threads=threads,
                                 progress=None if quiet else epoch_printer(console, cfg['epochs']))
    load_after = _load()
    results = [rundir.jsonable(r.to_dict()) for r in results]
    rundir.make(out)
    agreement = plots.comparison(out / "comparison.png",
                                 {r["name"]: r["history"] or {} for r in results if r["history"]})
    summary = {"dataset": ds.name, "config": cfg, "peers": peers, "results": results,
               "agreement": agreement, "threads": threads,
               "load": {"before": load_before, "after": load_after},
               "out": str(out), "files": list(FILES)}
    rundir.write_json(out / "comparison.json", summary)
    if args.json:
        report.print_json(summary)
        return 0
    table, notes = results_table(results)
    console.print(table)
    console.print(f"every system ran with {threads} thread(s); load average (1, 5, 15 min) "
                  f"before {load_before}, after {load_after}", markup=False, soft_wrap=True)
    for line in notes:
        console.print(line, markup=False, soft_wrap=True)
    console.print(f"wrote {out / 'comparison.png'} and {out / 'comparison.json'}",
                  markup=False, soft_wrap=True)
    return 0
