"""Loading data for the commands and describing it in ``model.metadata``.

A model trained by the CLI records how its data was made (dataset name, CSV, ``.npy`` or
Parquet path, schema, split seed), so ``evaluate`` can rebuild the same test split and
``predict`` can encode new rows the same way (:mod:`.stream` reads them a chunk at a time).
"""

from pathlib import Path

import numpy as np

from nlayer.datasets import CsvSchema, DatasetError, encode_csv_rows, load_csv, load_dataset
from nlayer.datasets import csvread

from . import sources
from .errors import UserError

TEST_SIZE = 0.2
#: The train/test split of digits and CSV files is fixed (not --seed), so every run of a
#: dataset is scored on the same test rows; --seed drives the dev split, init and shuffling.
SPLIT_SEED = 0
IMAGE_TARGET = "label"


def load_for_training(cfg):
    """The Dataset named by a resolved train config (built-in, CSV, ``.npy`` or Parquet)."""
    if cfg.get("npy"):
        return sources.npy_dataset(cfg, TEST_SIZE, SPLIT_SEED)
    if cfg.get("parquet"):
        return sources.parquet_dataset(cfg, TEST_SIZE, SPLIT_SEED)
    if cfg["csv"]:
        return load_csv(cfg["csv"], cfg["target"], task=cfg["task"], dropna=cfg["dropna"],
                        test_size=TEST_SIZE, seed=SPLIT_SEED)
    return load_dataset(cfg["dataset"], data_dir=cfg["data_dir"], download=cfg["download"],
                        test_size=TEST_SIZE, seed=SPLIT_SEED)


def describe(ds, cfg):
    """What ``model.metadata`` keeps about the data: enough to rebuild or re-encode it."""
    meta = {"dataset": ds.name, "task": ds.task, "class_names": ds.class_names,
            "n_features": ds.n_features, "split": {"test_size": TEST_SIZE, "seed": SPLIT_SEED}}
    if any(cfg.get(key) for key in sources.SOURCES):
        return {**meta, **sources.describe(ds, cfg)}
    if ds.schema is not None:
        meta["csv"] = str(Path(cfg["csv"]).resolve())
        meta["csv_schema"] = ds.schema.to_dict()
        meta["dropna"] = cfg["dropna"]
    else:
        meta["feature_names"] = list(ds.feature_names)
        meta["pixel_scale"] = ds.pixel_scale or 1.0
    return meta


def _names(count):
    return lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v) and \
        (count is None or len(v) == count)


def _schema(v):
    try:
        CsvSchema.from_dict(v)
    except (DatasetError, KeyError, TypeError, ValueError, AttributeError):
        return False
    return True


def check_metadata(model, path):
    """The metadata fields the commands read, each as ``nlayer train`` records them; a
    UserError names the first that is not (the library's ``model.metadata`` is free-form)."""
    n_out, n_in = model.n_outputs, model.n_features
    fields = {
        "task": (lambda v: v in ("classification", "regression"),
                 "'classification' or 'regression'"),
        "class_names": (_names(n_out), f"a list of {n_out} names (strings), one per output"),
        "feature_names": (_names(n_in), f"a list of {n_in} names (strings), one per input"),
        "csv_schema": (lambda v: isinstance(v, dict) and _schema(v),
                       "a CSV schema as nlayer train records it"),
        **{key: (lambda v: isinstance(v, str), "a file name")
           for key in ("csv", "npy", "labels", "test_npy", "test_labels", "parquet",
                       "test_parquet")},
        "dataset": (lambda v: isinstance(v, str), "a dataset name"),
        "split": (lambda v: isinstance(v, dict), "a table (seed, test_size)"),
        "pixel_scale": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                        and v > 0, "a positive number"),
        "training": (lambda v: isinstance(v, dict), "a table"),
        "config": (lambda v: isinstance(v, dict), "a table of settings"),
        "dropna": (lambda v: isinstance(v, bool), "true or false"),
    }
    for key, (ok, what) in fields.items():
        if model.metadata.get(key) is not None and not ok(model.metadata[key]):  # None: absent
            shown = repr(model.metadata[key])
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise UserError(f"{path}: its metadata field {key!r} is {shown}, not {what}; the "
                            "commands read the fields nlayer train records: fix or remove it "
                            "(model.metadata) and save the model again")


def task_of(model):
    meta = model.metadata
    if meta.get("task"):
        return meta["task"]
    return "classification" if model.output_activation in ("softmax", "sigmoid") else "regression"


