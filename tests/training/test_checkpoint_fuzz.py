"""Damaged checkpoints, re-signed so that the digest holds: every one either resumes or is
refused with a ModelFileError or CheckpointMismatchError, never another exception, a hang or a
run that 'resumes' from a position the recorded run could not have reached."""

import copy
import math
import os

import numpy as np
import pytest

import checkpoint_run as run  # tests/helpers
import nlayer as nl
from nlayer import saving

N_CASES = int(os.environ.get("NLAYER_CHECKPOINT_FUZZ_N", "300"))
REPLACEMENTS = [None, "x", -1, 0, 10 ** 30, 10 ** 12, 1e300, math.nan, math.inf, [], {}, True,
                [1, 2], {"a": 1}, 2.5]


class StopAt(nl.Callback):
    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, batch, logs=None):
        if self.model._fit_state.epoch == self.epoch and batch == self.batch:
            self.model.stop_training = True


def callbacks(path):
    return [nl.EarlyStopping(patience=3),
            nl.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1),
            nl.LayerMonitor(every_batches=7), nl.ModelCheckpoint(path, every_batches=1000)]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A real checkpoint in the middle of epoch 3: (header, arrays) as stored."""
    path = tmp_path_factory.mktemp("fuzz") / "ck.nlayer"
    X, y = run.data()
    model = run.model("sgd")
    model.fit(X, y, epochs=run.EPOCHS, batch_size=run.BATCH, validation_split=0.2, seed=3,
              callbacks=[StopAt(3, 4), *callbacks(path)])
    return saving.read(path)


def _paths(value, prefix=()):
    """Every place in a JSON value (dict keys and list positions), depth first."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def damage(section, rng):
    """The section with one place deleted or replaced by a value of another kind."""
    section = copy.deepcopy(section)
    places = [p for p in _paths(section) if p]
    place = places[rng.integers(len(places))]
    parent = section
    for key in place[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and rng.random() < 0.3:
        del parent[place[-1]]
        return section, f"del {place}"
    new = REPLACEMENTS[rng.integers(len(REPLACEMENTS))]
    parent[place[-1]] = new
    return section, f"{place} = {new!r}"


def test_every_damaged_checkpoint_resumes_or_is_refused_by_name(tmp_path, checkpoint):
    header, arrays = checkpoint
    rng = np.random.default_rng(0)
    X, y = run.data()
    outcomes = {"resumed": 0, "refused": 0}
    for case in range(N_CASES):
        section, what = damage(header["checkpoint"], rng)
        path = tmp_path / f"case{case}.nlayer"
        extra = {k.removeprefix("ckpt_"): v for k, v in arrays.items() if k.startswith("ckpt_")}
        saved = nl.Sequential.from_file_contents(path, header, arrays)
        saving.save(saved, path, checkpoint=(section, extra))  # re-signed: the digest holds
        try:
            run.model("sgd").fit(X, y, epochs=run.EPOCHS, batch_size=run.BATCH,
                                 validation_split=0.2, seed=3, callbacks=callbacks(path),
                                 resume_from=path)
            outcomes["resumed"] += 1
        except (nl.ModelFileError, nl.CheckpointMismatchError):
            outcomes["refused"] += 1
        except Exception as exc:  # pragma: no cover - the failure this test exists for
            pytest.fail(f"case {case} ({what}): {type(exc).__name__}: {exc}")
        path.unlink()
    assert outcomes["refused"] > N_CASES // 2 and sum(outcomes.values()) == N_CASES


def _state(section, name):
    return next(c["state"] for c in section["callbacks"] if c["class"] == name)


@pytest.mark.parametrize("change, words", [
    (lambda s: s["position"].update(epoch=10 ** 30), "position"),
    (lambda s: s["position"].update(batch=10 ** 12), "position"),
    (lambda s: s["settings"].update(rows=-5), "settings"),
    (lambda s: s["totals"].update(loss=math.nan), "running totals"),
    (lambda s: s["totals"].update(stats=[]), "running totals"),
    (lambda s: s["settings"].pop("seed"), "settings"),
    (lambda s: s["rng"].update(shuffle=None), "generator state"),
    (lambda s: _state(s, "EarlyStopping").pop("wait"), "state of EarlyStopping"),
    (lambda s: _state(s, "EarlyStopping").update(wait="three"), "state of EarlyStopping"),
    (lambda s: _state(s, "ReduceLROnPlateau").update(best="low"), "state of ReduceLROnPlateau"),
    (lambda s: _state(s, "LayerMonitor").update(step=-1), "state of LayerMonitor"),
])
def test_impossible_or_incomplete_checkpoints_are_named(tmp_path, checkpoint, change, words):
    header, arrays = checkpoint
    section = copy.deepcopy(header["checkpoint"])
    change(section)
    path = tmp_path / "ck.nlayer"
    extra = {k.removeprefix("ckpt_"): v for k, v in arrays.items() if k.startswith("ckpt_")}
    saving.save(nl.Sequential.from_file_contents(path, header, arrays), path,
                checkpoint=(section, extra))
    X, y = run.data()
    with pytest.raises(nl.ModelFileError, match=words):
        run.model("sgd").fit(X, y, epochs=run.EPOCHS, batch_size=run.BATCH,
                             validation_split=0.2, seed=3, callbacks=callbacks(path),
                             resume_from=path)
