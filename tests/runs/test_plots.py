"""The figures of run directories: comparison.png's panel of differences to nlayer."""

import numpy as np
import pytest

mpimg = pytest.importorskip("matplotlib.image")

from nlayer.runs import plots  # noqa: E402


def test_the_comparison_says_how_closely_each_peer_follows_nlayer(tmp_path):
    loss = [1.0, 0.5, 0.25]
    curves = {"nlayer": {"loss": loss, "val_loss": [1.1, 0.6, 0.3], "accuracy": [0.5, 0.7, 0.9]},
              "sklearn": {"loss": list(loss), "accuracy": [0.5, 0.7, 0.9]},          # identical
              "keras": {"loss": [1.0, 0.501, 0.25], "accuracy": [0.5, 0.7, 0.875]}}
    gaps = plots.comparison(tmp_path / "c.png", curves)
    assert gaps["sklearn"] == {"loss": 0.0, "accuracy": 0.0}
    assert gaps["keras"]["loss"] == pytest.approx(1e-3)
    assert gaps["keras"]["accuracy"] == pytest.approx(0.025)
    image = mpimg.imread(tmp_path / "c.png")
    assert image.shape[:2] == (500, 1400) and np.ptp(image[:, 700:]) > 0  # a drawn panel


def test_without_nlayer_there_is_nothing_to_compare_with(tmp_path):
    gaps = plots.comparison(tmp_path / "c.png", {"keras": {"loss": [1.0, 0.5]}})
    assert gaps == {} and (tmp_path / "c.png").is_file()
