"""Training settings: built-in defaults per dataset, a TOML file, explicit flags.

Precedence, lowest first: ``COMMON`` < ``DEFAULTS[dataset]`` < ``--config FILE`` <
flags given on the command line. Keys are snake_case; kebab-case works in files.
"""

import math
import tomllib
from pathlib import Path

from nlayer import optimizers, preprocessing, schedules
from nlayer.training.augmentation import Augmentation
from nlayer.datasets import DATASETS
from nlayer.datasets.csvread import not_a_regular_file

from .errors import UserError

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
INITS = ("auto", "he_normal", "he_uniform", "glorot_normal", "glorot_uniform", "xavier",
         "random_normal")
OPTIMIZERS = optimizers.NAMES
NORMALIZERS = (*preprocessing.NORMALIZERS, "none")
DTYPES = ("float32", "float64")
TASKS = ("auto", "classification", "regression")
SCHEDULES = schedules.CHOICES

#: Settings shared by every dataset (a row of DEFAULTS overrides them).
COMMON = {
    "dataset": "digits", "csv": None, "npy": None, "labels": None, "test_npy": None,
    "test_labels": None, "parquet": None, "test_parquet": None, "target": None, "task": "auto",
    "dropna": False, "data_dir": None, "download": True,
    "hidden": [256, 128], "activation": "relu", "init": "he_normal", "batchnorm": False,
    "dropout": 0.0, "optimizer": "sgd", "lr": None, "momentum": 0.9, "nesterov": False,
    "l2": 1e-4, "epochs": 30, "batch_size": 128, "patience": 5, "dev_split": 0.1,
    "normalize": "standard", "scale_targets": True, "dtype": "float32", "seed": 0,
    "checkpoint_every": 1, "class_weight": "none",
    "schedule": "constant", "warmup": None, "lr_factor": None, "lr_every": None,
    "lr_patience": 3, "min_lr": 0.0, "cycle_momentum": True, "weight_decay": 0.0,
    "monitor_metric": "val_loss", "monitor": None, "tensorboard": False, "mlflow": False,
    "augment": None, "adversarial": None, "recipe": "default", "ensemble": 1,
}

#: The recipes of 0.1: adam with a cosine decay of its rate, dropout instead of L2; chosen
#: on the dev splits (benchmarks/results/fashion_recipe.md): reach 0.88 on fashion-mnist in
#: 2-4 epochs; mnist's pixels scaled to [0, 1] (standard scaling inflates its near-empty
#: border). ``--recipe fast`` (0.90 on fashion-mnist in 22 s).
FAST = {
    "mnist":         {"hidden": [512, 256], "optimizer": "adam", "lr": 0.001,
                      "schedule": "cosine", "weight_decay": 0.0, "l2": 0.0, "dropout": 0.2,
                      "epochs": 20, "patience": 0, "normalize": "minmax"},
    "fashion-mnist": {"hidden": [512, 256], "optimizer": "adam", "lr": 0.001,
                      "schedule": "cosine", "weight_decay": 0.0, "l2": 0.0, "dropout": 0.2,
                      "epochs": 20, "patience": 0},
}

#: ``--recipe quick``: the fast recipe cut to 3 epochs without dropout (its cosine decay ends
#: with the run), for a first look in seconds: on fashion-mnist's development split 0.8917-
#: 0.8940 after 3 epochs against 2 epochs' 0.8883 (the shortest run that clears 0.88 with
#: room; dropout only slows so short a run). Test: 0.886 in 5 s (mnist 0.978 in 4 s).
QUICK = {name: {**row, "dropout": 0.0, "epochs": 3} for name, row in FAST.items()}

#: The recipe each dataset trains with when no flag says otherwise. The image recipes were
#: chosen on the development split only (benchmarks/results/fashion_recipe.md): on mnist a
#: wider net on images moved by up to 2 pixels (global scaling: a shift moves ink into the
#: border), on fashion-mnist three fast-recipe networks trained adversarially (epsilon 0.01:
#: members 0.9085-0.9100 on the dev split against 0.9043-0.9060 plain; no augmentation
#: helped) and averaged, on every training image (10 % fewer rows cost 0.3-0.4 points of dev
#: accuracy; the recipe's epochs are fixed, so a development split would only report).
DEFAULTS = {
    "digits":        {"optimizer": "sgd", "lr": 0.05, "l2": 0.1, "batch_size": 32,
                      "epochs": 100, "patience": 10},
    "mnist":         {**FAST["mnist"], "hidden": [1024, 1024], "dropout": 0.3, "epochs": 30,
                      "normalize": "global", "augment": "shift=2"},
    "fashion-mnist": {**FAST["fashion-mnist"], "ensemble": 3, "dev_split": 0.0,
                      "adversarial": 0.01},
    "csv":           {"hidden": [64, 32], "optimizer": "adam", "lr": 0.01, "batch_size": 32,
                      "epochs": 300, "patience": 20, "l2": 0.0},
}

