"""Running a sweep's trials on a dask cluster and writing its output directory.

``out/`` holds ``trials/<trial id>/`` (each an ordinary run directory plus
``trial.json``, written by the client when the trial's result arrives, through a
``.partial`` folder renamed into place), then ``sweep.csv``, ``best.toml`` and
``sweep.png`` for the trials finished so far. While a trial runs, its newest
checkpoint (sent by its worker at most every ``checkpoint_seconds``) is kept in
``trials/<trial id>.partial/checkpoint.nlayer`` (:mod:`nlayer.sweep.shipping`).

A resumed sweep reads the ``trial.json`` files and submits only the trials without
one, each with its ``.partial`` checkpoint if it has one: such a trial continues from
that epoch and ends exactly as if never interrupted (``resumed_from`` in its record),
or trains from epoch 1 if the checkpoint no longer fits (``restart_reason``). A trial
that failed in training is a result and is not rerun (delete its folder to rerun it),
while a trial lost with its worker is rerun by dask (the scheduler moves it to another
worker, up to ``distributed.scheduler.allowed-failures`` times): it continues from the
newest checkpoint its lost worker had sent (published on the scheduler), else from the
one it was submitted with, else from epoch 1.
"""

import contextlib
import json
import shutil
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from nlayer.runs import rundir
from nlayer.saving.atomic import write_bytes, write_text

from . import board, figure, results, shipping, task
from .trials import expand

INSTALL = "nlayer sweep needs dask.distributed: pip install 'nlayer[cluster]'"
LOCALHOST = "127.0.0.1"
ARRAYS = "arrays"  # the Dataset name of arrays given to nlayer.sweep.run
#: Variables that fix the BLAS/OpenMP thread count when a worker process starts.
BLAS_ENVIRON = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: How often the client looks for finished trials and shipped checkpoints (seconds).
POLL_SECONDS = 0.05


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError(INSTALL) from None
    return distributed


@contextlib.contextmanager
def connect(client=None, scheduler=None, workers=None, blas_threads=None):
    """A dask Client: the one given, one for ``scheduler`` (an address), or a LocalCluster.

    The LocalCluster has ``workers`` single-threaded worker processes (default: one per
    core) listening on 127.0.0.1 only (its dashboard too); it is closed on exit. Its
    workers start with BLAS at their share of the cores (``blas_threads``, default
    cores / workers): dask's nanny would otherwise start them at one thread each. Its
    active memory manager is off: it would drop the copies of the data scattered to
    every worker down to those that trials still wait for, and a worker lost with the
    only copy would lose the trials that depend on it instead of rerunning them. Its
    workers' statistical profiler (for the dashboard's profile page) is off: sampling
    the trial's thread every 10 ms made the trials about 3 % slower.
    """
    if client is not None:
        yield client
        return
    distributed = _distributed()
    import dask
    if scheduler:
        with distributed.Client(scheduler, timeout="20s") as own:
            yield own
        return
    n = workers or task.cores()
    share = blas_threads or task.blas_share(n)
    settings = {f"distributed.nanny.pre-spawn-environ.{name}": share for name in BLAS_ENVIRON}
    settings["distributed.scheduler.active-memory-manager.start"] = False
    settings["distributed.worker.profile.enabled"] = False  # its sampling thread slows trials
    with dask.config.set(settings):
        cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                           host=LOCALHOST, dashboard_address=f"{LOCALHOST}:0",
                                           silence_logs=40)
    with cluster, distributed.Client(cluster) as own:
        yield own


def host_threads(client):
    """Task threads per worker host: each trial's BLAS share is cores / that number."""
    counts = {}
    for address, info in client.scheduler_info(n_workers=-1)["workers"].items():
        host = address.split("://")[-1].rsplit(":", 1)[0]
        counts[host] = counts.get(host, 0) + info.get("nthreads", 1)
    return counts


@dataclass
class Progress:
    """What a progress display needs after every event."""

    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    running: int = 0
    best: dict | None = None
    last: dict | None = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def finished(self):
        return self.skipped + self.done

    @property
    def eta(self):
        """Seconds left at this session's pace, None before the first trial."""
        if not self.done:
            return None
        elapsed = time.perf_counter() - self.started
        return elapsed / self.done * (self.total - self.finished)


