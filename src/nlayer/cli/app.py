"""The argument parser and ``main``: dispatch to a command, turn errors into one line.

Every problem the user can fix (bad flags, files, data, a diverged run) is
printed as ``nlayer: error: ...`` on stderr with exit code 2, never a traceback.
"""

import argparse
import sys

from rich.console import Console

import nlayer as nl
from nlayer.datasets import DatasetError
from nlayer.runs import config
from nlayer.runs.errors import UserError

EPILOG = ("Run 'nlayer COMMAND --help' for a command's options. "
          "Defaults per dataset: see 'nlayer train --help'.")


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting (one-line errors)."""

    def error(self, message):
        raise UserError(f"{message} (see '{self.prog} --help')")


def _cell(key, value):
    if key == "hidden":
        return " ".join(map(str, value))
    if value is None:
        return "-"
    return format(value, "g") if isinstance(value, float) else str(value)


def _defaults_help():
    """The per-dataset defaults as a small text table for ``train --help``."""
    keys = ("hidden", "optimizer", "lr", "batch_size", "epochs", "patience", "l2", "dropout",
            "augment", "adversarial", "ensemble")
    rows = [("dataset", *keys)]
    rows += [(name, *(_cell(k, row[k]) for k in keys))
             for name, row in config.defaults_table().items()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(keys) + 1)]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return ("Train an MLP and write a run directory.\n\n"
            "Built-in defaults (--config and flags override them); every dataset also uses\n"
            "relu, he_normal, momentum 0.9 (SGD), dev split 0.1, normalize standard, float32,\n"
            "seed 0 (fashion-mnist and mnist: adam with a cosine decay of lr over the run,\n"
            "mnist scaled globally; --recipe fast: the shorter 0.1 recipes; --recipe quick:\n"
            "those cut to 3 epochs without dropout, for a first look in seconds):\n"
            + "\n".join(lines) + "\n\nl2 is lambda in J = mean loss + lambda/(2m) sum ||W||^2 "
            "(m = rows in the batch).\npatience 0 = no early stopping.")


def add_data_flags(p, csv=True):
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=config.DATASETS, help="built-in dataset (default digits)")
    if csv:
        g.add_argument("--csv", metavar="FILE", help="train on a CSV file with a header row")
        g.add_argument("--target", metavar="COLUMN", help="the CSV column to predict")
        g.add_argument("--task", choices=config.TASKS, help="auto (default), classification "
                       "or regression")
        g.add_argument("--dropna", action="store_true",
                       help="drop CSV or Parquet rows with missing values")
        g.add_argument("--npy", metavar="X.npy", help="train on a .npy of features (rows, "
                       "features), memory-mapped: never read into memory whole")
        g.add_argument("--labels", metavar="Y.npy", help="the targets of --npy, one per row: "
                       "class labels (integers or text) or numbers (2-D: several targets)")
        g.add_argument("--test-npy", metavar="X.npy", help="test rows for --npy (default: a "
                       "fixed 20%% split of its rows, as for CSV)")
        g.add_argument("--test-labels", metavar="Y.npy", help="the targets of --test-npy")
        g.add_argument("--parquet", metavar="FILE", help="train on a Parquet file, read a batch "
                       "of rows at a time (needs pip install \"nlayer[parquet]\"); --target "
                       "names the column to predict")
        g.add_argument("--test-parquet", metavar="FILE", help="test rows for --parquet, with "
                       "the same columns, encoded as its rows are (default: a fixed 20%% "
                       "split of its rows, as for CSV)")
    g.add_argument("--data-dir", metavar="DIR", help="folder holding the MNIST/Fashion-MNIST files")
    g.add_argument("--no-download", dest="download", action="store_false",
                   help="never download datasets")
    return g


def add_model_flags(p):
    g = p.add_argument_group("network and training")
    g.add_argument("--hidden", type=int, nargs="+", metavar="UNITS",
                   help="hidden layer widths, e.g. --hidden 256 128")
    g.add_argument("--activation", choices=config.ACTIVATIONS)
    g.add_argument("--init", choices=config.INITS, help="weight initialiser")
    g.add_argument("--batchnorm", action=argparse.BooleanOptionalAction,
                   help="batch normalisation in hidden layers")
    g.add_argument("--dropout", type=float, metavar="RATE")
    g.add_argument("--optimizer", choices=config.OPTIMIZERS)
    g.add_argument("--lr", type=float, metavar="RATE", help="learning rate")
    g.add_argument("--momentum", type=float, help="SGD momentum")
    g.add_argument("--nesterov", action=argparse.BooleanOptionalAction, help="Nesterov momentum")
    g.add_argument("--l2", type=float, metavar="LAMBDA", help="L2 regularisation strength")
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--patience", type=int, help="early-stopping patience (0: no early stopping)")
    g.add_argument("--dev-split", type=float, metavar="FRACTION",
                   help="share of the training rows held out as the development set")
    g.add_argument("--normalize", choices=config.NORMALIZERS, help="input normalisation")
    g.add_argument("--scale-targets", action=argparse.BooleanOptionalAction,
                   help="regression: standardise the targets inside the model (default on; "
                        "predictions stay in the original units)")
    g.add_argument("--augment", metavar="SPEC",
                   help="transform each training batch anew: comma-separated shift=PIXELS, "
                        "flip, rotate=DEGREES, zoom=FRACTION, elastic=ALPHA:SIGMA (e.g. "
                        "shift=2,flip); 'none' for none")
    g.add_argument("--adversarial", type=float, metavar="EPS",
                   help="adversarial training: each step also learns from the batch moved by "
                        "EPS (in normalised input units) along the sign of the cost's "
                        "gradient (Goodfellow et al. 2015; twice the work a step); 0 for none")
    g.add_argument("--ensemble", type=int, metavar="K",
                   help="train K networks (seeds seed..seed+K-1, one development split) and "
                        "average them into one model (default 1)")
    g.add_argument("--recipe", choices=tuple(config.RECIPES),
                   help="built-in settings to start from: default, fast (the shorter "
                        "recipes without augmentation), or quick (fast cut to 3 epochs "
                        "without dropout: a first look in seconds)")
    g.add_argument("--dtype", choices=config.DTYPES)
    g.add_argument("--seed", type=int)
    g.add_argument("--config", metavar="FILE", default=None,
                   help="TOML file with the same keys; explicit flags override it")
    return g


def add_schedule_flags(p):
    g = p.add_argument_group("learning-rate schedule, decay and monitoring")
    g.add_argument("--schedule", choices=config.SCHEDULES,
                   help="learning-rate schedule (default constant); --lr is its peak rate")
    g.add_argument("--warmup", type=float, metavar="EPOCHS",
                   help="cosine: linear warm-up epochs (default 0); onecycle: epochs of the "
                        "climb to --lr (default 30%% of --epochs)")
    g.add_argument("--lr-factor", type=float, metavar="FACTOR",
                   help="step/plateau: multiply the rate by this (default 0.1); "
                        "exponential: the rate per --lr-every epochs (default 0.9)")
    g.add_argument("--lr-every", type=float, metavar="EPOCHS",
                   help="step: epochs between drops (default 10); exponential: default 1")
    g.add_argument("--lr-patience", type=int, metavar="EPOCHS",
                   help="plateau: epochs without improvement before a cut (default 3)")
    g.add_argument("--min-lr", type=float, metavar="RATE",
                   help="cosine: the final rate; plateau: the lowest rate (default 0)")
    g.add_argument("--cycle-momentum", action=argparse.BooleanOptionalAction,
                   help="onecycle with SGD: momentum moves from --momentum down by 0.1 and "
                        "back, against the rate (default on)")
    g.add_argument("--weight-decay", type=float, metavar="WD",
                   help="decay of every parameter, independent of the batch size "
                        "(coupled; decoupled with --optimizer adamw)")
    g.add_argument("--monitor-metric", metavar="KEY",
                   help="what early stopping and plateau watch: val_loss (default), "
                        "val_accuracy, val_mae, val_r2, loss, ...")
    return g


def add_output_flags(p, out_help):
    p.add_argument("--out", metavar="DIR", default=None, help=out_help)
    p.add_argument("--overwrite", action="store_true", default=False,
                   help="reuse a non-empty --out, replacing only the files this run writes")
    add_verbosity_flags(p)


def add_verbosity_flags(p):
    p.add_argument("--quiet", "-q", action="store_true", default=False,
                   help="print only the summary")
    p.add_argument("--json", action="store_true", default=False,
                   help="print the result as JSON only (on stdout)")


def _train_parser(sub):
    p = sub.add_parser("train", help="train an MLP and write a run directory",
                       description=_defaults_help(), argument_default=argparse.SUPPRESS,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_flags(p)
    training = add_model_flags(p)
    training.add_argument(
        "--class-weight", choices=("none", "balanced"),
        help="balanced: weigh each class's rows by n / (classes x rows of the class)")
    training.add_argument(
        "--monitor", type=int, nargs="?", const=50, metavar="BATCHES",
        help="record per-layer gradient and activation statistics every BATCHES steps "
        "(default 50): layer_stats.csv, gradients.png, activations.png")
    add_schedule_flags(p)
    g = p.add_argument_group("tracking (optional packages)")
    g.add_argument("--tensorboard", action=argparse.BooleanOptionalAction,
                   help="write TensorBoard event files into RUN_DIR/tensorboard (scalars, "
                        "histograms; with --monitor its statistics): tensorboard --logdir "
                        "RUN_DIR/tensorboard. Needs pip install \"nlayer[tensorboard]\"")
    g.add_argument("--mlflow", action=argparse.BooleanOptionalAction,
                   help="log the run to MLflow (the config as parameters, metrics per epoch, "
                        "the model and figures as artifacts) at the tracking URI set "
                        "(MLFLOW_TRACKING_URI; default ./mlflow.db). Needs pip install "
                        "\"nlayer[mlflow]\"")
    g = p.add_argument_group("checkpoints")
    g.add_argument("--checkpoint-every", type=int, metavar="N",
                   help="write RUN_DIR/checkpoint.nlayer every N epochs (default 1; 0: never)")
    g.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run from its config and last checkpoint")
    add_output_flags(p, "run directory (default runs/<dataset>-<YYYYmmdd-HHMMSS>)")
    p.set_defaults(command="train")


def _compare_parser(sub):
    p = sub.add_parser("compare", help="train the same network with nlayer and other libraries",
                       argument_default=argparse.SUPPRESS)
    add_data_flags(p, csv=False)
    add_model_flags(p)
    p.add_argument("--peers", nargs="*", default=None, metavar="NAME",
                   help="other systems to run (default: keras pytorch sklearn)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads for every system (BLAS, PyTorch, TensorFlow); default: 1 for "
                        "small networks, else every core")
    add_output_flags(p, "output directory (default runs/compare-<dataset>-<YYYYmmdd-HHMMSS>)")
    p.set_defaults(command="compare")


def _sweep_parser(sub):
    p = sub.add_parser("sweep", help="train many settings on a dask cluster and rank them",
                       description="Run every trial of a sweep file (base settings as in "
                       "'nlayer train --config', plus [grid], [random] and [sweep] tables) on "
                       "a dask cluster; write sweep.csv, best.toml (by the dev metric) and "
                       "sweep.png. Each trial checkpoints every epoch (at most every "
                       "--checkpoint-seconds) into --out, so --resume continues unfinished "
                       "trials where they were, even after a crash.")
    p.add_argument("spec", metavar="SWEEP.toml")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="a running dask scheduler, e.g. tcp://HOST:8786 "
                   "(default: a LocalCluster on this machine)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="LocalCluster worker processes (default: one per core)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="sweep directory (default runs/sweep-<file name>-<YYYYmmdd-HHMMSS>)")
    p.add_argument("--resume", action="store_true", default=False,
                   help="continue the sweep in --out: skip its finished trials, continue "
                   "the others from their last checkpoint")
    p.add_argument("--checkpoint-seconds", type=float, default=None, metavar="S",
                   help="a trial checkpoints every epoch but at most every S seconds, and sends "
                   "it to --out (default 5; 0: every epoch)")
    p.add_argument("--tensorboard", action="store_true", default=False,
                   help="write each trial's settings and final metrics for TensorBoard's "
                   "HParams dashboard into --out/tensorboard (tensorboard --logdir OUT/"
                   "tensorboard); needs pip install \"nlayer[tensorboard]\"")
    add_verbosity_flags(p)
    p.set_defaults(command="sweep")


def _lr_find_parser(sub):
    p = sub.add_parser("lr-find", help="learning-rate range test: plot loss against rate",
                       argument_default=argparse.SUPPRESS,
                       description="Train a copy of the network for a few hundred batches "
                                   "while the rate grows exponentially; plot the loss "
                                   "against the rate with a (heuristic) suggestion marked.")
    add_data_flags(p)
    add_model_flags(p)
    p.add_argument("--start-lr", type=float, default=1e-6, metavar="RATE",
                   help="first rate of the sweep (default 1e-6)")
    p.add_argument("--end-lr", type=float, default=10.0, metavar="RATE",
                   help="last rate of the sweep (default 10)")
    p.add_argument("--steps", type=int, default=200, help="mini-batches in the sweep "
                   "(default 200; it stops early when the loss blows up)")
    add_output_flags(p, "output directory (default runs/lr-find-<dataset>-<YYYYmmdd-HHMMSS>)")
    p.set_defaults(command="lr-find")


def _experiment_parser(sub):
    from nlayer.experiments import NAMES
    p = sub.add_parser("experiment", help="measure one of the method's claims (or all) and "
                       "compute a verdict", description="Train the networks a claim needs, "
                       "write figures, results.csv and report.md with a computed verdict. "
                       f"Experiments: {', '.join(NAMES)}.")
    p.add_argument("name", metavar="NAME", choices=NAMES, help=f"one of: {', '.join(NAMES)}")
    p.add_argument("--dataset", choices=config.DATASETS, help="default digits")
    p.add_argument("--data-dir", metavar="DIR", help="folder holding the MNIST/Fashion-MNIST files")
    p.add_argument("--quick", action="store_true", help="tiny sizes: seconds, for smoke tests")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="output directory (default runs/experiment-NAME-DATASET-<time>)")
    p.add_argument("--overwrite", action="store_true",
                   help="reuse a non-empty --out, replacing only the files this run writes")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the verdicts")
    p.set_defaults(command="experiment")


def _file_flags(p, what):
    p.add_argument("--csv", metavar="FILE", help=f"{what} a CSV file, read a chunk at a time")
    p.add_argument("--parquet", metavar="FILE", help=f"{what} a Parquet file, read a batch at "
                   "a time (needs pip install \"nlayer[parquet]\")")
    p.add_argument("--npy", metavar="X.npy", help=f"{what} a .npy of encoded features (rows, "
                   "features), memory-mapped")


def _model_commands(sub):
    p = sub.add_parser("evaluate", help="metrics of a saved model on a test set")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--dataset", choices=config.DATASETS,
                   help="default: the test set recorded in the model")
    _file_flags(p, "evaluate on all the labelled rows of")
    p.add_argument("--labels", metavar="Y.npy", help="the targets of --npy, one per row")
    p.add_argument("--target", metavar="COLUMN", help="label column of --csv or --parquet "
                   "(image models: default 'label')")
    p.add_argument("--data-dir", metavar="DIR")
    p.add_argument("--no-download", action="store_true")
    add_verbosity_flags(p)

    p = sub.add_parser("predict", help="predict the rows of a CSV, Parquet or .npy file")
    p.add_argument("model", metavar="MODEL")
    _file_flags(p, "predict the rows of")
    p.add_argument("--out", metavar="FILE", default=None, help="output CSV (default: stdout)")
    p.add_argument("--overwrite", action="store_true", default=False,
                   help="replace the --out file if it exists")
    p.add_argument("--dropna", action="store_true", help="skip rows with missing values")
    p.add_argument("--quiet", "-q", action="store_true")

    p = sub.add_parser("info", help="architecture, preprocessing and training record of a model")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("export", help="export a model to ONNX")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("output", metavar="OUTPUT.onnx")
    p.add_argument("--overwrite", action="store_true", default=False,
                   help="replace OUTPUT.onnx if it exists")
    add_verbosity_flags(p)


def build_parser():
    parser = Parser(prog="nlayer", description="N-layer perceptrons in NumPy.", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"nlayer {nl.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _train_parser(sub)
    _compare_parser(sub)
    _sweep_parser(sub)
    _lr_find_parser(sub)
    _experiment_parser(sub)
    _model_commands(sub)
    return parser


def parse(argv):
    """Parsed arguments; no command means ``train`` with every default."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["train", *argv]
    return build_parser().parse_args(argv)


