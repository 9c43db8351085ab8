import warnings

import numpy as np
import pytest

import nlayer as nl


class FakeModel:
    def __init__(self):
        self.stop_training = False
        self.weights = [np.zeros(1)]
        self.history = nl.History()

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, w):
        self.weights = [a.copy() for a in w]


def drive(callback, values, key="val_loss"):
    model = FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, v in enumerate(values, start=1):
        model.weights = [np.array([epoch], dtype=float)]
        callback.on_epoch_end(epoch, {key: v, "loss": v})
        if model.stop_training:
            break
    callback.on_train_end()
    return model, epoch


def test_early_stopping_waits_patience_epochs_then_restores_the_best():
    es = nl.EarlyStopping(patience=2)
    model, stopped = drive(es, [1.0, 0.5, 0.6, 0.7, 0.4])
    assert stopped == 4 and es.best_epoch == 2
    assert model.weights[0][0] == 2  # weights of the best epoch are back


def test_min_delta_and_max_mode():
    es = nl.EarlyStopping(patience=1, min_delta=0.1)
    _, stopped = drive(es, [1.0, 0.95, 0.5])
    assert stopped == 2  # 0.95 is not better by 0.1
    es = nl.EarlyStopping(monitor="val_accuracy", patience=1)
    assert es.mode == "max"
    _, stopped = drive(es, [0.5, 0.7, 0.6], key="val_accuracy")
    assert stopped == 3 and es.best_epoch == 2


def test_without_restore_the_last_weights_stay():
    es = nl.EarlyStopping(patience=1, restore_best_weights=False)
    model, stopped = drive(es, [1.0, 2.0])
    assert model.weights[0][0] == stopped == 2


def test_monitor_falls_back_to_training_loss_with_a_warning():
    es = nl.EarlyStopping(patience=1)
    model = FakeModel()
    es.set_model(model)
    es.on_train_begin()
    with pytest.warns(UserWarning, match="monitoring 'loss' instead"):
        es.on_epoch_end(1, {"loss": 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        es.on_epoch_end(2, {"loss": 2.0})
    assert model.stop_training


def test_history_best_epoch_and_serialisation():
    h = nl.History()
    for e, v in enumerate([0.9, 0.4, 0.6], start=1):
        h.on_epoch_end(e, {"loss": v + 1, "val_loss": v})
    assert h.best_epoch == 2 and h.stopped_epoch == 3
    again = nl.History.from_dict(h.to_dict())
    assert again.history == h.history and again.best_epoch == 2


@pytest.mark.parametrize("kwargs", [{"patience": -1}, {"min_delta": -0.1}, {"mode": "up"}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        nl.EarlyStopping(**kwargs)
