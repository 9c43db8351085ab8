"""Settings resolution of ``nlayer train`` (in-process: no training, fast)."""

import tomllib

import pytest

pytest.importorskip("rich")

from nlayer.cli import config  # noqa: E402
from nlayer.cli.app import parse  # noqa: E402
from nlayer.cli.errors import CLIError  # noqa: E402
from nlayer.cli.rundir import toml_text  # noqa: E402


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
    with pytest.raises(CLIError, match="--target"):
        resolve(["--csv", "x.csv"])
    with pytest.raises(CLIError, match="not both"):
        resolve(["--csv", "x.csv", "--target", "y", "--dataset", "digits"])


@pytest.mark.parametrize("text, words", [
    ("epochs = 0\n", "epochs"),
    ('optimizer = "lbfgs"\n', "optimizer"),
    ("hidden = [3, -1]\n", "hidden"),
    ("dropout = 1.0\n", "dropout"),
    ("speed = 3\n", "unknown key 'speed'"),
    ("epochs = \n", "cannot read"),
])
def test_bad_files(tmp_path, text, words):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(CLIError, match=words):
        config.resolve({}, path)


def test_written_config_reads_back_the_same(tmp_path):
    cfg = resolve(["--hidden", "8", "--nesterov", "--l2", "0.001"])
    path = tmp_path / "config.toml"
    path.write_text(toml_text(cfg))
    with open(path, "rb") as fh:
        assert set(tomllib.load(fh)) <= set(config.KEYS)
    assert config.resolve({}, path) == cfg
