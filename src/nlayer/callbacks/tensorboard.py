"""TensorBoard: event files for TensorBoard's dashboards, named as Keras's callback names them.

Written with tensorboardX (``pip install "nlayer[tensorboard]"``), with neither TensorFlow
nor PyTorch needed; ``tensorboard --logdir LOG_DIR`` shows them. Under ``log_dir``::

    train/          epoch_loss, epoch_<metric> (with L2 also epoch_data_loss and
                    epoch_l2_penalty) and epoch_learning_rate, at step = the epoch (from 1,
                    as in History); every ``histogram_freq`` epochs (the first included) the
                    histograms <layer>/<weight> (kernel, bias; BatchNorm gamma, beta,
                    moving_mean, moving_variance) and, with a LayerMonitor in the same fit,
                    <layer>/dW, <layer>/dZ and <layer>/A of its latest sampled step in that
                    epoch (up to 2,048 evenly spaced values each, in the monitor's units)
    validation/     the same epoch_ scalars of the development set (History's val_ keys)
    train_batches/  batch_loss every ``update_freq`` batches, and the LayerMonitor's
                    statistics <layer>/<stat> (grad_rms, dz_rms, update_ratio, ...), at
                    step = the training step, counted from 1 across epochs

Train and validation share tags, so TensorBoard draws both in one chart, as with Keras.
Batch-level data have a run of their own (Keras writes them into train/) so that each run
counts one kind of step: a resumed fit tells TensorBoard to drop whatever each run holds
from where the checkpoint stood on (``purge_step``), which would cut the other kind too.

The event files are append-only logs written by tensorboardX, not atomically as nlayer's
own files are; a crash leaves at most a cut last record, which TensorBoard's reader skips.
"""

import os
import time
from pathlib import Path
from typing import Any, cast

from ..utils.checks import is_real, is_whole
from .base import Callback
from .layer_monitor import STAT_KEYS, LayerMonitor
from .optional import require

__all__ = ["TensorBoard", "write_hparams", "RUNS"]

#: the runs (sub-directories of log_dir) the callback writes
RUNS = ("train", "validation", "train_batches")
#: History keys that are no measurement of the model (the epoch's wall time)
SKIPPED = ("seconds",)


