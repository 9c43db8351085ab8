"""Adversarial training (nlayer.model.passes, fit(adversarial=...)): the input gradient
against finite differences, one step against its definition, and fit's promises
(reproducible, resumable to the bit, clear errors)."""

import numpy as np
import pytest

import nlayer as nl
from nlayer.model import passes


def float64_model(dropout=0.0, l2=0.0, lr=0.1):
    m = nl.MLP(hidden=(6, 5), activation="tanh", dropout=dropout, n_outputs=3)
    m = nl.Sequential(m.layers, dtype="float64")
    m.compile(optimizer=nl.SGD(lr=lr), loss="categorical_crossentropy", l2=l2)
    m.build((None, 4), seed=0)
    return m


def batch(m=7):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(m, 4))
    Y = np.eye(3)[rng.integers(0, 3, m)]
    return X, Y


def test_back_propagation_to_the_input_matches_finite_differences():
    model, (X, Y) = float64_model(l2=0.1), batch()
    A = model.forward(X, training=True)
    dX = passes.backward(model, A, Y, 1.0, None, need_dX=True)
    numeric = np.zeros_like(X)
    for i in np.ndindex(X.shape):
        for sign in (1, -1):
            moved = X.copy()
            moved[i] += sign * 1e-6
            numeric[i] += sign * passes.cost(model, model.forward(moved, training=True), Y,
                                             None) / 2e-6
    assert np.linalg.norm(dX - numeric) / np.linalg.norm(numeric) < 1e-8
    assert passes.backward(model, A, Y, 1.0, None) is None  # nothing extra unless asked


def gradients_at(model, X, Y):
    A = model.forward(X, training=True)
    J = passes.cost(model, A, Y, None)
    passes.backward(model, A, Y, 1.0, None)
    return J, model._flat_grads.copy()


def test_a_step_descends_the_mean_cost_of_the_batch_and_of_its_moved_copy():
    eps, lr = 0.3, 0.1
    model, (X, Y) = float64_model(l2=0.05, lr=lr), batch()
    reference = float64_model(l2=0.05, lr=lr)
    # the moved copy, by the definition: X + eps sign(dJ/dX) at the weights before the step
    dX = passes.backward(reference, reference.forward(X, training=True), Y, 1.0, None,
                         need_dX=True)
    X_adv = X + eps * np.sign(dX)
    J, g = gradients_at(reference, X, Y)
    J_adv, g_adv = gradients_at(reference, X_adv, Y)
    assert J_adv > J  # the move raises the cost, as it is meant to
    before = model._flat_params.copy()
    J_step, A = model.train_step(X, Y, None, adversarial=eps)
    assert J_step == pytest.approx((J + J_adv) / 2, rel=1e-12)
    np.testing.assert_allclose(model._flat_params, before - lr * (g + g_adv) / 2,
                               rtol=0, atol=1e-14)
    # A is the clean rows' output (fit's training metrics), not the moved copy's
    np.testing.assert_allclose(A, reference.forward(X, training=True), rtol=0, atol=1e-15)


def digits():
    pytest.importorskip("sklearn")
    from nlayer.datasets import load_dataset
    data = load_dataset("digits")
    return data.X_train[:600], data.y_train[:600], data.X_test, data.y_test


def model():
    m = nl.MLP(hidden=(32,), dropout=0.1)
    m.compile(optimizer=nl.Adam(lr=3e-3), metrics=["accuracy"], normalize="standard")
    return m


def test_fit_with_adversarial_training_learns_is_reproducible_and_differs_from_plain():
    X, y, X_test, y_test = digits()
    runs = [model() for _ in range(3)]
    for m, eps in zip(runs, (0.05, 0.05, None)):
        m.fit(X, y, epochs=15, batch_size=32, seed=2, adversarial=eps)
    for a, b in zip(runs[0].get_weights(), runs[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(runs[0].get_weights()[0], runs[2].get_weights()[0])
    assert runs[0].evaluate(X_test, y_test)["accuracy"] > 0.9


def test_an_interrupted_adversarial_fit_resumes_to_the_same_bits(tmp_path):
    X, y, _, _ = digits()
    whole = model()
    whole.fit(X, y, epochs=3, batch_size=32, seed=3, validation_split=0.2, adversarial=0.1)
    ckpt = tmp_path / "ckpt.nlayer"

    class Stop(nl.Callback):
        def on_batch_end(self, batch, logs=None):
            if logs["epoch"] == 2 and batch == 4:
                self.model.stop_training = True
    model().fit(X, y, epochs=3, batch_size=32, seed=3, validation_split=0.2, adversarial=0.1,
                callbacks=[Stop(), nl.ModelCheckpoint(ckpt, every_batches=1)])
    resumed = model()
    resumed.fit(X, y, epochs=3, batch_size=32, validation_split=0.2, adversarial=0.1,
                resume_from=ckpt, callbacks=[nl.ModelCheckpoint(ckpt, every_batches=1)])
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert whole.history.history["loss"] == resumed.history.history["loss"]
    with pytest.raises(nl.CheckpointMismatchError, match="adversarial: 0.2 now, 0.1 in the"):
        model().fit(X, y, epochs=3, batch_size=32, validation_split=0.2, resume_from=ckpt,
                    adversarial=0.2)
    with pytest.raises(nl.CheckpointMismatchError, match="adversarial: None now"):
        model().fit(X, y, epochs=3, batch_size=32, validation_split=0.2, resume_from=ckpt)


@pytest.mark.parametrize("eps", [0, -0.1, float("nan"), float("inf"), True, "0.1"])
def test_an_epsilon_that_is_not_a_positive_number_is_refused_before_training(eps):
    m = model()
    X, y = np.zeros((8, 4)), np.arange(8) % 2
    with pytest.raises(ValueError, match=r"adversarial must be a finite number > 0"):
        m.fit(X, y, epochs=1, adversarial=eps)
    assert not m.built
