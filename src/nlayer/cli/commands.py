"""``nlayer evaluate``, ``predict``, ``info`` and ``export``: commands on a saved model.

MODEL is a model file, or a run directory (its ``model.nlayer``)."""

import io
import sys
from pathlib import Path

from rich.table import Table

import nlayer as nl
from nlayer.runs import data, rundir
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


def evaluate(args, console):
    args.model = model_file(args.model)
    model = load_model(args.model)
    X, y, where = data.test_split(model, dataset=args.dataset, csv_path=args.csv,
                                  data_dir=args.data_dir, download=not args.no_download,
                                  target=args.target)
    if X.shape[1] != model.n_features:
        raise UserError(f"{where} has {X.shape[1]} features but the model takes "
                       f"{model.n_features}; is it the data the model was trained on?")
    metrics = model.evaluate(X, y)
    result = {"model": str(args.model), "data": where, "rows": int(len(y)),
              "task": data.task_of(model), "metrics": metrics,
              **{f"test_{k}": v for k, v in metrics.items()}}
    if args.json:
        report.print_json(result)
        return 0
    console.print(f"evaluating {args.model} on {where}", markup=False, highlight=False,
                  soft_wrap=True)
    console.print(report.metrics_table({"test": metrics}, result["task"], title="Evaluation"))
    return 0


def prediction_rows(model, X, kept):
    """Header and rows: probability per class plus the class name, or predicted values."""
    outputs = model.predict(X)
    if data.task_of(model) == "classification":
        names = data.class_names_of(model)
        header = ["row", *(f"p_{n}" for n in names), "predicted"]
        rows = [[int(r), *(f"{p:.6g}" for p in out), names[int(out.argmax())]]
                for r, out in zip(kept, outputs)]
        return header, rows
    target = data.schema_of(model).target if model.metadata.get("csv_schema") else "value"
    header = ["row", *([f"predicted_{target}"] if outputs.shape[1] == 1 else
                       [f"predicted_{target}_{j}" for j in range(outputs.shape[1])])]
    return header, [[int(r), *(f"{v:.6g}" for v in out)] for r, out in zip(kept, outputs)]


def predict(args, console):
    args.model = model_file(args.model)
    if args.out is not None:  # before any work: an output that would destroy an input
        _check_output(Path(args.out), args.overwrite, model=args.model, csv=args.csv)
    model = load_model(args.model)
    X, _, kept, dropped = data.encode(model, args.csv, dropna=args.dropna)
    if dropped:  # never drop a row without saying so
        shown = ", ".join(map(str, dropped[:10])) + (", ..." if len(dropped) > 10 else "")
        print(f"nlayer: skipped {len(dropped)} row(s) with missing values (--dropna): "
              f"lines {shown} of {args.csv}", file=sys.stderr)
    header, rows = prediction_rows(model, X, kept)
    if args.out is None:
        sys.stdout.write(atomic.csv_text(header, rows, lineterminator="\n"))
        return 0
    out = Path(args.out)
    try:
        atomic.write_csv(out, header, rows, lineterminator="\n")
    except OSError as exc:  # the message says whether the previous file is intact
        raise UserError(str(exc)) from None
    if not args.quiet:
        print(f"wrote {len(rows)} predictions to {out}", file=sys.stderr)
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