def class_names_of(model):
    names = model.metadata.get("class_names")
    return list(names) if names else [str(k) for k in range(model.n_outputs or 0)]


def schema_of(model, target=None):
    """The CsvSchema that turns CSV rows into this model's inputs.

    Image models take one numeric column per pixel and, for evaluation, a label
    column (``label`` unless ``target`` names another).
    """
    meta = model.metadata
    if meta.get("csv_schema"):
        schema = CsvSchema.from_dict(meta["csv_schema"])
        if target and target != schema.target:
            raise UserError(f"the model predicts column {schema.target!r}, not {target!r}")
        return schema
    names = meta.get("feature_names") or [f"x{j}" for j in range(model.n_features)]
    task = task_of(model)
    return CsvSchema(target=target or IMAGE_TARGET, task=task, columns=list(names),
                     kinds={c: "numeric" for c in names},
                     class_names=class_names_of(model) if task == "classification" else None)


def _image_names(schema):
    """Column names of a headerless image CSV: pixels only, or the label first then pixels
    (the common MNIST-as-CSV layout)."""
    pixels = list(schema.columns)
    return lambda k: pixels if k == len(pixels) else \
        [schema.target, *pixels] if k == len(pixels) + 1 else None


def _positional_header(table, schema, path):
    """For image models: pixel columns by name, or unnamed ones in order when the count fits."""
    header = table.header
    if all(c in header for c in schema.columns):
        return table
    n_pixels = sum(h != schema.target for h in header)
    if n_pixels != len(schema.columns):
        raise UserError(f"{path}: expected {len(schema.columns)} pixel columns (named "
                       f"{schema.columns[0]} .. {schema.columns[-1]}, or any names in order) "
                       f"besides an optional {schema.target!r} column; found {n_pixels}")
    names = iter(schema.columns)
    return table.renamed([h if h == schema.target else next(names) for h in header])


def _labels_as_ids(table, schema):
    """Image models: a label column of class ids 0..k-1 stands for the class names."""
    names = schema.class_names or []
    if schema.target not in table.header or any(csvread.to_float(n) is not None for n in names):
        return table  # no labels, or names that are numbers themselves (digits: "0".."9")
    j = table.header.index(schema.target)

    def name(value):
        x = csvread.to_float(value)
        return names[int(x)] if x is not None and x.is_integer() and 0 <= x < len(names) \
            else value

    rows = [[*row[:j], name(row[j]), *row[j + 1:]] for row in table.rows]
    return csvread.Table(table.header, rows, table.lines, table.source)


def csv_tables(model, path, target=None, max_cells=None):
    """The CSV at ``path`` as Table chunks whose columns the model's schema names (image
    models: pixel columns by name or in order, class ids in the label column)."""
    schema = schema_of(model, target)
    image = is_image_model(model)
    header = None
    for table in csvread.iter_tables(path, names=_image_names(schema) if image
                                     else schema.headerless_names, max_cells=max_cells):
        if image:
            header = header or _positional_header(table, schema, path).header
            table = _labels_as_ids(table.renamed(header), schema)
        yield table


def encode_table(model, table, require_target=False, dropna=False, target=None):
    """(X, y or None, kept rows, dropped lines) of a Table, encoded as the model's training
    data was (without image models' pixel scaling: see :func:`scale_pixels`); dropped_lines
    are the file lines --dropna skipped."""
    X, y, kept = encode_csv_rows(table, schema_of(model, target), require_target=require_target,
                                 dropna=dropna, allow_empty=True)
    if X.shape[1] != model.n_features:
        raise UserError(f"{table.source}: encodes to {X.shape[1]} features but the model takes "
                        f"{model.n_features}")
    dropped = sorted(set(table.lines) - {table.lines[i] for i in kept})
    return X, y, kept, dropped


def is_image_model(model):
    """A model of one numeric input per column, without a CSV schema (images, ``.npy``)."""
    return not model.metadata.get("csv_schema")


def scales_pixels(model):
    """An image model whose pixels its loader divided (by a white pixel's raw value)."""
    return is_image_model(model) and model.metadata.get("pixel_scale", 1.0) != 1.0


def raw_pixels(model, X):
    """Whether an image model's inputs X hold raw intensities (a value above 1), which
    :func:`scale_pixels` divides; decided over a whole file, not per chunk."""
    return bool(scales_pixels(model) and X.size and float(np.max(X)) > 1.0)


def scale_pixels(model, X):
    """Raw intensities (0..255, 0..16) become [0, 1], as the image set's loader scaled them."""
    return (X / np.float32(model.metadata.get("pixel_scale", 1.0))).astype(np.float32)
