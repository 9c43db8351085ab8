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


def test_val_monitor_without_a_dev_set_is_an_error_that_says_the_fix():
    """Watching the training loss instead would choose the model on the rows it learns from."""
    es = nl.EarlyStopping(patience=1)
    es.set_model(FakeModel())
    es.on_train_begin()
    with pytest.raises(ValueError) as err:
        es.on_epoch_end(1, {"loss": 1.0, "accuracy": 0.5, "lr": 0.1, "seconds": 1.0})
    assert str(err.value) == (
        "EarlyStopping monitors 'val_loss' but the epoch's logs have only accuracy, loss, lr, "
        "seconds; there is no development set: give fit validation_split or validation_data, "
        "or monitor 'loss' (the training value)")


def test_a_misspelt_monitor_fails_at_the_first_epoch_naming_the_keys():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    model = nl.MLP(hidden=(4,))
    model.compile(optimizer=nl.SGD(lr=0.1), metrics=["accuracy"])
    seen = []

    class Count(nl.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    with pytest.raises(ValueError, match=r"EarlyStopping monitors 'val_acc_score' but the epoch's "
                       r"logs have only accuracy, loss, lr, seconds, val_accuracy, val_loss; "
                       r"check the spelling"):
        model.fit(X, y, epochs=5, validation_split=0.25, seed=0,
                  callbacks=[Count(), nl.EarlyStopping(monitor="val_acc_score", mode="max")])
    assert seen == [1]


@pytest.mark.parametrize("monitor, mode", [
    ("val_accuracy", "max"), ("accuracy", "max"), ("val_r2", "max"), ("r2", "max"),
    ("val_mae", "min"), ("mse", "min"), ("loss", "min"), ("val_loss", "min"),
    ("val_compare_loss", "min"),
])
def test_mode_is_inferred_from_the_metric(monitor, mode):
    assert nl.EarlyStopping(monitor=monitor).mode == mode
    assert nl.ReduceLROnPlateau(monitor=monitor).mode == mode


def test_early_stopping_on_r2_stops_when_it_stops_rising():
    es = nl.EarlyStopping(monitor="val_r2", patience=2)
    model, stopped = drive(es, [0.1, 0.5, 0.4, 0.45, 0.9], key="val_r2")
    assert stopped == 4 and es.best_epoch == 2 and model.weights[0][0] == 2


def test_a_name_without_a_direction_needs_mode():
    with pytest.raises(ValueError, match="cannot tell whether 'val_widgets' is better higher or "
                       "lower; give mode='max' or mode='min'"):
        nl.EarlyStopping(monitor="val_widgets")
    assert nl.EarlyStopping(monitor="val_widgets", mode="max").mode == "max"


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


# -- ReduceLROnPlateau ---------------------------------------------------------------------

class FakeOptimizer:
    schedule = None

    def __init__(self, lr):
        self.lr = lr


def plateau_run(callback, values, lr=1.0):
    model = FakeModel()
    model.optimizer = FakeOptimizer(lr)
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, v in enumerate(values, start=1):
        callback.on_epoch_end(epoch, {"val_loss": v, "loss": v})
        rates.append(model.optimizer.lr)
    return rates


def test_plateau_reduces_after_patience_then_cools_down():
    cb = nl.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1)
    # best, +1, +2 -> cut, cooldown (not counted), +1, +2 -> cut, cooldown (better), +1
    rates = plateau_run(cb, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.6])
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]


def test_plateau_respects_min_lr_min_delta_and_max_mode():
    cb = nl.ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.05, min_delta=0.1)
    assert plateau_run(cb, [1.0, 0.95, 0.9, 0.85]) == [1.0, 0.1, 0.05, 0.05]
    cb = nl.ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1)
    model = FakeModel()
    model.optimizer = FakeOptimizer(0.2)
    cb.set_model(model)
    cb.on_train_begin()
    for epoch, acc in enumerate([0.5, 0.7, 0.6], start=1):
        cb.on_epoch_end(epoch, {"val_accuracy": acc})
    assert model.optimizer.lr == 0.1


def test_plateau_state_continues_exactly():
    values = [1.0, 0.9, 0.95, 0.97, 0.99, 0.8, 0.85, 0.9, 0.91]
    whole = plateau_run(nl.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1), values)
    first = nl.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1)
    head = plateau_run(first, values[:4])
    second = nl.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1)
    model = FakeModel()
    model.optimizer = FakeOptimizer(head[-1])
    second.set_model(model)
    second.on_train_begin()
    second.set_state(first.get_state())
    tail = []
    for epoch, v in enumerate(values[4:], start=5):
        second.on_epoch_end(epoch, {"val_loss": v})
        tail.append(model.optimizer.lr)
    assert head + tail == whole and min(whole) < 1.0


def test_plateau_in_fit_lowers_the_logged_rate():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), rng.integers(0, 2, size=60)  # nothing to learn: a plateau
    model = nl.MLP(hidden=(4,))
    model.compile(optimizer=nl.SGD(lr=0.1))
    h = model.fit(X, y, epochs=12, validation_split=0.3, seed=0,
                  callbacks=[nl.ReduceLROnPlateau(factor=0.5, patience=1)])
    lrs = h.history["lr"]
    assert lrs[0] == 0.1 and lrs[-1] < 0.1
    assert all(b in (a, a * 0.5) for a, b in zip(lrs, lrs[1:]))


def test_plateau_refuses_a_scheduled_optimizer():
    model = nl.MLP(hidden=(4,))
    model.compile(optimizer=nl.SGD(lr=nl.schedules.OneCycle(0.1)))
    with pytest.raises(ValueError, match="optimiser follows a schedule; use one or the other"):
        model.fit(np.ones((4, 2)), [0, 1, 0, 1], epochs=1,
                  callbacks=[nl.ReduceLROnPlateau(monitor="loss")])


@pytest.mark.parametrize("kwargs, message", [
    ({"factor": 1.0}, "factor must be a number in (0, 1), got 1.0"),
    ({"factor": 0}, "factor must be a number in (0, 1), got 0"),
    ({"patience": -1}, "patience must be a whole number >= 0, got -1"),
    ({"cooldown": 1.5}, "cooldown must be a whole number >= 0, got 1.5"),
    ({"min_lr": -1.0}, "min_lr must be a finite number >= 0, got -1.0"),
    ({"min_delta": float("nan")}, "min_delta must be a finite number >= 0, got nan"),
    ({"mode": "up"}, "mode must be 'auto', 'min' or 'max', got 'up'"),
])
def test_plateau_bad_arguments(kwargs, message):
    with pytest.raises(ValueError) as err:
        nl.ReduceLROnPlateau(**kwargs)
    assert message in str(err.value)
