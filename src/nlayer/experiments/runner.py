"""What every experiment shares: its data, a seeded training run through ``fit``, files.

Sizes (rows, epochs) come in three scales: ``quick`` (the tests: seconds), ``digits``
(the full digits set: under two minutes per experiment on 2 cores) and ``large``
(Fashion-MNIST or MNIST: a stratified subset of the official training rows, the
official test rows), see :data:`SCALES`.
"""

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import nlayer as nl
from nlayer.datasets import load_dataset
from nlayer.saving import atomic

from .verdicts import HOLDS, INCONCLUSIVE

SEEDS = (0, 1, 2)
#: rows used per scale: train (main runs), small (over-fitting runs), dev, test (at most)
SCALES = {
    "quick": {"train": 300, "small": 100, "dev": 200, "test": 300},
    "digits": {"train": 1100, "small": 300, "dev": 337, "test": 360},
    "large": {"train": 10000, "small": 1000, "dev": 2000, "test": 10000},
}


@dataclass
class Data:
    """Training, development and test rows in [0, 1]; ``pixel_scale`` maps back to raw pixels."""

    name: str
    X: np.ndarray
    y: np.ndarray
    X_small: np.ndarray
    y_small: np.ndarray
    X_dev: np.ndarray
    y_dev: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    pixel_scale: float
    note: str


def load(dataset="digits", quick=False, data_dir=None):
    """The experiment's data: disjoint train / dev rows drawn from the official training rows."""
    ds = load_dataset(dataset, data_dir=data_dir)
    scale = "quick" if quick else ("digits" if ds.name == "digits" else "large")
    n = SCALES[scale]
    rng = np.random.default_rng(1234)
    order = rng.permutation(len(ds.y_train))
    take_train = order[:n["train"]]
    take_dev = order[n["train"]:n["train"] + n["dev"]]
    take_small = take_train[:n["small"]]
    test = rng.permutation(len(ds.y_test))[:n["test"]]
    note = (f"{ds.name}: {len(take_train)} training rows ({len(take_small)} in the small "
            f"over-fitting set), {len(take_dev)} development rows, {len(test)} test rows "
            f"(scale '{scale}')")
    return Data(ds.name, ds.X_train[take_train], ds.y_train[take_train],
                ds.X_train[take_small], ds.y_train[take_small],
                ds.X_train[take_dev], ds.y_train[take_dev], ds.X_test[test], ds.y_test[test],
                float(ds.pixel_scale or 1.0), note)


@dataclass
class Context:
    """Where an experiment writes, its data, seeds and scale."""

    data: Data
    out: Path
    quick: bool = False
    seeds: tuple = SEEDS

    def pick(self, quick, digits, large):
        """A size for the current scale."""
        if self.quick:
            return quick
        return digits if self.data.name == "digits" else large


@dataclass
class Run:
    """One training run: its history, whether and where it diverged, its wall time."""

    history: object
    model: object
    seconds: float
    diverged: str | None = None
    times: list = field(default_factory=list, repr=False)  # cumulative seconds per epoch end

    @property
    def curve(self):
        return self.history.history if self.history is not None else {}


def mlp(hidden, activation="relu", init="auto", batchnorm=False, optimizer=None, l2=0.0,
        normalize=None):
    model = nl.MLP(hidden=hidden, activation=activation, init=init, batchnorm=batchnorm)
    model.compile(optimizer=optimizer or nl.SGD(lr=0.05, momentum=0.9), l2=l2,
                  metrics=["accuracy"], normalize=normalize)
    return model


def train(model, X, y, epochs, seed, dev=None, batch_size=64, callbacks=()):
    """``model.fit`` with ``dev`` as validation data; a diverged run is recorded, not raised."""
    start = time.perf_counter()
    with np.errstate(all="ignore"):
        try:
            history = model.fit(X, y, epochs=epochs, batch_size=batch_size, seed=seed,
                                validation_data=dev, callbacks=list(callbacks))
        except nl.TrainingDivergedError as exc:
            return Run(model.history, model, time.perf_counter() - start, diverged=str(exc))
    seconds = time.perf_counter() - start
    times = list(np.cumsum(history.history.get("seconds", [])))
    return Run(history, model, seconds, times=times)


def test_accuracy(model, data):
    with np.errstate(all="ignore"):
        return float(model.evaluate(data.X_test, data.y_test)["accuracy"])


def final(values):
    """The last finite value of a curve, or None."""
    values = [v for v in values or [] if v is not None and math.isfinite(v)]
    return values[-1] if values else None


def fmt(value, digits=4):
    if value is None:
        return "—"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{digits}g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else \
            f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return str(value)


def write_csv(path, rows):
    keys = list(dict.fromkeys(k for row in rows for k in row))
    atomic.write_csv(path, keys, [["" if row.get(k) is None else row.get(k) for k in keys]
                                  for row in rows])


def markdown_table(rows, keys=None):
    keys = keys or list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(row.get(k)) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Result:
    """What an experiment hands back: claims with verdicts, result rows, figures, notes."""

    name: str
    title: str
    claims: list
    rows: list = field(repr=False)  # long: the report shows them
    figures: list
    summary_rows: list | None = field(default=None, repr=False)  # the report's table (default: rows)
    notes: list = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def verdicts(self):
        return [c.verdict for c in self.claims]


def write_report(result, ctx, command):
    """results.csv and report.md of one experiment in ``ctx.out``."""
    write_csv(ctx.out / "results.csv", result.rows)
    lines = [f"# {result.title}", "", f"Data: {ctx.data.note}. Seeds: "
             f"{', '.join(map(str, ctx.seeds))}. Ran in {result.seconds:.1f} s wall, "
             f"{result.cpu_seconds:.1f} s CPU (all threads) on a shared 2-core machine.", "",
             f"Reproduce: `{command}`", "", "## Claims and verdicts", ""]
    for claim in result.claims:
        lines += [f"- **{claim.text}** — verdict: **{claim.verdict}** ({claim.reason}).",
                  f"  Measure: {claim.measure}.",
                  "  Per seed: " + "; ".join(f"seed {s}: {e}" for s, e in
                                             zip(ctx.seeds, claim.evidence)) + "."]
    lines += ["", "## Numbers", "", markdown_table(result.summary_rows or result.rows), ""]
    for note in result.notes:
        lines += [note, ""]
    if result.figures:
        lines += ["## Figures", ""] + [f"![{f}]({f})" for f in result.figures] + [""]
    atomic.write_text(ctx.out / "report.md", "\n".join(lines))


def overall(verdicts):
    """One word for several claims' verdicts (used by the index of ``all``)."""
    return HOLDS if all(v == HOLDS for v in verdicts) else \
        (verdicts[0] if len(set(verdicts)) == 1 else INCONCLUSIVE)
