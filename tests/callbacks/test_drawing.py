"""Figures handed to the user (History.plot, plot_layer_stats): kept by pyplot in a script
(``plt.show()`` shows them), let go of under Jupyter's inline backend so that a notebook
shows each once (a real kernel checks that: test_live_plot); short reprs for what a user
leaves as a cell's last line."""

import numpy as np
import pytest

import nlayer as nl

plt = pytest.importorskip("matplotlib.pyplot")
Figure = pytest.importorskip("matplotlib.figure").Figure


@pytest.fixture(scope="module")
def history():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    model = nl.MLP(hidden=(4,), activation="tanh")
    model.compile(metrics=["accuracy"])
    return model.fit(X, (X[:, 0] > 0).astype(int), epochs=3, batch_size=16,
                     validation_split=0.25, seed=0, callbacks=[nl.LayerMonitor(2)])


def test_history_plot_returns_a_figure_a_script_can_show(history):
    plt.close("all")
    fig = history.plot()
    assert isinstance(fig, Figure) and plt.get_fignums() == [fig.number]
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["Loss", "Accuracy"]
    assert [len(l.get_xdata()) for l in fig.axes[0].lines[:2]] == [3, 3]  # train and dev


def test_history_plot_writes_a_png(history, tmp_path):
    history.plot(path=tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_history_plot_errors_name_the_fix(history):
    with pytest.raises(ValueError, match="nothing to plot until fit"):
        nl.History().plot()
    with pytest.raises(ValueError, match="no 'r2' in this history; recorded: .*accuracy"):
        history.plot(metric="r2")


def test_figures_are_let_go_of_only_under_the_inline_backend(history, monkeypatch):
    plt.close("all")
    for kind in ("gradients", "activations"):
        assert isinstance(nl.plot_layer_stats(history, kind=kind), Figure)
    assert len(plt.get_fignums()) == 2
    plt.close("all")
    monkeypatch.setattr(plt, "get_backend", lambda: "module://matplotlib_inline.backend_inline")
    nl.plot_layer_stats(history)
    history.plot()
    assert plt.get_fignums() == []


def test_history_repr_is_one_short_line(history):
    text = repr(history)
    assert text.startswith("History(epochs=3, best_epoch=") and "val_loss=" in text
    assert "\n" not in text and len(text) < 120


def test_lr_finder_result_repr_leaves_out_the_arrays():
    rng = np.random.default_rng(0)
    model = nl.MLP(hidden=(4,))
    model.compile()
    result = nl.lr_find(model, rng.normal(size=(64, 3)), np.arange(64) % 2, steps=50)
    text = repr(result)
    assert text.startswith("LRFinderResult(steps=") and "suggestion=" in text
    assert "array" not in text and len(text) < 120
