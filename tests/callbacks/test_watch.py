import math

import pytest

from nlayer.callbacks.watch import Monitor, infer_mode


@pytest.mark.parametrize("key, mode", [
    ("val_accuracy", "max"), ("balanced_accuracy", "max"), ("val_auc", "max"), ("f1", "max"),
    ("val_loss", "min"), ("mae", "min"), ("val_rmse", "min"), ("val_mean_squared_error", "min"),
])
def test_infer_mode(key, mode):
    assert infer_mode(key) == mode


def test_improved_honours_mode_min_delta_and_nan():
    low = Monitor("X", "val_loss", min_delta=0.1)
    assert low.improved(1.0, None) and low.improved(0.85, 1.0)
    assert not low.improved(0.95, 1.0) and not low.improved(math.nan, None)
    high = Monitor("X", "val_accuracy")
    assert high.improved(0.8, 0.7) and not high.improved(0.7, 0.7)


def test_value_names_the_available_keys():
    m = Monitor("X", "val_los", mode="min")
    assert m.value({"val_los": 0.3}) == 0.3
    with pytest.raises(ValueError, match="X monitors 'val_los' but the epoch's logs have only "
                       "loss, val_loss; check the spelling"):
        m.value({"loss": 1.0, "val_loss": 0.5})
    with pytest.raises(TypeError, match="X monitor must be a log key"):
        Monitor("X", None)