class TensorBoard(Callback):
    """Write scalars and histograms of ``fit`` for TensorBoard into ``log_dir``.

    ``histogram_freq``: histograms every that many epochs (0: none). ``update_freq``:
    ``"epoch"`` writes scalars at each epoch's end; ``"batch"`` or a whole number N also
    writes the training batch's loss every N batches.

    Parameters
    ----------
    log_dir : str or path-like, default "logs"
    histogram_freq : int, default 1
        >= 0.
    update_freq : "epoch", "batch" or int, default "epoch"

    Raises
    ------
    TypeError
        If ``log_dir`` is not a folder path.
    ValueError
        If ``histogram_freq`` or ``update_freq`` is not one of the values above.
    ImportError
        When training begins, if tensorboardX is missing.

    Examples
    --------
    >>> model.fit(X, y, epochs=10, callbacks=[nl.TensorBoard("logs/run1")])  # doctest: +SKIP
    """

    def __init__(self, log_dir: str | os.PathLike[str] = "logs", histogram_freq: int = 1,
                 update_freq: str | int = "epoch") -> None:
        try:
            self.log_dir = Path(os.fspath(log_dir))
        except TypeError:
            raise TypeError(f"log_dir must be a folder path (str or Path), got "
                            f"{type(log_dir).__name__} {log_dir!r}") from None
        if not is_whole(histogram_freq, 0):
            raise ValueError(f"histogram_freq must be a whole number of epochs >= 0 (0: no "
                             f"histograms), got {histogram_freq!r}")
        self.histogram_freq = int(histogram_freq)
        self.update_freq = _batches(update_freq)
        self.needs_batch_end = self.update_freq is not None  # else fit skips the hook
        self._writers: dict[str, Any] = {}  # tensorboardX SummaryWriters, by run
        self._monitor: LayerMonitor | None = None
        self._steps, self._rows = 1, 0
        self._purge: dict[str, int] = {}

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._summary_writer = require("tensorboardX", "tensorboard", "nl.TensorBoard").SummaryWriter
        state = self.model._fit_state
        self._steps = (logs or {}).get("steps") or state.n_batches
        self._monitor = next((cb for cb in state.callbacks if isinstance(cb, LayerMonitor)), None)
        self._rows = len(self.model.history.layer_stats)  # a resumed fit's rows were written
        resumed = state.epoch > 1 or state.batch > 0
        self._purge = {} if not resumed else {  # what the checkpoint's run did not reach
            "train": state.epoch, "validation": state.epoch,
            "train_batches": self._step(state.epoch, state.batch + 1)}
        self._writers = {}

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        logs = cast("dict[str, Any]", logs)  # fit passes every batch's logs
        step = self._step(logs["epoch"], batch)
        if step % self.update_freq == 0:
            self._writer("train_batches").add_scalar("batch_loss", float(logs["loss"]), step)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for key, value in (logs or {}).items():
            if key in SKIPPED or not is_real(value):
                continue
            run, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            tag = "epoch_learning_rate" if name == "lr" else f"epoch_{name}"
            self._writer(run).add_scalar(tag, float(value), epoch)
        self._write_monitor_rows()
        if self.histogram_freq and (epoch - 1) % self.histogram_freq == 0:
            self._write_histograms(epoch)
        self._flush()  # visible to a TensorBoard watching the run, and kept if fit dies

    def on_interrupt(self, epoch: int, batch: int) -> None:
        self._write_monitor_rows()
        self._flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # -- writing ---------------------------------------------------------------------
    def _step(self, epoch, batch):
        """The training step of ``batch`` (from 1) of ``epoch``, counted from 1 across epochs."""
        return (epoch - 1) * self._steps + batch

    def _writer(self, run):
        if run not in self._writers:  # the file name has the time in seconds: the suffix
            # keeps a second file of the same second apart and after the first
            self._writers[run] = self._summary_writer(
                str(self.log_dir / run), purge_step=self._purge.get(run),
                filename_suffix=f".{time.time_ns()}")
        return self._writers[run]

    def _flush(self):
        for writer in self._writers.values():
            writer.flush()

    def _write_monitor_rows(self):
        """The LayerMonitor's rows recorded since the last call, one scalar per statistic."""
        rows = self.model.history.layer_stats
        for row in rows[self._rows:]:
            step = self._step(row["epoch"], row["batch"])
            for stat in STAT_KEYS[3:]:  # after epoch, batch and layer
                if row[stat] is not None:
                    self._writer("train_batches").add_scalar(f"{row['layer']}/{stat}",
                                                              float(row[stat]), step)
        self._rows = len(rows)

    def _write_histograms(self, epoch):
        writer = self._writer("train")
        for layer in self.model.layers:
            for name in layer.weight_names:
                writer.add_histogram(f"{layer.name}/{name}", layer.params[name], epoch)
        samples = self._monitor.step_samples if self._monitor is not None else None
        if samples is None or samples["epoch"] != epoch:
            return  # the monitor sampled no step in this epoch
        for layer_name, arrays in samples["layers"].items():
            for key, values in arrays.items():
                if values is not None and values.size:
                    writer.add_histogram(f"{layer_name}/{key}", values, epoch)


def _batches(update_freq):
    """None for "epoch", else every how many batches the batch loss is written."""
    if update_freq == "epoch":
        return None
    if update_freq == "batch":
        return 1
    if is_whole(update_freq, 1):
        return int(update_freq)
    raise ValueError(f"update_freq must be 'epoch', 'batch' or a whole number of batches >= 1, "
                     f"got {update_freq!r}")


def write_hparams(log_dir, hparams, metrics):
    """One session of TensorBoard's HParams dashboard in ``log_dir``: the settings ``hparams``
    (numbers, strings, booleans; lists are written as text) and the final ``metrics``
    (numbers, also written as scalars at step 0). Used by ``nlayer sweep --tensorboard``."""
    user = "TensorBoard's HParams"
    summary, tbx = require("tensorboardX.summary", "tensorboard", user), \
        require("tensorboardX", "tensorboard", user)
    values = {k: " ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
              for k, v in hparams.items() if v is not None}
    metrics = {k: float(v) for k, v in metrics.items() if is_real(v)}
    experiment, start, end = summary.hparams(values, metrics)
    with tbx.SummaryWriter(str(log_dir)) as writer:
        for part in (experiment, start, end):
            writer.file_writer.add_summary(part)
        for key, value in metrics.items():
            writer.add_scalar(key, value, 0)
