"""Run directories: choosing one safely, and writing config, history and summary files
(each atomically: a crash leaves the old file or the new one, never half of one).

An existing non-empty directory is never reused unless ``--overwrite`` is given,
and then only the files a run writes are replaced; nothing is ever deleted.
"""

import contextlib
import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np

try:  # POSIX; elsewhere runs are not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # callers check for None (no locking there)

from nlayer.saving.atomic import write_csv, write_text

from . import config
from .errors import UserError

RUN_FILES = ("model.nlayer", "config.toml", "history.csv", "learning_curves.png",
             "confusion_matrix.png", "summary.json", "checkpoint.nlayer")
#: what ``--monitor`` adds (see :mod:`nlayer.runs.monitoring`)
MONITOR_FILES = ("layer_stats.csv", "gradients.png", "activations.png")
CHECKPOINT = "checkpoint.nlayer"
#: the folder of ``--tensorboard``'s event files (replaced whole when a run replaces another)
TENSORBOARD = "tensorboard"
#: the folder of an ensemble's members (``--ensemble K``; replaced whole as well)
MEMBERS = "members"
MODEL = "model.nlayer"


LOCK = ".nlayer.lock"
STAGE = ".nlayer-next"


def _non_empty(path):
    """Whether ``path`` holds anything but a run's lock file and staging folder."""
    return path.is_dir() and any(p.name not in (LOCK, STAGE) for p in path.iterdir())


def choose(out, name, overwrite=False, root="runs"):
    """The directory to write: ``out``, or ``runs/<name>-<YYYYmmdd-HHMMSS>`` (made unique)."""
    if out is None:
        base = Path(root) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, k = base, 1
        while path.exists():
            k += 1
            path = base.with_name(f"{base.name}-{k}")
        return path
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {path} exists and is not a directory")
    if _non_empty(path) and not overwrite:
        raise UserError(f"--out {path} already exists and is not empty; choose another --out "
                       "or pass --overwrite to replace the files this run writes")
    return path


def make(path):
    """Create the run directory and prove it writable, before any training is spent on it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create run directory {path}: {exc.strerror or exc}; "
                       "choose another --out") from None
    probe = path / f".nlayer-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write into run directory {path}: {exc.strerror or exc}; "
                       "choose another --out") from None
    return path


def has_run_files(path):
    """Whether ``path`` holds files of an earlier run (which a new run would replace)."""
    path = Path(path)
    return any((path / name).is_file() for name in (*RUN_FILES, *MONITOR_FILES)) or \
        any((path / name).is_dir() for name in (TENSORBOARD, MEMBERS))


@contextlib.contextmanager
def claimed(path):
    """Hold the run directory ``path`` (made if needed) for this process while the block runs:
    a second run into it is refused, naming the holder (an advisory ``flock`` on
    ``.nlayer.lock``, released by the system if the process dies)."""
    make(path)
    if fcntl is None:  # no advisory locks on this system
        yield Path(path)
        return
    fh = open(Path(path) / LOCK, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise UserError(f"run directory {path} is in use by another nlayer run ({holder}); "
                            "wait for it to finish, or choose another --out") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        fh.flush()
        yield Path(path)
    finally:
        fh.close()  # closing releases the lock


@contextlib.contextmanager
def staged(path, replacing):
    """Where a run writes. A run ``replacing`` an earlier one (``--overwrite`` of a non-empty
    directory) writes into ``path/.nlayer-next`` and its files replace the earlier run's only
    when the block ends normally (finished or stopped by Ctrl-C with its results): until then
    the earlier run stays whole, and after it no file of the earlier run is left beside the
    new ones. A failure leaves the earlier run as it was. Call it holding :func:`claimed`."""
    path = Path(path)
    if not replacing:
        yield path
        return
    stage = path / STAGE
    if stage.exists():
        shutil.rmtree(stage)  # left by a run that was killed: never published
    stage.mkdir()
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _publish(stage, path)


def _publish(stage, path):
    """The staged run's files into ``path``; the earlier run's other files removed (and its
    event files: a new run's steps would mix with the earlier run's in TensorBoard)."""
    new = {p.name for p in stage.iterdir()}
    for name in (*RUN_FILES, *MONITOR_FILES):
        if name not in new and (path / name).is_file():
            (path / name).unlink()
    for folder in (TENSORBOARD, MEMBERS):
        if (path / folder).is_dir():
            shutil.rmtree(path / folder)
    for name in sorted(new):
        os.replace(stage / name, path / name)
    stage.rmdir()


def jsonable(value):
    """Plain JSON values: numpy scalars become numbers, NaN/inf become null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def dumps(value):
    return json.dumps(jsonable(value), indent=2, allow_nan=False)


def write_json(path, value):
    write_text(path, dumps(value) + "\n")


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def toml_text(settings):
    """TOML for a flat dict of scalars and lists; None values are left out (TOML has no
    null), except where that would read back as another run (``config.OFF``)."""
    lines = ["# nlayer train settings; rerun with: nlayer train --config config.toml"]
    lines += [f"{key} = {_toml_value(config.OFF[key] if v is None else v)}"
              for key, v in settings.items() if v is not None or key in config.OFF]
    return "\n".join(lines) + "\n"


def write_config(path, settings):
    write_text(path, toml_text(settings))


def history_columns(history):
    """epoch, loss, val_loss, each metric and val_ metric, lr, seconds (those present)."""
    keys = list(history)
    metrics = [k for k in keys if not k.startswith("val_") and k not in ("loss", "lr", "seconds")]
    order = ["loss", "val_loss"] + [m for k in metrics for m in (k, f"val_{k}")] + ["lr", "seconds"]
    return ["epoch"] + [k for k in order if k in history]


def write_history(path, history):
    columns = history_columns(history)
    n = len(history.get("loss", []))
    rows = [[i + 1] + [_cell(history[k][i]) for k in columns[1:]] for i in range(n)]
    write_csv(path, columns, rows)



def _cell(value):
    value = float(value)
    return "" if not math.isfinite(value) else repr(value)
