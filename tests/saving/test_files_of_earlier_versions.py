"""Files written by earlier versions load unchanged: a model and a checkpoint that nlayer 0.1.0
wrote (``tests/fixtures/make_v0_1_0.py`` says how), read by today's code."""

from pathlib import Path

import numpy as np
import pytest

import checkpoint_run as run  # tests/helpers
import nlayer as nl

V0_1_0 = Path(__file__).resolve().parents[1] / "fixtures" / "v0_1_0"


class Batches(nl.Callback):
    count = 0

    def on_batch_end(self, batch, logs=None):
        self.count += 1


@pytest.fixture(scope="module")
def expected():
    with np.load(V0_1_0 / "expected.npz", allow_pickle=False) as f:
        return dict(f)


def test_a_0_1_0_model_loads_with_its_weights_and_predicts_the_same(expected):
    model = nl.load(V0_1_0 / "model.nlayer")
    weights = model.get_weights()
    assert len(weights) == len([k for k in expected if k.startswith("w")])
    for i, w in enumerate(weights):
        np.testing.assert_array_equal(w, expected[f"w{i}"])  # read back to the bit
    np.testing.assert_allclose(model.predict(expected["X"]), expected["predictions"],
                               rtol=1e-6, atol=1e-7)
    assert model.metadata == {"fixture": "nlayer 0.1.0", "classes": ["a", "b", "c"]}
    assert model.history.history["loss"] == expected["loss"].tolist()
    assert model.normalizer is not None and model.optimizer.name == "adam"


def test_a_0_1_0_checkpoint_resumes_to_the_uninterrupted_end(tmp_path, expected):
    """The checkpoint (epoch 3, batch 5) continues to the run's end: the same weights as the
    uninterrupted run computed now, bit for bit, and as 0.1.0's to float32 rounding."""
    checkpoint = tmp_path / "checkpoint.nlayer"
    checkpoint.write_bytes((V0_1_0 / "checkpoint.nlayer").read_bytes())
    resumed_batches, all_batches = Batches(), Batches()
    resumed = run.train("adam", checkpoint, every_batches=10 ** 6, callbacks=[resumed_batches])
    uninterrupted = run.train("adam", callbacks=[all_batches])
    assert resumed_batches.count == all_batches.count - 25  # it went on from batch 25
    for a, b in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_array_equal(a, b)
    for i, w in enumerate(resumed.get_weights()):
        np.testing.assert_allclose(w, expected[f"w{i}"], rtol=1e-5, atol=1e-6)
    assert resumed.history.history["loss"] == uninterrupted.history.history["loss"]


def test_a_0_1_0_checkpoint_reads_as_the_model_at_that_moment():
    model = nl.load(V0_1_0 / "checkpoint.nlayer")
    assert model.optimizer.iterations == 2 * 10 + 5  # two whole epochs of 10 batches, then 5
    assert len(model.history.epoch) == 2