def _one_line(exc):
    text = exc.message(CLI_FIXES) if hasattr(exc, "message") and hasattr(exc, "fixes") \
        else str(exc)
    text = " ".join(part.strip() for part in text.splitlines() if part.strip())
    return text or type(exc).__name__


USER_ERRORS = (UserError, DatasetError, nl.ModelFileError, nl.TrainingDivergedError,
               nl.ModelTooLargeError, nl.NotFittedError, ValueError, OSError)

#: The fixes errors suggest, worded as this command line's flags (see nlayer.errors).
CLI_FIXES = {
    "lr": "a smaller --lr (e.g. 10x smaller)",
    "scale_targets": "--scale-targets (standardised regression targets)",
    "normalize": "--normalize standard",
    "init": "--init auto",
    "layers": "fewer or narrower --hidden layers",
    "batch_size": "a smaller --batch-size",
    "dtype": "--dtype float32",
}


def run(args):
    from . import commands, comparison, experiment, lr_find, sweep, train
    console = Console(highlight=False)
    handlers = {"train": train.run, "compare": comparison.run, "sweep": sweep.run,
                "lr-find": lr_find.run, "experiment": experiment.run, "evaluate": commands.evaluate,
                "predict": commands.predict, "info": commands.info, "export": commands.export}
    return handlers[args.command](args, console)


def main(argv=None):
    """Entry point of the ``nlayer`` command; returns the exit code."""
    try:
        return run(parse(argv))
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:  # e.g. `nlayer predict ... | head`
        return 0
    except USER_ERRORS as exc:
        print(f"nlayer: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nlayer: aborted", file=sys.stderr)
        return 130
