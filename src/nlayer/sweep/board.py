"""The sweep's sessions of TensorBoard's HParams dashboard (``nlayer sweep --tensorboard``):
one run per finished trial in ``out/tensorboard/<trial id>``, holding its swept settings and
seed as hyper-parameters and its final dev and test metrics, so the trials compare there
(``tensorboard --logdir out/tensorboard``). The client writes them from the trials' records,
so workers need no shared file system and no tensorboardX."""

import shutil
from pathlib import Path

from nlayer.callbacks.tensorboard import write_hparams
from nlayer.runs.rundir import TENSORBOARD

__all__ = ["write_sessions", "session_dir", "hparams_of", "metrics_of"]


def session_dir(out, trial_id):
    return Path(out) / TENSORBOARD / trial_id


def hparams_of(rec):
    return {**rec["settings"], "seed": rec["seed"]}


def metrics_of(rec):
    """dev_<metric> and test_<metric> of the trial, and the epochs it ran."""
    metrics = {f"{split}_{k}": v for split in ("dev", "test")
               for k, v in sorted((rec.get(split) or {}).items())}
    return {**metrics, "epochs": rec.get("epochs")}


def write_sessions(out, records):
    """A session for every trial of ``records`` that finished ("ok") and has none yet; each
    written beside its place and renamed into it, so a crash leaves none or a whole one."""
    for rec in records:
        final = session_dir(out, rec["trial"])
        if rec["status"] != "ok" or final.exists():
            continue
        partial = final.with_name(final.name + ".partial")
        if partial.exists():
            shutil.rmtree(partial)  # from a sweep killed while writing it
        write_hparams(partial, hparams_of(rec), metrics_of(rec))
        partial.rename(final)
