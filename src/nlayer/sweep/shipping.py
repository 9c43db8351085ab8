"""A trial's checkpoints on their way from its worker to the sweep's output directory.

Workers need no shared file system. A trial checkpoints into its temporary run
directory on the worker (every epoch, as ``nlayer train`` does, but at most every
:data:`SHIP_SECONDS`); after each save :class:`ShipCheckpoints` sends
``{"trial", "epoch", "restarted", "checkpoint": bytes}`` through a
``distributed.Queue`` whose name is unique to the sweep run (:class:`QueueSender`).
The client drains the queue while the trials run and :class:`Inbox` writes the newest
checkpoint of each unfinished trial to ``out/trials/<id>.partial/checkpoint.nlayer``
(atomically: a crash leaves the previous one). ``--resume`` sends that file back with
the trial, which continues from it. The client also keeps the newest checkpoint of
each running trial on the scheduler (a ``distributed.Variable``, see :func:`published`):
a trial that dask reruns after losing its worker continues from there instead of
from the start.

Messages go through the scheduler (dask's Queue holds msgpack data), which suits the
model files of MLPs (megabytes); a trial shorter than ``SHIP_SECONDS`` sends nothing
(its final checkpoint comes with its result).
"""

import contextlib
import os
from pathlib import Path

from nlayer.callbacks import Callback
from nlayer.runs.rundir import CHECKPOINT
from nlayer.saving import write_atomically

#: A trial checkpoints at most this often (seconds): an fsync and a message cost
#: ~10 ms, against a digits trial of about a second.
SHIP_SECONDS = 5.0


def partial_checkpoint(out, trial_id):
    """Where the client keeps the newest checkpoint of an unfinished trial."""
    return Path(out) / "trials" / f"{trial_id}.partial" / CHECKPOINT


class ShipCheckpoints(Callback):
    """After each checkpoint ``ModelCheckpoint`` writes to ``path``, ``send(epoch, bytes)``.

    It runs after the ModelCheckpoint (``runs_last``, placed after it) and notices a save
    by the file's identity (inode, size, modification time) changing since it last
    looked, at each epoch's end and at an interruption; ``epoch`` is the number of
    completed epochs the checkpoint holds. The save at the end of training (the last
    epoch, or an early stop) is not sent: the trial's result, with that very file,
    follows within moments, so a digits trial shorter than ``SHIP_SECONDS`` sends
    nothing. It also records where training began: ``epochs_before`` (0, or the epochs
    of the checkpoint resumed from). A failing ``send`` (the client gone) stops the
    shipping, not the trial: ``error`` says why.
    """

    runs_last = True

    def __init__(self, path, send=None):
        self.path, self.send = os.fspath(path), send
        self.began, self.epochs_before, self.error = False, None, None
        self._seen, self._epochs = None, None

    def on_train_begin(self, logs=None):
        self.began = True
        self.epochs_before = len(self.model.history.epoch)
        self._epochs = (logs or {}).get("epochs")
        self._seen = _identity(self.path)  # a checkpoint resumed from is not sent back

    def on_epoch_end(self, epoch, logs=None):
        if epoch != self._epochs and not self.model.stop_training:  # the end: not sent
            self._ship(epoch)

    def on_interrupt(self, epoch, batch):
        self._ship(epoch - 1)

    def _ship(self, epoch):
        if self.send is None:
            return
        seen = _identity(self.path)
        if seen is None or seen == self._seen:
            return
        self._seen = seen
        try:
            with open(self.path, "rb") as fh:
                data = fh.read()
            self.send(epoch, data)
        except Exception as exc:  # noqa: BLE001 -- the trial goes on without shipping
            self.error = error_text(exc)
            self.send = None


def error_text(exc):
    """An exception as the one line a trial's record keeps."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _identity(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class QueueSender:
    """``send(epoch, bytes)`` for :class:`ShipCheckpoints`: one message on the named queue.

    The worker's handle on the queue is made at the first message and released by
    :meth:`close` (dask counts the handles; the queue goes when the client and every
    trial have released theirs). ``restarted`` is set when the trial's checkpoint was
    refused and it trains from epoch 1: the client then replaces the refused file.
    """

    def __init__(self, name, trial_id):
        self.name, self.trial_id, self.restarted = name, trial_id, False
        self._queue = None

    def __call__(self, epoch, data):
        if self._queue is None:
            from distributed import Queue
            self._queue = Queue(self.name)
        self._queue.put({"trial": self.trial_id, "epoch": int(epoch),
                         "restarted": self.restarted, "checkpoint": data})

    def close(self):
        if self._queue is not None:
            with contextlib.suppress(Exception):  # the client or scheduler may be gone
                self._queue.close()
            self._queue = None


class Inbox:
    """The client's end: writes the newest checkpoint of each unfinished trial.

    Newest is the most completed epochs: a trial that dask reruns after losing its
    worker sends its early epochs again, and those never replace a later checkpoint of
    the same trial (both are points of one deterministic run). A message marked
    ``restarted`` (the trial's checkpoint was refused) replaces what is on disk once.
    """

    def __init__(self, out):
        self.out = Path(out)
        self.epochs = {}      # trial id -> epochs of the checkpoint on disk (this session)
        self.restarted = set()
        self.written = 0

    def take(self, messages, finished=(), publish=None):
        """Write the newest of ``messages`` per trial, except ``finished`` trials'; returns
        {trial id: bytes written}. ``publish(trial id, bytes)`` is called before each write
        (so that a checkpoint on disk has always been published)."""
        newest = {}
        for msg in messages:
            trial, epoch = msg["trial"], msg["epoch"]
            if trial in finished:
                continue
            if msg.get("restarted") and trial not in self.restarted:
                self.restarted.add(trial)
                self.epochs[trial] = -1
            if epoch > self.epochs.get(trial, -1):
                self.epochs[trial] = epoch
                newest[trial] = msg["checkpoint"]
        for trial, data in newest.items():
            if publish is not None:
                publish(trial, data)
            path = partial_checkpoint(self.out, trial)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, lambda fh, data=data: fh.write(data))
            self.written += 1
        return newest

    def drain(self, queue, finished=(), publish=None):
        """Take every message waiting on the dask ``queue`` (without waiting)."""
        return self.take(queue.get(batch=True), finished, publish)


def variable_name(queue_name, trial_id):
    """The name of the Variable that holds a running trial's newest checkpoint."""
    return f"{queue_name}-{trial_id}"


def index_name(queue_name):
    """The name of the Variable that lists the trials with a published checkpoint."""
    return f"{queue_name}-published"


def published(queue_name, trial_id):
    """On a worker: the newest checkpoint of the trial that the client published in this
    sweep run (the trial is a rerun after a lost worker), or None. Asking costs one
    round trip to the scheduler (two for a rerun); a failure to ask is no checkpoint."""
    from distributed import Variable
    try:
        if trial_id not in Variable(index_name(queue_name)).get(timeout=0):
            return None
        return Variable(variable_name(queue_name, trial_id)).get(timeout=0)
    except Exception:  # noqa: BLE001 -- the sweep ended meanwhile, the scheduler is gone...
        return None


@contextlib.contextmanager
def sender(queue_name, trial_id):
    """A QueueSender for ``queue_name`` (None outside dask: nothing is sent)."""
    if queue_name is None:
        yield None
        return
    send = QueueSender(queue_name, trial_id)
    try:
        yield send
    finally:
        send.close()
