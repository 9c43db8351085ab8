"""nl.plot_layer_stats: both figures from a monitored fit, and its errors."""

import numpy as np
import pytest

import nlayer as nl

pytest.importorskip("matplotlib")


def _tiny():
    model = nl.Sequential([nl.Dense(4, activation="tanh"), nl.Dense(2, activation="softmax")],
                          dtype="float64")
    model.compile(optimizer=nl.SGD(lr=0.1))
    return model


def test_plot_layer_stats_writes_both_figures(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 3)), rng.integers(0, 2, 32)
    model = _tiny()
    model.fit(X, y, epochs=2, batch_size=8, callbacks=[nl.LayerMonitor(2)])
    monitor = nl.LayerMonitor(2)
    model.fit(X, y, epochs=2, batch_size=8, callbacks=[monitor])
    for kind in ("gradients", "activations"):
        path = tmp_path / f"{kind}.png"
        nl.plot_layer_stats(model.history, path, kind=kind)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = nl.plot_layer_stats(model.history, kind="activations",
                              samples=monitor.activation_samples)
    assert fig.axes[0].get_title() == "distribution of A per layer"
    with pytest.raises(ValueError, match="no layer statistics to plot; train with"):
        nl.plot_layer_stats(nl.History())
    with pytest.raises(ValueError, match="kind must be 'gradients' or 'activations'"):
        nl.plot_layer_stats(model.history, kind="weights")
