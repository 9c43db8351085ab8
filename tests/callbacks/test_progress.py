"""What fit(verbose=...) prints: nothing, one bar redrawn in place, or a line per epoch."""

import io
import sys

import numpy as np
import pytest

import nlayer as nl
from nlayer.callbacks import progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as sys.stdout does in an interactive shell."""

    def isatty(self):
        return True


def _fit(verbose, epochs=3, rows=200, **kwargs):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 4))
    y = (X[:, 0] > 0).astype(int)
    model = nl.MLP(hidden=(8,))
    model.compile(metrics=["accuracy"])
    return model.fit(X, y, epochs=epochs, batch_size=16, validation_split=0.2, seed=0,
                     verbose=verbose, **kwargs)


def _on(stream, monkeypatch, verbose, **kwargs):
    monkeypatch.setattr(sys, "stdout", stream)
    _fit(verbose, **kwargs)
    return stream.getvalue()


def test_verbose_0_prints_nothing_and_adds_no_callback(capsys):
    assert progress.reporter(0) is None and progress.reporter(False) is None
    _fit(0)
    assert capsys.readouterr() == ("", "")


def test_verbose_2_prints_one_line_per_epoch_with_dev_metrics(capsys):
    _fit(2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(l.startswith(f"epoch {i}/3  train loss ")
                                   for i, l in enumerate(lines, 1))
    assert "|  dev loss" in lines[0] and "acc" in lines[0]


def test_verbose_1_off_a_terminal_prints_epoch_lines_not_a_redrawn_bar(capsys):
    _fit(1)
    out = capsys.readouterr().out
    assert "\r" not in out and len(out.splitlines()) == 3


def test_verbose_1_on_a_terminal_redraws_one_line(monkeypatch):
    pytest.importorskip("tqdm")
    out = _on(Terminal(), monkeypatch, 1)
    assert out.count("\n") == 1 and out.endswith("\n")  # one line, ended once at the end
    last = out.rstrip("\n").split("\r")[-1]
    assert "epoch 3/3" in last and "batch 10/10" in last and "| dev loss" in last
    assert "30/30" in last  # one bar over 3 epochs x 10 batches


def test_without_tqdm_the_bar_is_nlayers_own_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import tqdm.auto -> ImportError
    out = _on(Terminal(), monkeypatch, True)
    frames = out.rstrip("\n").split("\r")[1:]
    assert out.count("\n") == 1 and frames
    assert frames[-1].startswith("epoch 3/3 [####################] batch 10/10")
    assert "| dev loss" in frames[-1] and "left" in frames[-1]


def test_the_bar_is_redrawn_at_most_every_interval(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setattr(progress, "INTERVAL", 3600.0)
    out = _on(Terminal(), monkeypatch, 1, epochs=2, rows=2000)  # 100 batches per epoch
    assert out.count("\r") == 3  # the first batch, then only the two epochs' ends


def test_the_bar_line_is_ended_when_training_raises(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    stream = Terminal()
    monkeypatch.setattr(sys, "stdout", stream)
    model = nl.Sequential([nl.Dense(1)])
    model.compile(optimizer=nl.SGD(lr=1e30))
    X = np.full((64, 2), 1e3)
    with pytest.raises(nl.TrainingDivergedError):
        model.fit(X, np.full(64, 1e3), epochs=5, batch_size=8, verbose=1)
    assert stream.getvalue().endswith("\n")


@pytest.mark.parametrize("bad", [3, -1, "yes", 1.5, None])
def test_a_bad_verbose_is_named(bad):
    with pytest.raises(ValueError, match=r"verbose must be 0 \(silent\), 1 .* or 2 .*got"):
        _fit(bad)


def test_the_cli_prints_the_same_epoch_lines():
    from nlayer.callbacks.progress import epoch_line
    cli = pytest.importorskip("nlayer.cli.progress", exc_type=ImportError)
    assert cli.epoch_line is epoch_line
