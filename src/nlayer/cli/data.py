"""Loading data for the commands and describing it in ``model.metadata``.

A model trained by the CLI records how its data was made (dataset name or CSV
path, schema, split seed), so ``evaluate`` can rebuild the same test split and
``predict`` can encode new CSV rows the same way.
"""

import csv
from pathlib import Path

import numpy as np

from nlayer.datasets import CsvSchema, encode_csv_rows, load_csv, load_dataset

from .errors import CLIError

TEST_SIZE = 0.2
#: The train/test split of digits and CSV files is fixed (not --seed), so every run of a
#: dataset is scored on the same test rows; --seed drives the dev split, init and shuffling.
SPLIT_SEED = 0
IMAGE_TARGET = "label"


def load_for_training(cfg):
    """The Dataset named by a resolved train config (built-in or CSV)."""
    if cfg["csv"]:
        return load_csv(cfg["csv"], cfg["target"], task=cfg["task"], dropna=cfg["dropna"],
                        test_size=TEST_SIZE, seed=SPLIT_SEED)
    return load_dataset(cfg["dataset"], data_dir=cfg["data_dir"], download=cfg["download"],
                        test_size=TEST_SIZE, seed=SPLIT_SEED)


def describe(ds, cfg):
    """What ``model.metadata`` keeps about the data: enough to rebuild or re-encode it."""
    meta = {"dataset": ds.name, "task": ds.task, "class_names": ds.class_names,
            "n_features": ds.n_features, "split": {"test_size": TEST_SIZE, "seed": SPLIT_SEED}}
    if ds.schema is not None:
        meta["csv"] = str(Path(cfg["csv"]).resolve())
        meta["csv_schema"] = ds.schema.to_dict()
        meta["dropna"] = cfg["dropna"]
    else:
        meta["feature_names"] = list(ds.feature_names)
        meta["pixel_scale"] = ds.pixel_scale or 1.0
    return meta


def task_of(model):
    meta = model.metadata
    if meta.get("task"):
        return meta["task"]
    return "classification" if model.output_activation in ("softmax", "sigmoid") else "regression"


def class_names_of(model):
    names = model.metadata.get("class_names")
    return list(names) if names else [str(k) for k in range(model.n_outputs or 0)]


def test_split(model, dataset=None, csv_path=None, data_dir=None, download=True, target=None):
    """(X_test, y_test, description) for ``evaluate``: a named set, a CSV, or the recorded data."""
    meta = model.metadata
    if csv_path:
        X, y = labelled_csv(model, csv_path, target)
        return X, y, f"{csv_path} (all {len(y)} rows)"
    split = meta.get("split", {})
    seed, size = split.get("seed", SPLIT_SEED), split.get("test_size", TEST_SIZE)
    name = dataset or meta.get("dataset")
    if dataset is None and meta.get("csv_schema"):
        schema = CsvSchema.from_dict(meta["csv_schema"])
        ds = load_csv(meta["csv"], schema.target, task=schema.task,
                      dropna=meta.get("dropna", False), test_size=size, seed=seed)
        return ds.X_test, ds.y_test, f"{meta['csv']} (test split)"
    if not name:
        raise CLIError("the model does not record its dataset; pass --dataset NAME or --csv FILE")
    ds = load_dataset(name, data_dir=data_dir, download=download, test_size=size, seed=seed)
    return ds.X_test, ds.y_test, f"{ds.name} (test split)"


def schema_of(model, target=None):
    """The CsvSchema that turns CSV rows into this model's inputs.

    Image models take one numeric column per pixel and, for evaluation, a label
    column (``label`` unless ``target`` names another).
    """
    meta = model.metadata
    if meta.get("csv_schema"):
        schema = CsvSchema.from_dict(meta["csv_schema"])
        if target and target != schema.target:
            raise CLIError(f"the model predicts column {schema.target!r}, not {target!r}")
        return schema
    names = meta.get("feature_names") or [f"x{j}" for j in range(model.n_features)]
    task = task_of(model)
    return CsvSchema(target=target or IMAGE_TARGET, task=task, columns=list(names),
                     kinds={c: "numeric" for c in names},
                     class_names=class_names_of(model) if task == "classification" else None)


def read_rows(path):
    """The CSV at path as a header plus rows, for encode_csv_rows."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r]
    except FileNotFoundError:
        raise CLIError(f"{path}: CSV file not found") from None
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise CLIError(f"{path}: cannot read CSV: {exc}") from None
    if len(rows) < 2:
        raise CLIError(f"{path}: CSV needs a header row and at least one data row")
    return rows


def _positional_header(rows, schema, path):
    """For image models: pixel columns by name, or unnamed ones in order when the count fits."""
    header = [h.strip() for h in rows[0]]
    if all(c in header for c in schema.columns):
        return rows
    n_pixels = sum(h != schema.target for h in header)
    if n_pixels != len(schema.columns):
        raise CLIError(f"{path}: expected {len(schema.columns)} pixel columns (named "
                       f"{schema.columns[0]} .. {schema.columns[-1]}, or any names in order) "
                       f"besides an optional {schema.target!r} column; found {n_pixels}")
    names = iter(schema.columns)
    return [[h if h == schema.target else next(names) for h in header], *rows[1:]]


def encode(model, path, require_target=False, dropna=False, target=None):
    """(X, y or None, kept_rows) for a CSV, encoded as the model's training data was."""
    schema = schema_of(model, target)
    source = str(path)
    if model.metadata.get("csv_schema"):
        X, y, kept = encode_csv_rows(source, schema, require_target=require_target,
                                     dropna=dropna)
    else:
        rows = _positional_header(read_rows(path), schema, path)
        X, y, kept = encode_csv_rows(rows, schema, require_target=require_target, dropna=dropna)
        X = _scale_pixels(X, model.metadata.get("pixel_scale", 1.0))
    if X.shape[1] != model.n_features:
        raise CLIError(f"{path}: encodes to {X.shape[1]} features but the model takes "
                       f"{model.n_features}")
    return X, y, kept


def _scale_pixels(X, scale):
    """Raw intensities (0..255, 0..16) become [0, 1]; values already in [0, 1] stay."""
    if X.size and float(np.max(X)) > 1.0:
        return (X / np.float32(scale)).astype(np.float32)
    return X


def labelled_csv(model, path, target=None):
    X, y, _ = encode(model, path, require_target=True, target=target)
    return X, y
