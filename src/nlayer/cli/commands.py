"""``nlayer evaluate``, ``predict``, ``info`` and ``export``: commands on a saved model.

MODEL is a model file, or a run directory (its ``model.nlayer``). ``evaluate`` and
``predict`` read their data a chunk at a time (:mod:`nlayer.runs.stream`): a file of any
size is evaluated, or predicted and written as it goes, in bounded memory."""

import csv
import io
import sys
from itertools import chain
from pathlib import Path

from rich.table import Table

import nlayer as nl
from nlayer.runs import data, rundir, stream
from nlayer.runs.errors import UserError
from nlayer.saving import atomic

from . import report


def load_model(path):
    """The model of a file (or run directory), its metadata checked for the commands."""
    model = nl.load(path)  # a bad file: ModelFileError, one line
    data.check_metadata(model, path)
    return model


def model_file(path):
    """The model file MODEL names: the file itself, or a run directory's model.nlayer."""
    path = Path(path)
    if path.is_dir():
        inside = path / rundir.MODEL
        if not inside.is_file():
            raise UserError(f"{path} is a directory without a {rundir.MODEL}; give a model file "
                            f"or a run directory that holds one")
        return inside
    return path


def _file_source(model, args, labelled):
    """(chunks, description, dropped rows) of the file a command names (--csv, --parquet or
    --npy), read a chunk at a time; None when it names none."""
    given = [flag for flag in ("csv", "parquet", "npy") if getattr(args, flag, None)]
    if len(given) > 1:
        raise UserError(f"give one of --csv, --parquet or --npy, not {' and '.join(given)}")
    labels = getattr(args, "labels", None)
    if labels and given != ["npy"]:
        raise UserError("--labels gives the targets of --npy X.npy; pass --npy too")
    if not given:
        return None
    flag, dropna = given[0], getattr(args, "dropna", False)
    path = getattr(args, flag)
    if flag == "npy":
        if labelled and not labels:
            raise UserError("evaluating --npy X.npy needs --labels Y.npy (its targets)")
        return stream.npy_chunks(model, path, labels), str(path), None
    dropped = stream.Dropped("lines" if flag == "csv" else "rows")
    read = stream.csv_chunks if flag == "csv" else stream.parquet_chunks
    target = getattr(args, "target", None)  # predict has none: the model's own target
    return read(model, path, labelled=labelled, dropna=dropna, target=target,
                dropped=dropped), str(path), dropped


def evaluate(args, console):
    args.model = model_file(args.model)
    model = load_model(args.model)
    found = _file_source(model, args, labelled=True)
    if found is None:
        chunks, where = stream.recorded_test_set(model, dataset=args.dataset,
                                                 data_dir=args.data_dir,
                                                 download=not args.no_download)
    else:
        chunks, where, _ = found
    metrics, rows = stream.evaluate(model, chunks, where)
    if found is not None:
        where = f"{where} (all {rows} rows)"
    result = {"model": str(args.model), "data": where, "rows": int(rows),
              "task": data.task_of(model), "metrics": metrics,
              **{f"test_{k}": v for k, v in metrics.items()}}
    if args.json:
        report.print_json(result)
        return 0
    console.print(f"evaluating {args.model} on {where}", markup=False, highlight=False,
                  soft_wrap=True)
    console.print(report.metrics_table({"test": metrics}, result["task"], title="Evaluation"))
    return 0


def prediction_header(model):
    """The output's columns: row, a probability per class and the class, or the values."""
    if data.task_of(model) == "classification":
        return ["row", *(f"p_{n}" for n in data.class_names_of(model)), "predicted"]
    target = data.schema_of(model).target if model.metadata.get("csv_schema") else "value"
    width = model.layers[-1].n_out
    return ["row", *([f"predicted_{target}"] if width == 1 else
                     [f"predicted_{target}_{j}" for j in range(width)])]


def prediction_rows(model, outputs, rows):
    """The output's rows for a block of outputs and their row numbers, one at a time."""
    if data.task_of(model) == "classification":
        names = data.class_names_of(model)
        return ([int(r), *(f"{p:.6g}" for p in out), names[int(out.argmax())]]
                for r, out in zip(rows, outputs))
    return ([int(r), *(f"{v:.6g}" for v in out)] for r, out in zip(rows, outputs))


def _write_predictions(model, chunks, where, fh):
    """The header, then each block's rows as it is predicted, to the text stream fh; returns
    how many rows were written. Nothing is written before the first block is predicted (a
    file that cannot be read at all leaves stdout empty)."""
    predicted = stream.predictions(model, chunks, where)
    first = next(predicted)
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(prediction_header(model))
    count = 0
    for outputs, rows in chain([first], predicted):
        writer.writerows(prediction_rows(model, outputs, rows))
        count += len(rows)
    return count


