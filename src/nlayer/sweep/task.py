"""What a worker runs for one trial: an ordinary ``nlayer train`` run on data already in memory.

The trial trains through ``nlayer.runs.train`` (the same ``build_model``, ``fit`` and run
directory as the command), in a temporary directory on the worker; the files come back
to the client with the result, so workers need no shared file system. Any error of
the trial (divergence, a bad combination of settings) is part of its result, never an
exception of the task: the sweep goes on.

The trial checkpoints as ``nlayer train`` does (every ``checkpoint_every`` epochs), but at
most every ``ship_seconds`` (:data:`~nlayer.sweep.shipping.SHIP_SECONDS`, 5 s), and each
checkpoint goes to the client through the sweep's queue (:mod:`nlayer.sweep.shipping`).
Given a checkpoint's bytes the trial continues from it; a checkpoint that no longer fits
(the base settings of the sweep file were edited, a damaged file) is set aside and the
trial trains from epoch 1, saying why in its record (``restart_reason``).

BLAS is limited to the worker's share of the cores it runs on (cores / worker threads on
that host): two workers on two cores each get one BLAS thread instead of fighting over two.
"""

import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from nlayer import saving
from nlayer.errors import CheckpointMismatchError

from . import shipping


def cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def blas_share(threads_on_host):
    """BLAS threads for one task when ``threads_on_host`` tasks run at once on this host."""
    return max(1, cores() // max(1, threads_on_host))


def _limit_blas(threads):
    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the limit is an optimisation; without it the trial still runs
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def worker_address():
    """The dask worker running this task, or "local" outside dask."""
    try:
        from distributed import get_worker
        return get_worker().address
    except (ImportError, ValueError):
        return "local"


def run_trial(trial, ds, host_threads=None, queue=None, checkpoint=None,
              ship_seconds=shipping.SHIP_SECONDS):
    """Train ``trial`` on the Dataset ``ds``; returns {"record": dict, "files": {name: bytes}}.

    ``host_threads`` maps a worker host to the number of task threads the cluster runs
    there; it sets this trial's BLAS share (None: no limit). ``queue`` names the sweep's
    ``distributed.Queue`` that each checkpoint is sent to (None: the trial only
    checkpoints in its temporary directory); ``checkpoint`` (bytes of a checkpoint of
    this trial) makes it continue from there: its record's ``resumed_from`` is that
    checkpoint's number of epochs, or ``restart_reason`` says why it was refused.

    A trial lost with its worker is run again by dask with these same arguments; it
    then continues from the newest checkpoint the lost worker had sent, which the client
    published on the scheduler (:func:`~nlayer.sweep.shipping.published`), if any.
    """
    started = time.perf_counter()
    if queue is not None:
        checkpoint = shipping.published(queue, trial.id) or checkpoint
    worker = worker_address()
    host = worker.split("://")[-1].rsplit(":", 1)[0]
    threads = None if host_threads is None else blas_share(host_threads.get(host, 1))
    summary, error, files, resumed_from, restart_reason = None, None, {}, None, None
    shipper = None
    with _limit_blas(threads), tempfile.TemporaryDirectory(prefix="nlayer-trial-") as tmp, \
            shipping.sender(queue, trial.id) as send:
        out = Path(tmp) / "run"
        try:
            if checkpoint is not None:
                try:
                    summary, shipper = _attempt(trial, ds, out, started, ship_seconds, send,
                                                checkpoint)
                    resumed_from = shipper.epochs_before
                except _Refused as refused:
                    restart_reason = refused.reason(out, trial)
                    if send is not None:
                        send.restarted = True
            if summary is None:
                summary, shipper = _attempt(trial, ds, out, started, ship_seconds, send)
        except Exception as exc:  # noqa: BLE001 -- recorded in the trial's row, the sweep goes on
            error = shipping.error_text(exc)
        if out.is_dir():
            files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}
    summary = summary or {}
    rec = record(trial, "ok" if error is None else "failed", error,
                 dev=summary.get("metrics", {}).get("dev"),
                 test=summary.get("metrics", {}).get("test"),
                 epochs=summary.get("epochs_run"), best_epoch=summary.get("best_epoch"),
                 resumed_from=resumed_from, restart_reason=restart_reason,
                 seconds=round(time.perf_counter() - started, 3), worker=worker,
                 blas_threads=threads, ship_error=None if shipper is None else shipper.error)
    return {"record": rec, "files": files}


