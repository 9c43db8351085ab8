"""nl.LivePlot: redrawn in place in a real Jupyter kernel, written to a file when given a path,
throttled, and idle (nothing imported, nothing drawn) in a plain script."""

import sys
from pathlib import Path

import numpy as np
import pytest

import nlayer as nl

PNG = b"\x89PNG\r\n\x1a\n"


def _fit(callbacks, epochs=5, monitor=False):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 4))
    model = nl.MLP(hidden=(8, 8), activation="tanh")
    model.compile(metrics=["accuracy"])
    extra = [nl.LayerMonitor(every_batches=2)] if monitor else []
    return model.fit(X, (X[:, 0] > 0).astype(int), epochs=epochs, batch_size=16,
                     validation_split=0.25, seed=0, callbacks=extra + callbacks)


def test_outside_a_notebook_without_a_path_it_does_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # not even needed
    live = nl.LivePlot()
    _fit([live])
    assert not live.active and live.draws == 0 and "inactive" in repr(live)


@pytest.mark.parametrize("monitor, height", [(False, 252), (True, 504)])
def test_with_a_path_it_writes_the_figure(tmp_path, monitor, height):
    mpimg = pytest.importorskip("matplotlib.image")
    path = tmp_path / "live.png"
    live = nl.LivePlot(every_seconds=0, path=path)
    _fit([live], epochs=3, monitor=monitor)
    assert path.read_bytes()[:8] == PNG and live.draws == 3 and live.seconds > 0
    assert mpimg.imread(path).shape[:2] == (height, 864)  # curves; + dZ, dW, update ratio
    assert [p.name for p in tmp_path.iterdir()] == ["live.png"]  # no temporary left


def test_every_epochs_and_every_seconds_throttle_it(tmp_path):
    pytest.importorskip("matplotlib")
    every_two = nl.LivePlot(every_epochs=2, every_seconds=0, path=tmp_path / "a.png")
    _fit([every_two], epochs=5)
    assert every_two.draws == 3  # epochs 2 and 4, then the last one at the end
    hourly = nl.LivePlot(every_seconds=3600, path=tmp_path / "b.png")
    _fit([hourly], epochs=5)
    assert hourly.draws == 2  # the first epoch, then the last at the end
    auto = nl.LivePlot(path=tmp_path / "c.png")  # redraws within 5 % of the time
    _fit([auto], epochs=5)  # 5 epochs of ~1 ms: no room for a redraw but the last
    assert auto.draws == 1


def test_by_default_redraws_stay_within_their_share_of_the_time(tmp_path):
    from nlayer.callbacks.live_plot import FIRST_COST, MAX_SHARE
    live = nl.LivePlot(path=tmp_path / "d.png")
    live._start = 0.0  # training began at 0 s; nothing drawn yet: a redraw costs FIRST_COST
    first = 2 * FIRST_COST / MAX_SHARE  # room for this redraw and the last one
    assert not live._due(first * 0.99) and live._due(first)
    live.draws, live._cost, live._spent = 1, 1.0, 1.0  # one redraw of 1 s so far
    assert not live._due(59.9) and live._due(60.0)  # 1 + 1 + 1 s within 5 % of 60 s


def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'LivePlot needs matplotlib.*pip install "nlayer\[cli\]"'):
        nl.LivePlot(path=tmp_path / "live.png")


@pytest.mark.parametrize("kwargs, match", [({"every_epochs": 0}, "every_epochs"),
                                           ({"every_seconds": -1}, "every_seconds"),
                                           ({"every_seconds": "often"}, "every_seconds")])
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nl.LivePlot(**kwargs)
    with pytest.raises(TypeError, match="path must be a file name"):
        nl.LivePlot(path=3)


# -- in a real Jupyter kernel ---------------------------------------------------------------------
NOTEBOOK = [
    "import sys; sys.path.insert(0, {src!r})\n"
    "import numpy as np, nlayer as nl\n"
    "rng = np.random.default_rng(0); X = rng.normal(size=(200, 6))\n"
    "model = nl.MLP(hidden=(16, 16, 16), activation='tanh', init='random_normal')\n"
    "model.compile(metrics=['accuracy'])",
    "live = nl.LivePlot(every_seconds=0)\n"
    "history = model.fit(X, (X[:, 0] > 0).astype(int), epochs=4, batch_size=20,\n"
    "                    validation_split=0.2, seed=0, verbose=1,\n"
    "                    callbacks=[nl.LayerMonitor(every_batches=2), live])",
    "print(live.draws, live.notebook, nl.__file__)",
    "history.plot()",
    "model",
]


def test_in_a_jupyter_kernel_it_updates_one_display_in_place():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    src = str(Path(nl.__file__).resolve().parents[1])
    messages = []

    class Recording(nbclient.NotebookClient):
        def process_message(self, msg, cell, cell_index):
            messages.append((cell_index, msg["msg_type"], msg.get("content", {})))
            return super().process_message(msg, cell, cell_index)

    cells = [nbformat.v4.new_code_cell(c.replace("{src!r}", repr(src))) for c in NOTEBOOK]
    nb = nbformat.v4.new_notebook(cells=cells)
    Recording(nb, timeout=180, kernel_name="python3").execute()
    fit = nb.cells[1].outputs
    shown = [o for o in fit if o.output_type == "display_data"]
    assert len(shown) == 1 and "image/png" in shown[0].data
    updates = [c for i, t, c in messages if i == 1 and t == "update_display_data"]
    assert len(updates) == 3 and all("image/png" in c["data"] for c in updates)  # 4 draws
    text = "".join(o.text for o in fit if o.output_type == "stream")
    assert text.count("\n") == 1 and text.count("\r") >= 4 and "epoch 4/4" in text  # one bar
    assert nb.cells[2].outputs[0].text.split()[:2] == ["4", "True"]
    assert src in nb.cells[2].outputs[0].text
    plotted = nb.cells[3].outputs
    assert [o.output_type for o in plotted] == ["execute_result"]  # shown once, not twice
    assert "image/png" in plotted[0].data
    assert "<table>" in nb.cells[4].outputs[0].data["text/html"]
