"""A run's summary: the dict ``summary.json`` holds (and ``--json`` prints)."""

import nlayer
from nlayer.training import threads

__all__ = ["epoch_metrics", "training_summary", "build"]


def epoch_metrics(history, epoch, prefix=""):
    """The logged metrics of ``epoch`` (1-based), without the prefix; {} if absent."""
    if not epoch:
        return {}
    out = {}
    for key, values in history.history.items():
        if key.startswith(prefix) and key not in ("lr", "seconds") and epoch <= len(values):
            name = key[len(prefix):]
            if prefix or not key.startswith("val_"):
                out[name] = values[epoch - 1]
    return out


def training_summary(history, stopper, interrupted, seconds):
    """Epoch bookkeeping: best and stopped epoch, which epoch's weights the model kept."""
    restored = stopper is not None and stopper.best_epoch is not None and \
        stopper.restore_best_weights
    weights_epoch = stopper.best_epoch if restored else history.stopped_epoch
    return {
        "epochs_run": len(history.epoch),
        "best_epoch": history.best_epoch,
        "stopped_epoch": history.stopped_epoch,
        "weights_epoch": weights_epoch,
        "early_stopped": stopper is not None and stopper.stopped_epoch is not None,
        "interrupted": bool(interrupted),
        "train_seconds": round(seconds, 3),
        # the numbers depend on them (float32 BLAS sums): see nlayer.training.threads
        "blas_threads": history.params.get("blas_threads"),
        "blas_kernel": threads.kernel(),
    }


def build(*, ds, cfg, history, test_metrics, training, run_dir):
    """Everything summary.json holds."""
    epoch = training["weights_epoch"]
    ensemble = training.get("ensemble")  # the merged model's own scores, not a member's
    train, dev = (epoch_metrics(history, epoch), epoch_metrics(history, epoch, "val_") or None) \
        if ensemble is None else (ensemble["train_metrics"], ensemble.get("dev_metrics"))
    return {
        "nlayer_version": nlayer.__version__,
        "dataset": ds.name, "task": ds.task, "source": ds.source,
        "n_features": ds.n_features, "class_names": ds.class_names,
        "rows": {"train_and_dev": int(len(ds.y_train)), "test": int(len(ds.y_test))},
        "metrics": {"train": train, "dev": dev, "test": test_metrics},
        **{f"test_{k}": v for k, v in test_metrics.items()},
        **training,
        "wall_seconds": None, "run_dir": str(run_dir), "files": [], "config": cfg,
    }