def finished_records(out):
    """trial.json of every trial already in ``out/trials`` (for ``--resume``)."""
    records = {}
    for path in sorted((Path(out) / "trials").glob("*/trial.json")):
        if path.parent.name.endswith(".partial"):
            continue  # a trial whose saving was cut short: it runs again
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # unreadable: the trial runs again
        records[rec.get("trial")] = rec
    return records


def save_trial(out, result):
    """The trial's run directory and trial.json, renamed into place when complete."""
    rec = result["record"]
    trials_dir = Path(out) / "trials"
    final, partial = trials_dir / rec["trial"], trials_dir / f"{rec['trial']}.partial"
    if partial.exists():
        shutil.rmtree(partial)  # a half-written copy of this very trial from a crashed run
    partial.mkdir(parents=True)
    for name, data in result["files"].items():
        write_bytes(partial / name, data)
    rundir.write_json(partial / "trial.json", rec)
    if final.exists():  # a rerun of a trial whose earlier result was unreadable
        shutil.rmtree(final)
    partial.rename(final)


def write_outputs(out, spec, trials, records, metric, with_data=True):
    """sweep.csv, best.toml and sweep.png from the records so far; returns (table, ranked).

    ``with_data=False`` (arrays given to ``nlayer.sweep.run``) leaves the data settings out
    of best.toml: they would name a dataset the sweep did not use.
    """
    table = results.rows(records, spec.swept)
    results.write_csv(Path(out) / "sweep.csv", table)
    ranked = results.points(records, metric)
    top = results.best(records, metric)
    if top is not None:
        write_text(Path(out) / "best.toml",
                          results.best_toml(top, trials, metric, len(spec.seeds), with_data))
        figure.draw(Path(out) / "sweep.png", ranked, spec.swept, metric)
    return table, ranked


def _lost(trial, exc):
    """A record for a trial the cluster could not finish (not saved: --resume reruns it)."""
    return task.record(trial, "lost", shipping.error_text(exc))


class Published:
    """The newest checkpoint of each running trial, kept on the scheduler for a rerun.

    One ``distributed.Variable`` per trial that sent a checkpoint, and an index of those
    trials (so that a worker asks for a trial's Variable only when it exists: the
    scheduler logs an error for each Variable asked for in vain), all named from the
    sweep's queue (:mod:`nlayer.sweep.shipping`). A trial that dask reruns after losing
    its worker reads it (:func:`nlayer.sweep.shipping.published`). A trial's Variable is
    deleted when its result arrives, all of them when the sweep ends.
    """

    def __init__(self, distributed, client, queue_name):
        self.distributed, self.client, self.queue_name = distributed, client, queue_name
        self.index = distributed.Variable(shipping.index_name(queue_name), client=client)
        self.index.set([])
        self.variables = {}

    def publish(self, trial_id, data):
        if trial_id not in self.variables:
            self.variables[trial_id] = self.distributed.Variable(
                shipping.variable_name(self.queue_name, trial_id), client=self.client)
            self.variables[trial_id].set(data)
            self.index.set(sorted(self.variables))
        else:
            self.variables[trial_id].set(data)

    def forget(self, trial_id):
        variable = self.variables.pop(trial_id, None)
        if variable is not None:
            with contextlib.suppress(Exception):  # the scheduler may be gone
                self.index.set(sorted(self.variables))
                variable.delete()

    def close(self):
        for trial_id in list(self.variables):
            self.forget(trial_id)
        with contextlib.suppress(Exception):
            self.index.delete()


