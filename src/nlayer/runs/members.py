"""``ensemble = K``: K networks trained one after another and averaged into one model.

Member k is the run's network trained with seed ``seed + k`` (its own initial weights,
batch order, dropout masks and augmentation), on the same training rows: the development
split is drawn once, from ``seed``, and every member is scored on it, so the ensemble's
development accuracy is measured on rows none of its members trained on. The members are
merged by :func:`nlayer.ensemble` (the mean of their output layers' Z) into the run's
``model.nlayer``: one plain model, evaluated, served and exported as any other.

Each finished member is saved as ``members/member-<k>.nlayer`` in the run directory; the run's
checkpoint is the current member's, so ``--resume`` loads the finished members and continues
the current one where it stopped. ``history.csv`` and the learning curves are the first
member's; ``summary.json`` gives every member's development accuracy and the ensemble's.
"""

import numpy as np

import nlayer as nl
from nlayer.preprocessing import train_dev_split
from nlayer.saving import checkpoint

from . import rundir

__all__ = ["split", "member_path", "finished", "checkpoint_member", "save_member", "merge"]


def split(ds, cfg):
    """(training rows, development rows) as two Datasets' worth of arrays: the development
    split of ``seed``, drawn once for every member; (ds's, None) without one."""
    if cfg["dev_split"] <= 0:
        return (ds.X_train, ds.y_train), None
    strata = ds.y_train if ds.task == "classification" else None
    train, dev = (np.sort(part) for part in train_dev_split(
        len(ds.y_train), cfg["dev_split"], np.random.default_rng(cfg["seed"]), strata))
    X = ds.X_train
    if type(X) is np.ndarray:
        X_train = X[train]  # in memory already: the members read it at full speed
    else:
        from nlayer.datasets.rowsubset import RowSubset
        X_train = RowSubset(X, train)
    return (X_train, ds.y_train[train]), (np.asarray(X[dev]), ds.y_train[dev])


def member_path(out, k):
    return out / rundir.MEMBERS / f"member-{k}.nlayer"


def finished(out, count):
    """The members already trained and saved in ``out`` (a resumed run), in order."""
    members = []
    for k in range(count):
        path = member_path(out, k)
        if not path.exists():
            break
        members.append(nl.load(path))
    return members


def checkpoint_member(out, cfg):
    """The member the run's checkpoint belongs to (its seed says which), or None."""
    path = out / rundir.CHECKPOINT
    if not path.exists():
        return None
    return checkpoint.read(path)[2]["settings"]["seed"] - cfg["seed"]


def save_member(out, k, model):
    (out / rundir.MEMBERS).mkdir(exist_ok=True)
    model.save(member_path(out, k))


def merge(members, seeds, train, dev):
    """The ensemble model (the one member when it is alone) and what summary.json says
    of it: its metrics on the training rows, each member's development metrics and the
    ensemble's."""
    model = nl.ensemble(members) if len(members) > 1 else members[0]
    model.history, model.metadata = members[0].history, members[0].metadata
    report = {"members": len(members), "seeds": seeds, "train_metrics": model.evaluate(*train)}
    if dev is not None:
        report["member_dev_metrics"] = [m.evaluate(*dev) for m in members]
        report["dev_metrics"] = model.evaluate(*dev)
    return model, report