#: ``--recipe NAME``: the rows a named recipe has (``default``: DEFAULTS).
RECIPES = {"default": DEFAULTS, "fast": {**DEFAULTS, **FAST}, "quick": {**DEFAULTS, **QUICK}}

#: The recipe of ``nlayer compare``, which trains every system with a constant SGD rate and
#: the method's L2 (no schedule, no weight decay): the images keep the earlier default recipe.
COMPARE_DEFAULTS = {**DEFAULTS, **{name: {"optimizer": "sgd", "lr": 0.01, "dropout": 0.2,
                                         "epochs": 30, "patience": 0}
                                  for name in ("mnist", "fashion-mnist")}}

#: Learning rate when the optimizer is not the one a DEFAULTS row was tuned for.
DEFAULT_LR = {"sgd": 0.05, "adam": 0.001, "adamw": 0.001, "rmsprop": 0.001}

#: Spellings accepted in files besides the canonical keys.
ALIASES = {"no_download": "download", "dev": "dev_split", "validation_split": "dev_split"}


def _choice(options):
    def check(key, v):
        if not isinstance(v, str) or v.lower() not in options:
            raise UserError(f"{key} must be one of {', '.join(options)}, got {v!r}")
        return v.lower()
    return check


def _integer(low):
    def check(key, v):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise UserError(f"{key} must be a whole number >= {low}, got {v!r}")
        return v
    return check


