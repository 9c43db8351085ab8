"""The six tutorials, executed in quick mode in a real Jupyter kernel: every number a notebook states
is checked here against what it printed, fit(verbose=1) shows one bar, and the figures are there."""

import re
from pathlib import Path

import pytest

import nlayer

TUTORIALS = sorted((Path(__file__).resolve().parents[2] / "docs" / "tutorials").glob("*.ipynb"))
SRC = Path(nlayer.__file__).resolve().parents[1]  # the kernels must import this nlayer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _streams(cell, name="stdout"):
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.output_type == "stream" and o.name == name)


def _text(nb):
    return "".join(_streams(c) for c in nb.cells if c.cell_type == "code")


def _number(pattern, text):
    found = re.findall(pattern, text)
    assert found, f"{pattern!r} not printed"
    return [float(f) if isinstance(f, str) else tuple(map(float, f)) for f in found]


def _images(nb):
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []))


def test_the_six_tutorials_are_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    assert [p.stem[:2] for p in TUTORIALS] == ["01", "02", "03", "04", "05", "06"]
    for path in TUTORIALS:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), path.name


@pytest.mark.parametrize("stem, figures", [("01_one_layer_by_hand", 1), ("02_going_deep", 3),
                                           ("03_initialisation", 1), ("04_overfitting", 3),
                                           ("05_normalisation", 2), ("06_mnist_vs_keras", 1)])
def test_each_runs_on_this_nlayer_with_figures_and_one_progress_bar_per_fit(executed, stem, figures):
    nb = executed[stem]
    assert f"imported {SRC}" in _streams(nb.cells[-1])
    assert "(quick mode)" in _text(nb)
    assert _images(nb) >= figures
    for cell in nb.cells:
        fits = cell.source.count("verbose=1") if cell.cell_type == "code" else 0
        if fits:  # one bar per fit call, redrawn in place: one line of many carriage returns
            text = _streams(cell) + _streams(cell, "stderr")
            bars = len(re.findall(r"\r\s*0%\|", text))
            lines = [line for line in text.split("\n") if re.search(r"epoch \d+/\d+", line)]
            assert bars >= fits and len(lines) == bars, cell.source
            assert all(line.count("\r") >= 3 for line in lines), cell.source


def test_1_hand_written_and_nlayer_passes_agree_and_the_gradients_check(executed):
    text = _text(executed["01_one_layer_by_hand"])
    (forward, backward), = _number(r"forward pass agrees to (\S+); backward pass agrees to (\S+)", text)
    assert forward < 1e-6 and backward < 1e-6
    by_hand = _number(r"finite differences\s+\S+, relative error (\S+)", text)
    assert len(by_hand) == 5 and max(by_hand) < 1e-6
    assert _number(r"largest relative error over every parameter = (\S+)", text)[0] < 1e-6
    assert _number(r"test accuracy (\S+),", text)[0] > 0.8


def test_2_naive_weights_vanish_large_ones_explode_and_auto_init_trains(executed):
    text = _text(executed["02_going_deep"])
    sigmoid, relu, tanh = _number(r"first layer / the output layer = (\S+)", text)
    assert sigmoid < 1e-3 and relu > 1e3 and 1e-2 < tanh < 1e2
    assert "TrainingDivergedError" in text and _number(r"largest dW RMS = (\S+);", text)[0] > 1e3
    naive_accuracy, auto_accuracy = _number(r"development accuracy after \d+ epochs: (\S+)", text)
    assert naive_accuracy < 0.2 < 0.5 < auto_accuracy


def test_3_he_and_glorot_keep_the_layers_together_where_naive_does_not(executed):
    text = _text(executed["03_initialisation"])
    rows = _number(r"keeps dZ RMS within a factor of (\S+) across 10 layers; N\(0, 0.01²\) spreads it "
                   r"by (\S+), N\(0, 1\) by (\S+)", text)
    assert len(rows) == 2  # tanh with glorot_normal, relu with he_normal
    for scaled, small, unit in rows:
        assert scaled < 10 and small > 1e3 and unit > 1e2


def test_4_l2_is_the_same_in_cost_and_gradient_and_early_stopping_restores_the_best_epoch(executed):
    text = _text(executed["04_overfitting"])
    (difference, penalty), = _number(r"cost with L2 - cost without = (\S+); λ/\(2m\) Σ‖W‖² = (\S+)", text)
    assert penalty > 0 and abs(difference - penalty) <= 1e-5 * penalty
    assert _number(r"- \(λ/m\) W: largest entry (\S+)", text)[0] < 1e-6
    (train, dev), = _number(r"without L2: train accuracy (\S+), development (\S+);", text)
    assert train == 1.0 and dev < train
    (stopped, epochs, best), = _number(r"stopped at epoch (\d+) of (\d+); best epoch (\d+)", text)
    assert best < stopped < epochs and stopped - best == 10  # patience 10
    now, recorded = re.search(r"development loss now (\S+); recorded at epoch \d+: (\S+)", text).groups()
    assert now == recorded


def test_5_standardised_inputs_and_batch_norm_train_where_the_others_do_not(executed):
    text = _text(executed["05_normalisation"])
    accuracy = dict(re.findall(r"normalize=(\w+)\s+development accuracy after 30 epochs ([\d.]+)", text))
    assert float(accuracy["standard"]) > float(accuracy["None"]) + 0.1
    without, with_bn = _number(r"batchnorm=\w+\s*: best development accuracy ([\d.]+)", text)
    assert with_bn > without + 0.3
    assert "batchnorm=True : best development accuracy" in text and "reached 0.9 at epoch" in text


def test_6_nlayer_and_keras_train_alike(executed):
    text = _text(executed["06_mnist_vs_keras"])
    rows = dict(re.findall(r"^(nlayer|keras)\s+(\S+)\s+\S+\s+\d+\s+\S+$", text, flags=re.M))
    assert float(rows["nlayer"]) > 0.8
    if "keras" in rows:  # Keras installed (the compare extra)
        (loss_gap, accuracy_gap), = _number(r"training loss (\S+), development accuracy (\S+)", text)
        assert loss_gap < 1e-3 and accuracy_gap < 0.02
        assert abs(float(rows["keras"]) - float(rows["nlayer"])) < 0.02
    else:
        assert "only nlayer ran" in text