#: What a trial's record holds besides its identity, status and error (None: unknown).
RECORD_FIELDS = ("dev", "test", "epochs", "best_epoch", "resumed_from", "restart_reason",
                 "seconds", "worker", "blas_threads", "ship_error")


def record(trial, status, error=None, **fields):
    """A trial's row of sweep.csv as a dict: every RECORD_FIELDS key, None unless given."""
    unknown = set(fields) - set(RECORD_FIELDS)
    if unknown:
        raise TypeError(f"record fields {sorted(unknown)} are not in RECORD_FIELDS")
    return {"trial": trial.id, "point": trial.point_id, "index": trial.index,
            "settings": trial.point, "seed": trial.seed, "status": status, "error": error,
            **{k: fields.get(k) for k in RECORD_FIELDS}}


class _Refused(Exception):
    """The checkpoint a trial was given cannot continue it (see :func:`_attempt`)."""

    def __init__(self, cause):
        super().__init__(str(cause))
        self.cause = cause

    def reason(self, out, trial):
        """The refusal in one line, naming the client's copy instead of the worker's."""
        text = shipping.error_text(self.cause)
        where = out / shipping.CHECKPOINT
        return text.replace(str(where), f"trials/{trial.id}.partial/{shipping.CHECKPOINT}")


def _attempt(trial, ds, out, started, ship_seconds, send, checkpoint=None):
    """One training of ``trial`` into a fresh ``out``; returns (summary, its shipper).

    With ``checkpoint`` it resumes from those bytes; raises _Refused when they cannot
    continue this trial: a damaged file or other settings (ModelFileError and the
    checkpoint's mismatch errors are ValueErrors raised before training starts), or
    callbacks that differ (CheckpointMismatchError, raised as training starts). The
    trial's settings are part of each of its checkpoints (the model's metadata), so a
    change the checkpoint module would accept (a constant learning rate, the patience)
    is refused too; only more epochs are accepted (the run is continued further).
    """
    from nlayer.runs import train

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    path = out / shipping.CHECKPOINT
    if checkpoint is not None:
        path.write_bytes(checkpoint)
        try:
            _require_same_settings(path, trial.cfg)
        except ValueError as exc:
            raise _Refused(exc) from exc
    shipper = shipping.ShipCheckpoints(path, send)
    model = train.build_model(trial.cfg, ds.task, train.n_outputs(ds))
    model.metadata = {"sweep_trial": {"id": trial.id, "config": trial.cfg}}  # in checkpoints
    try:
        summary = train.train_and_write(model, ds, trial.cfg, out, started=started,
                                        checkpoints=True, resume=checkpoint is not None,
                                        callbacks=[shipper], checkpoint_seconds=ship_seconds)
    except ValueError as exc:
        if checkpoint is not None and (isinstance(exc, CheckpointMismatchError)
                                       or not shipper.began):
            raise _Refused(exc) from exc
        raise
    return summary, shipper


def _require_same_settings(path, cfg):
    """Refuse a checkpoint whose trial settings differ from ``cfg`` (more epochs aside)."""
    metadata = saving.read(path)[0].get("metadata") or {}
    saved = (metadata.get("sweep_trial") or {}).get("config")
    if not isinstance(saved, dict):
        return  # not written by a sweep trial: the checkpoint module's checks only
    now = json.loads(json.dumps(cfg))
    changed = [k for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)
               and not (k == "epochs" and isinstance(saved.get(k), int) and now[k] > saved[k])]
    if changed:
        raise CheckpointMismatchError(
            f"cannot resume from {path}: the trial's settings changed since it was written ("
            + "; ".join(f"{k}: {now.get(k)!r} now, {saved.get(k)!r} in the checkpoint"
                        for k in changed) + ")")