def _number(low, high=math.inf, low_open=False, high_open=True):
    def check(key, v):
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
        ok = ok and (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
        if not ok:
            lo, hi = "(" if low_open else "[", ")" if high_open else "]"
            raise UserError(f"{key} must be a number in {lo}{low}, {high}{hi}, got {v!r}")
        return float(v)
    return check


def _boolean(key, v):
    if not isinstance(v, bool):
        raise UserError(f"{key} must be true or false, got {v!r}")
    return v


def _text(key, v):
    if v is not None and not isinstance(v, str):
        raise UserError(f"{key} must be a string, got {v!r}")
    return v


def _hidden(key, v):
    v = [v] if isinstance(v, int) and not isinstance(v, bool) else v
    if not isinstance(v, list) or not all(isinstance(u, int) and not isinstance(u, bool)
                                          and u >= 1 for u in v):
        raise UserError(f"{key} must be a list of layer widths >= 1 (e.g. [256, 128]), got {v!r}")
    return list(v)


def _lr(key, v):
    return None if v is None else _number(0, low_open=True)(key, v)


def _optional(check):
    return lambda key, v: None if v is None else check(key, v)


#: settings that None turns off, each with the value that reads back as off: a settings file
#: writes it (rundir.toml_text), since a key left out takes the dataset's recipe again
OFF = {"augment": "none", "adversarial": 0}


def _off(v):
    return v is None or (isinstance(v, str) and v.strip().lower() == "none")


def _augment(key, v):
    """The augmentation's text (``shift=2,flip``) in its canonical form; None without."""
    if _off(v):
        return None
    try:
        return Augmentation.parse(v).spec()
    except (ValueError, TypeError) as exc:
        raise UserError(f"{key}: {exc}") from None


def _adversarial(key, v):
    """fit's adversarial epsilon (> 0), or None: 0 or "none" turns it off."""
    if _off(v):
        return None
    v = _number(0)(key, v)
    return v or None


def _key_name(key, v):
    if not isinstance(v, str) or not v:
        raise UserError(f"{key} must be a log key such as val_loss or val_accuracy, got {v!r}")
    return v


CHECKS = {
    "dataset": _choice(DATASETS), "csv": _text, "npy": _text, "labels": _text,
    "test_npy": _text, "test_labels": _text, "parquet": _text, "test_parquet": _text,
    "target": _text, "task": _choice(TASKS),
    "dropna": _boolean, "data_dir": _text, "download": _boolean,
    "hidden": _hidden, "activation": _choice(ACTIVATIONS), "init": _choice(INITS),
    "batchnorm": _boolean, "dropout": _number(0, 1), "optimizer": _choice(OPTIMIZERS),
    "lr": _lr, "momentum": _number(0, 1), "nesterov": _boolean, "l2": _number(0),
    "epochs": _integer(1), "batch_size": _integer(1), "patience": _integer(0),
    "dev_split": _number(0, 1), "normalize": _choice(NORMALIZERS),
    "scale_targets": _boolean, "dtype": _choice(DTYPES),
    "seed": _integer(0), "checkpoint_every": _integer(0),
    "class_weight": _choice(("none", "balanced")),
    "schedule": _choice(SCHEDULES), "warmup": _optional(_number(0)),
    "lr_factor": _optional(_number(0, 1, low_open=True, high_open=False)),
    "lr_every": _optional(_number(0, low_open=True)), "lr_patience": _integer(0),
    "min_lr": _number(0), "cycle_momentum": _boolean, "weight_decay": _number(0),
    "monitor_metric": _key_name, "monitor": _optional(_integer(1)),
    "tensorboard": _boolean, "mlflow": _boolean, "augment": _augment,
    "adversarial": _adversarial, "recipe": _choice(tuple(RECIPES)), "ensemble": _integer(1),
}
KEYS = tuple(CHECKS)
#: the largest TOML file read (settings and sweep specs are a few lines)
MAX_TOML_BYTES = 10 << 20


def read_toml(path):
    """The settings in a TOML file, keys normalised to snake_case and checked."""
    return normalise(load_toml(path), Path(path))


def load_toml(path, what="config file"):
    """The raw tables of a TOML file; a missing or malformed file is a one-line UserError."""
    path = Path(path)
    problem = not_a_regular_file(path)
    if problem:
        raise UserError(f"{what} {path} {problem}; give the path of a TOML file")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_TOML_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"{what} {path} not found") from None
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {exc}") from None
    if len(raw) > MAX_TOML_BYTES:
        raise UserError(f"{what} {path} is larger than {MAX_TOML_BYTES >> 20} MiB; settings fit "
                        "in a few lines (is it the right file?)")
    try:
        return tomllib.loads(raw.decode("utf-8").removeprefix("\ufeff"))  # a BOM is allowed
    except UnicodeDecodeError:
        raise UserError(f"cannot read {what} {path}: not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"cannot read {what} {path}: {exc}") from None


def normalise(raw, where):
    """Settings keyed by canonical name (aliases and kebab-case resolved; unknown keys named)."""
    settings, written = {}, {}
    for key, value in raw.items():
        name = canonical(key)
        if name == "download" and key.replace("-", "_").lower() == "no_download" \
                and isinstance(value, bool):
            value = not value
        if name not in CHECKS:
            raise UserError(f"{where}: unknown key {key!r}; valid keys: {', '.join(KEYS)}")
        once(written, name, key, where)
        settings[name] = value
    return settings


def once(written, name, key, where):
    """Refuse a setting given twice under two spellings (``batch_size`` and ``batch-size``,
    ``dev`` and ``dev_split``): which one wins would be a guess."""
    if name in written:
        raise UserError(f"{where}: {written[name]!r} and {key!r} both set {name}; keep one")
    written[name] = key


def canonical(key):
    """The snake_case name of a setting as written in a file (``batch-size`` -> ``batch_size``)."""
    name = str(key).replace("-", "_").lower()
    return ALIASES.get(name, name)


#: The settings that choose what a run trains on: one of them (the others are its options).
SOURCES = ("dataset", "csv", "npy", "parquet")
#: The settings that belong to one source only.
SOURCE_OPTIONS = {"labels": "npy", "test_npy": "npy", "test_labels": "npy",
                  "test_parquet": "parquet"}


def _data_source(from_file, explicit):
    """File and flag settings merged; a source flag (--dataset, --csv, --npy, --parquet)
    replaces the file's choice of source, and the options of the source it replaces."""
    chosen = {**from_file, **explicit}
    given = [key for key in SOURCES if key in explicit]
    if given:
        for key in (*SOURCES, *SOURCE_OPTIONS):
            source = SOURCE_OPTIONS.get(key, key)
            if key not in explicit and source not in given:
                chosen.pop(key, None)
    both = [key for key in SOURCES if chosen.get(key)]
    if len(both) > 1:
        flags = " and ".join("--" + key for key in both)
        raise UserError(f"give one of --dataset, --csv, --npy or --parquet: {flags} both choose "
                        "the data, not both")
    return chosen


def source_name(cfg):
    """What a run's directory is named after: the data file's stem, or the dataset."""
    path = cfg.get("csv") or cfg.get("npy") or cfg.get("parquet")
    return Path(path).stem if path else cfg["dataset"]


def _check_source(cfg):
    """The options of the chosen source are given, and no option of another is."""
    if cfg["target"] and not (cfg["csv"] or cfg["parquet"]):
        own = "--npy takes its targets from --labels FILE" if cfg["npy"] else \
            f"the built-in dataset {cfg['dataset']!r} has its own labels"
        raise UserError(f"--target {cfg['target']} names a column of a CSV or Parquet file; pass "
                        f"--csv FILE or --parquet FILE too ({own})")
    for key, source in SOURCE_OPTIONS.items():
        if cfg[key] and not cfg[source]:
            raise UserError(f"--{key.replace('_', '-')} goes with --{source} FILE")
    if cfg["npy"] and not cfg["labels"]:
        raise UserError("--npy needs --labels FILE (a .npy of the targets, one per row of X)")
    if bool(cfg["test_npy"]) != bool(cfg["test_labels"]):
        raise UserError("give --test-npy and --test-labels together (the test rows and their "
                        "targets), or neither (a split of --npy's rows)")
    if (cfg["csv"] or cfg["parquet"]) and not cfg["target"]:
        flag = "--csv" if cfg["csv"] else "--parquet"
        raise UserError(f"{flag} needs --target COLUMN (the column to predict)")
    if cfg["npy"] and cfg["dropna"]:
        raise UserError("--dropna drops CSV or Parquet rows with missing values; a .npy holds "
                        "numbers only (NaN is refused: drop those rows first)")


def resolve(explicit, config_path=None, defaults=None):
    """Merge defaults, the file and explicit flags into one checked dict of every key.

    ``defaults`` replaces :data:`DEFAULTS` (``nlayer compare`` uses :data:`COMPARE_DEFAULTS`).
    """
    explicit = {k: v for k, v in explicit.items() if k in CHECKS}
    chosen = _data_source(read_toml(config_path) if config_path else {}, explicit)
    files = any(chosen.get(key) for key in SOURCES[1:])
    table = "csv" if files else CHECKS["dataset"]("dataset", chosen.get("dataset", "digits"))
    recipe = CHECKS["recipe"]("recipe", chosen.get("recipe", COMMON["recipe"]))
    row = (defaults or RECIPES[recipe])[table]
    cfg = {key: CHECKS[key](key, value) for key, value in {**COMMON, **row, **chosen}.items()}
    if chosen.get("lr") is None:  # the row's lr was tuned for the row's optimizer only
        tuned = row.get("lr") if cfg["optimizer"] == row.get("optimizer") else None
        cfg["lr"] = tuned or DEFAULT_LR[cfg["optimizer"]]
    if cfg["dev_split"] == 0 and cfg["patience"] > 0:
        if "patience" in chosen:
            raise UserError(f"patience {cfg['patience']} stops training early on the development "
                            "set, and dev_split 0 leaves none; give dev_split > 0, or patience 0")
        cfg["patience"] = 0  # the recipe's early stopping needs the development set given up
    if files:
        cfg["dataset"] = None
    if cfg["augment"] and cfg["normalize"] == "standard" and "normalize" not in chosen:
        cfg["normalize"] = "global"  # per-pixel scaling blows up the border a shift fills
    _check_source(cfg)
    if cfg["ensemble"] > 1:
        alone = [f"--{k}" for k in ("monitor", "tensorboard", "mlflow") if cfg[k]]
        if alone:
            raise UserError(f"{' and '.join(alone)} watch one network, and ensemble "
                            f"{cfg['ensemble']} trains {cfg['ensemble']}; use ensemble 1 "
                            "to watch one, or drop the flag")
    return cfg


def defaults_table():
    """Rows (dataset, settings) of the effective built-in recipe, for docs and --help."""
    return {name: {**COMMON, **row} for name, row in DEFAULTS.items()}
