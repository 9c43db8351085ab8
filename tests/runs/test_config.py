"""Settings resolution of ``nlayer train`` (in-process: no training, fast)."""

import re
import tomllib

import pytest

pytest.importorskip("rich")

from nlayer.runs import config  # noqa: E402
from nlayer.cli.app import parse  # noqa: E402
from nlayer.runs.errors import UserError  # noqa: E402
from nlayer.runs.rundir import toml_text  # noqa: E402


def explicit(argv):
    args = parse(["train", *argv])
    return {k: v for k, v in vars(args).items() if k in config.CHECKS}, args.config


def resolve(argv):
    return config.resolve(*explicit(argv))


def test_no_flags_gives_the_digits_row():
    cfg = resolve([])
    row = {**config.COMMON, **config.DEFAULTS["digits"]}
    assert cfg["dataset"] == "digits"
    assert {k: cfg[k] for k in row if k != "dataset"} == {k: row[k] for k in row if k != "dataset"}


def test_only_explicit_flags_are_reported():
    assert explicit(["--epochs", "3", "--no-download", "--batchnorm"])[0] == \
        {"epochs": 3, "download": False, "batchnorm": True}


def test_file_then_flags(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('dataset = "fashion-mnist"\nbatch-size = 64\nepochs = 7\nhidden = [10, 5]\n'
                    "no-download = true\n")
    cfg = resolve(["--config", str(path), "--epochs", "2", "--no-batchnorm"])
    assert cfg["dataset"] == "fashion-mnist" and cfg["batch_size"] == 64
    assert cfg["epochs"] == 2 and cfg["hidden"] == [10, 5] and cfg["download"] is False
    assert cfg["dropout"] == config.DEFAULTS["fashion-mnist"]["dropout"]  # the dataset's row


def test_lr_follows_the_optimizer():
    assert resolve([])["lr"] == config.DEFAULTS["digits"]["lr"]
    assert resolve(["--optimizer", "adam"])["lr"] == config.DEFAULT_LR["adam"]
    assert resolve(["--optimizer", "adam", "--lr", "0.1"])["lr"] == 0.1


def test_csv_settings():
    cfg = resolve(["--csv", "x.csv", "--target", "y"])
    assert cfg["dataset"] is None and cfg["hidden"] == config.DEFAULTS["csv"]["hidden"]
    with pytest.raises(UserError, match="--target"):
        resolve(["--csv", "x.csv"])
    with pytest.raises(UserError, match="not both"):
        resolve(["--csv", "x.csv", "--target", "y", "--dataset", "digits"])


@pytest.mark.parametrize("text, words", [
    ("epochs = 0\n", "epochs"),
    ('optimizer = "lbfgs"\n', "optimizer"),
    ("hidden = [3, -1]\n", "hidden"),
    ("dropout = 1.0\n", "dropout"),
    ("speed = 3\n", "unknown key 'speed'"),
    ("epochs = \n", "cannot read"),
    ('schedule = "warp"\n', "schedule must be one of constant, step, exponential, cosine, "
                            "onecycle, plateau, got 'warp'"),
    ("weight-decay = -1\n", "weight_decay must be a number in [0, inf), got -1"),
    ("lr-factor = 1.5\n", "lr_factor must be a number in (0, 1], got 1.5"),
    ("monitor-metric = 3\n", "monitor_metric must be a log key"),
    ("batch_size = 32\nbatch-size = 64\n", "'batch_size' and 'batch-size' both set batch_size"),
    ("dev = 0.2\ndev_split = 0.1\n", "'dev' and 'dev_split' both set dev_split; keep one"),
    ("dev_split = 0\npatience = 3\n", "patience 3 stops training early on the development set, "
                                      "and dev_split 0 leaves none"),
])
def test_bad_files(tmp_path, text, words):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=re.escape(words)):
        config.resolve({}, path)


def test_written_config_reads_back_the_same(tmp_path):
    cfg = resolve(["--hidden", "8", "--nesterov", "--l2", "0.001"])
    path = tmp_path / "config.toml"
    path.write_text(toml_text(cfg))
    with open(path, "rb") as fh:
        assert set(tomllib.load(fh)) <= set(config.KEYS)
    assert config.resolve({}, path) == cfg


