"""ModelCheckpoint's choice of which way is better (its saving is tested in
tests/callbacks/test_callbacks.py and tests/training/test_resume.py)."""

import pytest

import nlayer as nl


def test_auto_mode_reads_the_name_as_early_stopping_does(tmp_path):
    path = tmp_path / "best.nlayer"
    for monitor, mode in (("val_balanced_accuracy", "max"), ("val_r2", "max"),
                          ("val_mae", "min"), ("loss", "min")):
        assert nl.ModelCheckpoint(path, monitor=monitor, save_best_only=True).mode == mode
        assert nl.EarlyStopping(monitor=monitor).mode == mode
    with pytest.raises(ValueError, match="cannot tell whether 'val_score' is better higher"):
        nl.ModelCheckpoint(path, monitor="val_score", save_best_only=True)
    assert nl.ModelCheckpoint(path, monitor="val_score").mode == "min"  # compares nothing