def predict(args, console):
    args.model = model_file(args.model)
    if args.out is not None:  # before any work: an output that would destroy an input
        _check_output(Path(args.out), args.overwrite, model=args.model, csv=args.csv,
                      parquet=args.parquet, npy=args.npy)
    model = load_model(args.model)
    found = _file_source(model, args, labelled=False)
    if found is None:
        raise UserError("give the rows to predict: --csv FILE, --parquet FILE or --npy X.npy")
    chunks, where, dropped = found
    if args.out is None:
        count = _write_predictions(model, chunks, where, sys.stdout)
    else:
        out = Path(args.out)
        written = []

        def write(fh):  # a binary file: the rows as UTF-8 text, a block at a time
            text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
            written.append(_write_predictions(model, chunks, where, text))
            text.flush()
            text.detach()  # write_atomically flushes, syncs and closes fh itself

        try:
            atomic.write_atomically(out, write)
        except OSError as exc:  # the message says whether the previous file is intact
            raise UserError(str(exc)) from None
        count = written[0]
    if dropped is not None and dropped.count:  # never drop a row without saying so
        print(f"nlayer: {dropped.message(where)}", file=sys.stderr)
    if args.out is not None and not args.quiet:
        print(f"wrote {count} predictions to {args.out}", file=sys.stderr)
    return 0


def _check_output(out, overwrite, **inputs):
    """Refuse an output path that is one of the command's inputs (always: it would be
    destroyed while it is read) or an existing file (unless ``--overwrite``)."""
    for flag, given in inputs.items():
        if given is not None and _same_file(out, Path(given)):
            what = "the model file" if flag == "model" else f"the --{flag} input"
            raise UserError(f"{out} is {what}; write the output to another file")
    if out.is_dir():
        raise UserError(f"{out} is a directory; give a file name for the output")
    if out.exists() and not overwrite:
        raise UserError(f"{out} already exists; pass --overwrite to replace it")


def _same_file(a, b):
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _summary_text(model):
    buffer = io.StringIO()
    model.summary(print_fn=lambda text: buffer.write(text + "\n"))
    return buffer.getvalue().rstrip("\n")


def model_info(model, path):
    """What ``info --json`` prints: architecture, preprocessing, data and training record."""
    meta = dict(model.metadata)
    history = model.history.to_dict() if model.history is not None else None
    return {
        "model": str(path), "summary": _summary_text(model), "config": model.get_config(),
        "params": model.count_params(),
        "normalizer": model.normalizer.name if model.normalizer is not None else None,
        "task": data.task_of(model), "dataset": meta.get("dataset"),
        "class_names": meta.get("class_names"),
        "csv_schema": meta.get("csv_schema"),
        "training": meta.get("training"), "settings": meta.get("config"),
        "history": None if history is None else {
            k: history[k] for k in ("best_epoch", "stopped_epoch", "interrupted")}
        | {"epochs_run": len(history["epoch"])},
    }


def info(args, console):
    args.model = model_file(args.model)
    model = load_model(args.model)
    facts = model_info(model, args.model)
    if args.json:
        report.print_json(facts)
        return 0
    console.print(facts["summary"], markup=False, highlight=False, soft_wrap=True)
    console.print(_info_table(facts))
    return 0


def _info_table(facts):
    table = Table(title="Model", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    compile_cfg = facts["config"].get("compile") or {}
    opt = compile_cfg.get("optimizer") or {}
    rows = [("task", facts["task"]), ("dataset", facts["dataset"]),
            ("input normalisation", facts["normalizer"] or "none"),
            ("layers", _layers_text(facts["config"])),
            ("loss", compile_cfg.get("loss")),
            ("optimizer", ", ".join(f"{k}={v}" for k, v in opt.items())),
            ("l2", compile_cfg.get("l2"))]
    if facts["class_names"]:
        rows.append(("classes", ", ".join(facts["class_names"])))
    if facts["csv_schema"]:
        schema = facts["csv_schema"]
        rows.append(("CSV target", schema["target"]))
        rows.append(("CSV columns", ", ".join(f"{c} ({schema['kinds'][c]})"
                                             for c in schema["columns"])))
    rows += _training_rows(facts)
    for name, value in rows:
        table.add_row(name, "—" if value is None else str(value))
    return table


def _layers_text(config):
    """One line per model: Dense 256 relu -> Dropout 0.2 -> Dense 10 softmax."""
    parts = []
    for layer in config.get("layers", []):
        act = layer.get("activation")
        act = act.get("name") if isinstance(act, dict) else act
        extra = [layer.get("units"), act, layer.get("rate")]
        parts.append(" ".join(str(v) for v in [layer.get("class", "?"), *extra] if v is not None))
    return " → ".join(parts)


def _training_rows(facts):
    rows = []
    history = facts["history"] or {}
    for key in ("epochs_run", "best_epoch", "stopped_epoch"):
        if key in history:
            rows.append((key.replace("_", " "), history[key]))
    training = facts["training"] or {}
    for name, value in (training.get("test") or {}).items():
        rows.append((f"test {name}", f"{value:.4f}"))
    if "interrupted" in training:
        rows.append(("interrupted", "yes" if training["interrupted"] else "no"))
    return rows


def export(args, console):
    args.model = model_file(args.model)
    _check_output(Path(args.output), args.overwrite, model=args.model)
    model = load_model(args.model)
    try:
        model.to_onnx(args.output)
    except ImportError as exc:
        raise UserError(str(exc) or "ONNX export needs the onnx package: "
                       "pip install 'nlayer[onnx]'") from None
    except (TypeError, nl.NotFittedError) as exc:
        raise UserError(f"cannot export {args.model} to ONNX: {exc}") from None
    if not (args.quiet or args.json):
        console.print(f"wrote {args.output}", markup=False, highlight=False, soft_wrap=True)
    if args.json:
        report.print_json({"model": str(args.model), "onnx": str(args.output)})
    return 0
