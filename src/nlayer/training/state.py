"""Where a ``fit`` is: its position, generators and running totals, for checkpoints.

``Sequential.fit`` keeps one :class:`FitState` while it trains. A checkpoint
(:mod:`nlayer.saving.checkpoint`) stores what it holds, and ``fit(resume_from=...)``
puts it back, so a resumed run draws the same batches and dropout masks and
reports the same epoch averages as the run that was never interrupted.
"""

import numpy as np

__all__ = ["FitState", "Totals"]


class FitState:
    """Where ``fit`` is: with the model and callbacks, what a checkpoint needs to continue.

    ``epoch`` is the current epoch and ``batch`` how many of its ``n_batches`` are
    done; ``shuffle_state`` is the shuffling generator's state when the epoch
    drew its row order, ``totals`` the epoch's running loss and metric sums.
    """

    def __init__(self, model, epochs, batch_size, rows, shuffle_rng, dropout_rng, callbacks,
                 augment=None, augment_rng=None, adversarial=None):
        self.model, self.epochs, self.batch_size = model, epochs, batch_size
        self.rows, self.n_batches = rows, -(-rows // batch_size)  # fit may join a 1-row tail
        self.shuffle_rng, self.dropout_rng, self.callbacks = shuffle_rng, dropout_rng, callbacks
        self.augment, self.augment_rng = augment, augment_rng  # augment_rng used with augment
        self.adversarial = adversarial  # fit's epsilon, or None
        self.epoch, self.batch, self.epoch_ended, self.interrupting = 1, 0, False, False
        self.shuffle_state, self.totals = None, None
        self.describe, self._settings = dict, None  # fit sets describe (see settings)
        self.blas_threads = None  # fit sets it once its BLAS limit is in place

    @property
    def settings(self):
        """The fit settings and data fingerprints, worked out on first use (checkpoints)."""
        if self._settings is None:
            self._settings = self.describe()
        return {**self._settings, "blas_threads": self.blas_threads}

    def position(self):
        """The next batch to run: (epoch, batches done), and whether training stops there."""
        stopped = self.epoch_ended and self.model.stop_training and not self.interrupting
        if self.epoch_ended:
            return {"epoch": self.epoch + 1, "batch": 0, "stopped": stopped}
        return {"epoch": self.epoch, "batch": self.batch, "stopped": False}

    def epoch_shuffle_state(self):
        """The shuffling state from which the position's epoch draws (or drew) its order."""
        if self.shuffle_rng is None:
            return None
        return self.shuffle_rng.bit_generator.state if self.epoch_ended else self.shuffle_state

    def generator_states(self):
        """The generators' states a checkpoint records: shuffling's from the epoch's
        start, the others' now."""
        states = {"shuffle": self.epoch_shuffle_state(),
                  "dropout": self.dropout_rng.bit_generator.state}
        if self.augment is not None:
            states["augment"] = self.augment_rng.bit_generator.state
        return states

    def totals_state(self):
        if self.epoch_ended or self.totals is None:
            return None
        t = self.totals
        return {"loss": t.loss, "rows": t.rows, "penalty": t.penalty, "stats": list(t.stats)}

    def resume(self, section):
        """Continue from a checkpoint's position, generators and running totals."""
        position, rng = section["position"], section["rng"]
        self.epoch, self.batch = position["epoch"], position["batch"]
        if self.shuffle_rng is not None:
            self.shuffle_rng.bit_generator.state = self.shuffle_state = rng["shuffle"]
        self.dropout_rng.bit_generator.state = rng["dropout"]
        if self.augment is not None:  # the settings matched: the checkpoint has its state
            self.augment_rng.bit_generator.state = rng["augment"]
        if self.batch:
            saved = section["totals"]
            self.totals = self.model._totals()
            self.totals.loss, self.totals.rows = saved["loss"], saved["rows"]
            self.totals.penalty = saved.get("penalty", 0.0)  # 0.1.0's checkpoints lack it
            self.totals.stats = list(saved["stats"])


class Totals:
    """Sums the loss and metric statistics of batches weighted by their rows."""

    def __init__(self, metrics, unscale=None, penalised=False):
        self.metrics = metrics
        self.unscale = unscale if metrics else None  # metrics in the targets' original units
        self.loss, self.rows, self.penalty = 0.0, 0, 0.0
        self.penalised = penalised  # J holds an L2 penalty: results give it and the data loss
        self.stats = [None] * len(metrics)

    def add(self, J, A, Y, weights=None, penalty=0.0):
        """Add a batch whose (weighted) mean loss is J, of which ``penalty`` is the L2 term;
        ``weights``: its rows' w_i."""
        rows = A.shape[0] if weights is None else float(weights.sum(dtype=np.float64))
        self.loss += J * rows
        self.penalty += penalty * rows
        self.rows += rows
        if self.unscale is not None:
            A, Y = self.unscale(A), self.unscale(Y)
        for i, m in enumerate(self.metrics):
            s = m.stats(A, Y, weights)
            self.stats[i] = s if self.stats[i] is None else self.stats[i] + s

    def results(self):
        """``loss`` (J, the mean over rows), the metrics, and with an L2 penalty
        ``data_loss`` and ``l2_penalty`` (their sum is ``loss``)."""
        logs = {"loss": self.loss / self.rows if self.rows else float("nan")}
        if self.penalised:
            penalty = self.penalty / self.rows if self.rows else float("nan")
            logs["data_loss"], logs["l2_penalty"] = logs["loss"] - penalty, penalty
        for m, s in zip(self.metrics, self.stats):
            logs[m.name] = m.result(s) if s is not None else float("nan")
        return logs