def test_schedule_decay_and_monitor_flags():
    cfg = resolve(["--schedule", "onecycle", "--warmup", "3", "--weight-decay", "5e-4",
                   "--monitor-metric", "val_accuracy", "--lr-factor", "0.5", "--no-cycle-momentum"])
    assert (cfg["schedule"], cfg["warmup"], cfg["weight_decay"]) == ("onecycle", 3.0, 5e-4)
    assert (cfg["monitor_metric"], cfg["lr_factor"], cfg["cycle_momentum"]) == \
        ("val_accuracy", 0.5, False)
    assert resolve([])["schedule"] == "constant"


def test_schedule_keys_in_toml(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('schedule = "cosine"\nwarmup = 2\nmin-lr = 0.001\nweight-decay = 0.01\n'
                    'monitor-metric = "val_accuracy"\nlr-patience = 4\n')
    cfg = config.resolve({}, path)
    assert (cfg["schedule"], cfg["warmup"], cfg["min_lr"], cfg["weight_decay"]) == \
        ("cosine", 2.0, 0.001, 0.01)
    assert cfg["monitor_metric"] == "val_accuracy" and cfg["lr_patience"] == 4
    again = tmp_path / "again.toml"
    again.write_text(toml_text(cfg))
    assert config.resolve({}, again) == cfg


def test_settings_become_the_library_schedule():
    import nlayer as nl
    from nlayer.runs.train import build_model, learning_rate, plateau

    cfg = resolve(["--schedule", "onecycle", "--lr", "0.2", "--epochs", "10", "--warmup", "2",
                   "--momentum", "0.95"])
    s = learning_rate(cfg)
    assert isinstance(s, nl.schedules.OneCycle)
    assert (s.max_lr, s.epochs, s.warmup, s.momentum_range) == (0.2, 10.0, 0.2, [0.85, 0.95])
    model = build_model({**cfg, "weight_decay": 1e-3}, "classification", 10)
    assert model.optimizer.schedule is not None and model.optimizer.weight_decay == 1e-3
    assert learning_rate(resolve(["--lr", "0.3"])) == 0.3
    cut = plateau(resolve(["--schedule", "plateau", "--lr-factor", "0.5", "--lr-patience", "2",
                           "--monitor-metric", "val_accuracy"]))
    assert (cut.factor, cut.patience, cut.mode) == (0.5, 2, "max")
    with pytest.raises(ValueError, match="onecycle warmup must be between 0 and epochs"):
        learning_rate(resolve(["--schedule", "onecycle", "--epochs", "5", "--warmup", "5"]))


def test_compare_keeps_a_constant_rate_recipe_for_images():
    """compare trains every peer with a constant SGD rate and L2: not the adam + cosine recipe."""
    from nlayer.runs import config
    train = config.resolve({"dataset": "fashion-mnist", "recipe": "fast"})
    compare = config.resolve({"dataset": "fashion-mnist"}, defaults=config.COMPARE_DEFAULTS)
    assert (train["optimizer"], train["schedule"], train["dropout"]) == ("adam", "cosine", 0.2)
    assert train["normalize"] == "standard"
    # the fast mnist recipe: the same, pixels scaled to [0, 1]
    mnist = config.resolve({"dataset": "mnist", "recipe": "fast"})
    assert {k: v for k, v in mnist.items() if k not in ("dataset", "normalize")} == \
        {k: v for k, v in train.items() if k not in ("dataset", "normalize")}
    assert mnist["normalize"] == "minmax"
    # the defaults: three of the fast network trained adversarially, averaged, on every
    # training image (its epochs are fixed: a development split would only report); on mnist
    # a wider net on moved images
    assert config.resolve({"dataset": "fashion-mnist"}) == {
        **train, "recipe": "default", "ensemble": 3, "dev_split": 0.0, "adversarial": 0.01}
    assert train["dev_split"] == compare["dev_split"] == 0.1
    wide = config.resolve({"dataset": "mnist"})
    assert (wide["hidden"], wide["dropout"], wide["epochs"], wide["augment"],
            wide["normalize"]) == ([1024, 1024], 0.3, 30, "shift=2", "global")
    assert (compare["augment"], compare["ensemble"]) == (None, 1)
    assert (compare["optimizer"], compare["schedule"], compare["weight_decay"]) == \
        ("sgd", "constant", 0)
    assert (compare["hidden"], compare["lr"], compare["l2"], compare["epochs"]) == \
        ([256, 128], 0.01, 1e-4, 30)


def test_no_development_set_turns_the_recipes_early_stopping_off_in_the_config():
    cfg = config.resolve({"dev_split": 0.0})
    assert cfg["dev_split"] == 0 and cfg["patience"] == 0
    with pytest.raises(UserError, match="patience 2 stops training early"):
        config.resolve({"dev_split": 0.0, "patience": 2})


def test_hidden_as_a_flag_needs_at_least_one_width():
    with pytest.raises(UserError, match="--hidden: expected at least one argument"):
        parse(["train", "--hidden"])
    assert parse(["train", "--hidden", "8", "4"]).hidden == [8, 4]


def test_augment_is_kept_in_its_canonical_text_from_flags_and_files(tmp_path):
    assert resolve(["--augment", " shift=2 ,flip"])["augment"] == "shift=2,flip"
    # augmentation moves ink onto border pixels: scaled globally unless asked otherwise
    assert resolve(["--augment", "flip"])["normalize"] == "global"
    assert resolve(["--augment", "flip", "--normalize", "standard"])["normalize"] == "standard"
    assert resolve(["--augment", "none"])["normalize"] == "standard"
    assert resolve(["--augment", "none"])["augment"] is None
    path = tmp_path / "c.toml"
    path.write_text('augment = "elastic, rotate=5"\n')
    assert resolve(["--config", str(path)])["augment"] == "elastic=34:4,rotate=5"
    with pytest.raises(UserError, match=r"augment: shift=0.5: .*whole number >= 1"):
        resolve(["--augment", "shift=0.5"])
    path.write_text("augment = 3\n")
    with pytest.raises(UserError, match="augment: an augmentation is a list such as"):
        resolve(["--config", str(path)])


def test_adversarial_training_is_an_epsilon_from_flags_and_files_and_0_turns_it_off(tmp_path):
    assert resolve(["--adversarial", "0.02"])["adversarial"] == 0.02
    assert resolve(["--adversarial", "0"])["adversarial"] is None
    assert resolve(["--dataset", "digits"])["adversarial"] is None
    path = tmp_path / "c.toml"
    path.write_text("adversarial = 0.05\n")
    assert resolve(["--config", str(path)])["adversarial"] == 0.05
    path.write_text('adversarial = "none"\n')
    assert resolve(["--config", str(path)])["adversarial"] is None
    with pytest.raises(UserError, match=r"adversarial must be a number in \[0, inf\), got -0.1"):
        resolve(["--adversarial", "-0.1"])
    path.write_text('adversarial = "a"\n')
    with pytest.raises(UserError, match="adversarial must be a number"):
        resolve(["--config", str(path)])


def test_a_recipe_setting_turned_off_stays_off_in_the_written_config(tmp_path):
    # None is left out of a TOML file, and a left-out key takes the dataset's recipe again
    path = tmp_path / "config.toml"
    for flags, key in ((["--dataset", "mnist", "--augment", "none"], "augment"),
                       (["--dataset", "fashion-mnist", "--adversarial", "0"], "adversarial")):
        cfg = resolve(flags)
        assert cfg[key] is None and resolve(flags[:2])[key] is not None
        path.write_text(toml_text(cfg))
        assert config.resolve({}, path) == cfg


def test_a_named_recipe_replaces_the_datasets_row():
    fast = resolve(["--dataset", "fashion-mnist", "--recipe", "fast"])
    row = config.RECIPES["fast"]["fashion-mnist"]
    assert {k: fast[k] for k in row} == {k: v for k, v in row.items()}
    assert resolve(["--dataset", "digits", "--recipe", "fast"]) == \
        {**resolve(["--dataset", "digits"]), "recipe": "fast"}
    # quick: the fast recipe cut to 3 epochs (its cosine decay with them), without dropout
    for name in ("fashion-mnist", "mnist"):
        fast = resolve(["--dataset", name, "--recipe", "fast"])
        assert resolve(["--dataset", name, "--recipe", "quick"]) == \
            {**fast, "recipe": "quick", "epochs": 3, "dropout": 0.0}
    assert resolve(["--dataset", "digits", "--recipe", "quick"])["epochs"] == 100
    with pytest.raises(UserError, match="--recipe: invalid choice: 'slow'"):
        parse(["train", "--recipe", "slow"])


def test_an_ensemble_refuses_the_flags_that_watch_one_network():
    assert resolve(["--ensemble", "4"])["ensemble"] == 4
    with pytest.raises(UserError, match="--monitor watch one network, and ensemble 3 trains 3"):
        resolve(["--ensemble", "3", "--monitor", "10"])
    with pytest.raises(UserError, match="ensemble must be a whole number >= 1"):
        resolve(["--ensemble", "0"])