class Sweep:
    """One sweep of ``spec`` over the Dataset ``ds`` into ``out``.

    Each trial checkpoints at most every ``checkpoint_seconds`` (default
    :data:`~nlayer.sweep.shipping.SHIP_SECONDS`); ``resume`` continues ``out``. With
    ``tensorboard`` each finished trial gets its HParams session (:mod:`.board`).
    """

    def __init__(self, spec, ds, out, resume=False, limit_blas=True,
                 checkpoint_seconds=shipping.SHIP_SECONDS, tensorboard=False):
        self.spec, self.ds, self.out = spec, ds, Path(out)
        self.tensorboard = tensorboard
        self.limit_blas = limit_blas  # False only to measure oversubscription (benchmark)
        self.checkpoint_seconds = checkpoint_seconds
        self.metric = spec.metric_for(ds.task)
        self.trials = expand(spec)
        self.records = finished_records(self.out) if resume else {}
        ids = {t.id for t in self.trials}
        self.records = {k: v for k, v in self.records.items() if k in ids}
        self.lost = {}  # trials the cluster could not finish: in the table, rerun on --resume
        self.ran = []   # the records of the trials run by this session
        self.interrupted = False
        self.inbox = shipping.Inbox(self.out)

    @property
    def todo(self):
        return [t for t in self.trials if t.id not in self.records]

    def checkpoint_of(self, trial):
        """The bytes of the trial's newest shipped checkpoint in ``out``, or None."""
        path = shipping.partial_checkpoint(self.out, trial.id)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def run(self, client, on_progress=None):
        """Submit the unfinished trials and collect them as they finish; returns the table.

        While they run, their checkpoints are written to ``out`` as they arrive (the
        client polls every POLL_SECONDS: results and checkpoints are written by this one
        thread, so a finished trial's folder is never written to again). Ctrl-C writes
        the checkpoints already sent, cancels the trials still queued or running and
        still writes the outputs of those finished (``--resume`` runs the rest).
        """
        (self.out / "trials").mkdir(parents=True, exist_ok=True)
        todo = self.todo
        if not todo:  # a resumed sweep that had finished: only the outputs again
            return self._outputs()
        distributed = _distributed()
        state = Progress(total=len(self.trials), skipped=len(self.records))
        state.best = results.best(list(self.records.values()), self.metric)
        threads = host_threads(client)
        shares = threads if self.limit_blas else None
        futures = {}
        token = uuid.uuid4().hex
        queue = distributed.Queue(f"nlayer-sweep-{token}", client=client)
        newest = Published(distributed, client, queue.name)
        try:
            # a key of its own: the same data's key, released by a sweep that just ended
            # on this client, could be forgotten by the scheduler after this scatter
            [data] = client.scatter([self.ds], broadcast=True, hash=False)
            futures = {client.submit(task.run_trial, t, data, shares, queue=queue.name,
                                     checkpoint=self.checkpoint_of(t),
                                     ship_seconds=self.checkpoint_seconds,
                                     key=f"{t.key}-{token[:8]}", pure=False): t for t in todo}
            pending = set(futures)
            slots = sum(threads.values()) or 1
            finished = distributed.as_completed(futures)
            while not finished.is_empty():
                ready = finished.next_batch(block=False)
                for fut in ready:
                    pending.discard(fut)
                    rec = self._collect(fut, futures[fut])
                    newest.forget(rec["trial"])
                    state.done += 1
                    state.failed += rec["status"] != "ok"
                    state.running = min(len(pending), slots)
                    state.last = rec
                    state.best = results.best(list(self.records.values()), self.metric)
                    if on_progress is not None:
                        on_progress(replace(state))  # a snapshot: callers may keep it
                self.inbox.drain(queue, self.records, newest.publish)
                if not ready:
                    time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            self.interrupted = True
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: stop at once
                self.inbox.drain(queue, self.records)  # before cancelling: the newest on disk
            client.cancel(list(futures))
        finally:
            newest.close()
            queue.close()
        return self._outputs()

    def _collect(self, fut, trial):
        """The record of a finished future, its run directory saved (or why it was lost)."""
        try:
            result = fut.result()
        except Exception as exc:  # noqa: BLE001 -- e.g. KilledWorker after retries
            rec = self.lost[trial.id] = _lost(trial, exc)
        else:
            save_trial(self.out, result)
            rec = self.records[trial.id] = result["record"]
            if self.tensorboard:
                board.write_sessions(self.out, [rec])
        self.ran.append(rec)
        return rec

    def _outputs(self):
        if self.tensorboard:  # also the trials an earlier session ran without --tensorboard
            board.write_sessions(self.out, self.records.values())
        return write_outputs(self.out, self.spec, self.trials,
                             [*self.records.values(), *self.lost.values()], self.metric,
                             with_data=self.ds.name != ARRAYS)
