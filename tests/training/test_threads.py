"""nlayer._threads: the BLAS thread count chosen for the work (behaviour only, no timing)."""

import numpy as np
import pytest

import nlayer as nl
from nlayer.training import threads as _threads

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.fixture(autouse=True)
def no_recent_look(monkeypatch):
    """Every test starts without a look at the machine to reuse."""
    monkeypatch.setattr(_threads, "_last_look", (-_threads.LOOK_SECONDS, 0.0))


def blas_threads():
    return max(lib["num_threads"] for lib in threadpoolctl.threadpool_info()
               if lib["user_api"] == "blas")


def built(n_in, hidden, n_out=10):
    model = nl.MLP(hidden=hidden, n_outputs=n_out)
    model.compile(optimizer=nl.SGD(lr=0.01), metrics=["accuracy"])
    return model.build((None, n_in), seed=0)


def test_small_products_get_one_thread_large_ones_are_left_alone(monkeypatch):
    monkeypatch.delenv(_threads.ENV, raising=False)
    monkeypatch.setattr(_threads, "busy_elsewhere", lambda samples=1: 0.0)  # a quiet machine
    digits = built(64, (256, 128))  # largest product 32 x 64 x 256 = 524,288 multiply-adds
    fashion = built(784, (256, 128))  # 128 x 784 x 256 = 25.7 million
    assert _threads.choose(digits, 32) == 1
    assert _threads.choose(fashion, 128) is None
    assert _threads.choose(fashion, 16) == 1  # 16 x 784 x 256 = 3.2 million < 2^22


@pytest.mark.parametrize("setting, expected", [("off", None), ("3", 3), (" AUTO ", 1)])
def test_the_environment_variable_overrides_the_choice(monkeypatch, setting, expected):
    monkeypatch.setenv(_threads.ENV, setting)
    assert _threads.choose(built(64, (32,)), 32) == expected


@pytest.mark.parametrize("setting", ["0", "two", "-1"])
def test_a_bad_setting_is_named(monkeypatch, setting):
    monkeypatch.setenv(_threads.ENV, setting)
    with pytest.raises(ValueError, match="NLAYER_BLAS_THREADS must be 'auto', 'off' or a whole "
                                         f"number >= 1, got '{setting}'"):
        _threads.choose(built(64, (32,)), 32)


class RecordThreads(nl.Callback):
    def __init__(self):
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(blas_threads())


def test_fit_runs_small_models_on_one_thread_and_restores_the_setting(monkeypatch, rng):
    monkeypatch.delenv(_threads.ENV, raising=False)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        if before < 2:
            pytest.skip("BLAS runs one thread here anyway")
        recorder = RecordThreads()
        model = nl.MLP(hidden=(16,))
        model.compile(optimizer=nl.SGD(lr=0.01))
        model.fit(rng.normal(size=(64, 8)), np.arange(64) % 3, epochs=2, batch_size=16,
                  callbacks=[recorder])
        assert recorder.seen == [1, 1]
        assert blas_threads() == before
        monkeypatch.setenv(_threads.ENV, "off")
        recorder.seen.clear()
        model.fit(rng.normal(size=(64, 8)), np.arange(64) % 3, epochs=1, callbacks=[recorder])
        assert recorder.seen == [before]


def test_the_limit_never_raises_the_thread_count(monkeypatch):
    monkeypatch.setenv(_threads.ENV, "8")
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        with _threads.limit(built(64, (32,)), 32):
            assert blas_threads() == 1


def test_results_do_not_depend_on_the_thread_choice(monkeypatch, rng):
    X, y = rng.normal(size=(200, 20)), np.arange(200) % 4
    weights = []
    for setting in ("auto", "off"):
        monkeypatch.setenv(_threads.ENV, setting)
        model = nl.MLP(hidden=(32,), dtype="float64")
        model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9))
        model.fit(X, y, epochs=3, batch_size=32, seed=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("busy, cpus, expected", [
    (0.0, 2, None), (0.4, 2, None), (1.0, 2, 1), (2.5, 2, 1), (1.0, 4, 3), (0.0, 1, None),
])
def test_large_passes_leave_the_cores_others_are_using(monkeypatch, busy, cpus, expected):
    monkeypatch.delenv(_threads.ENV, raising=False)
    looks = []
    monkeypatch.setattr(_threads, "busy_elsewhere", lambda samples: looks.append(samples) or busy)
    monkeypatch.setattr(_threads, "_cpus", lambda: cpus)
    fashion = built(784, (256, 128))
    assert _threads.choose(fashion, 128, fresh_look=True) == expected  # fit: a fresh look
    assert _threads.choose(fashion, 128) == expected  # predict/evaluate: reuse a recent one
    assert _threads.choose(fashion, 128, fresh_look=True) == expected
    assert looks == [_threads.LOAD_SAMPLES, _threads.LOAD_SAMPLES]
    assert _threads.choose(built(64, (32,)), 32, fresh_look=True) == 1  # small: no look
    assert len(looks) == 2


def test_running_threads_are_read_from_proc():
    counts = _threads._running_threads()
    if counts is None:
        pytest.skip("no /proc/stat here")
    total, own = counts
    assert own >= 1 and total >= own  # this thread is running while it reads them
    assert _threads.busy_elsewhere(samples=2, pause=0) >= 0.0
