"""nlayer.training.threads: the BLAS thread count, chosen from the work only (behaviour, no timing)."""

import subprocess
import sys

import numpy as np
import pytest

import nlayer as nl
from nlayer.training import threads as _threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_threads():
    """The thread count of NumPy's BLAS, as the library reports it now (SciPy may load a
    BLAS of its own later, which nlayer's numbers never go through)."""
    return _threads.configured()


def built(n_in, hidden, n_out=10):
    model = nl.MLP(hidden=hidden, n_outputs=n_out)
    model.compile(optimizer=nl.SGD(lr=0.01), metrics=["accuracy"])
    return model.build((None, n_in), seed=0)


def test_small_products_get_one_thread_large_ones_are_left_alone(monkeypatch):
    monkeypatch.delenv(_threads.ENV, raising=False)
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


def small_fit(rng, **fit):
    recorder = RecordThreads()
    model = nl.MLP(hidden=(16,))
    model.compile(optimizer=nl.SGD(lr=0.01))
    history = model.fit(rng.normal(size=(64, 8)), np.arange(64) % 3, batch_size=16,
                        callbacks=[recorder, *fit.pop("callbacks", [])], **fit)
    return recorder.seen, history


def test_fit_runs_small_models_on_one_thread_reports_it_and_restores_the_setting(
        monkeypatch, rng):
    monkeypatch.delenv(_threads.ENV, raising=False)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        if before < 2:
            pytest.skip("BLAS runs one thread here anyway")
        seen, history = small_fit(rng, epochs=2)
        assert seen == [1, 1] and history.params["blas_threads"] == 1
        assert history.params["epochs"] == 2 and history.params["steps"] == 4
        assert blas_threads() == before
        monkeypatch.setenv(_threads.ENV, "off")
        seen, history = small_fit(rng, epochs=1)
        assert seen == [before] and history.params["blas_threads"] == before


def test_the_limit_only_lowers_the_count_except_for_a_resume(monkeypatch):
    monkeypatch.setenv(_threads.ENV, "8")
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        with _threads.limit(built(64, (32,)), 32) as used:
            assert blas_threads() == 1 and used == 1
        with _threads.limit(built(64, (32,)), 32, threads=2) as used:  # the run had 2
            assert blas_threads() == 2 and used == 2
        assert blas_threads() == 1


def test_a_resumed_fit_runs_with_the_threads_its_checkpoint_recorded(monkeypatch, rng, tmp_path):
    """The checkpoint says one thread: the resume uses one, whatever the setting is now."""
    monkeypatch.delenv(_threads.ENV, raising=False)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() < 2:
            pytest.skip("BLAS runs one thread here anyway")
        path = tmp_path / "run.ckpt"
        X, y = rng.normal(size=(64, 8)), np.arange(64) % 3

        def fit(epochs, **kw):
            model = nl.MLP(hidden=(16,))
            model.compile(optimizer=nl.SGD(lr=0.01))
            recorder = RecordThreads()
            history = model.fit(X, y, epochs=epochs, batch_size=16, seed=1,
                                callbacks=[recorder, nl.ModelCheckpoint(path)], **kw)
            return recorder.seen, history
        fit(1)
        monkeypatch.setenv(_threads.ENV, "off")  # BLAS as configured: 2 threads
        seen, history = fit(2, resume_from=path)
        assert seen == [1] and history.params["blas_threads"] == 1


def test_a_busy_machine_does_not_change_the_threads_or_the_numbers(monkeypatch, rng):
    """Two processes spinning on the cores: fit still gets its count and its bits."""
    monkeypatch.delenv(_threads.ENV, raising=False)
    X = rng.normal(size=(256, 784)).astype(np.float32)
    y = np.arange(256) % 10

    def fit():
        model = nl.MLP(hidden=(256,), dtype="float32")
        model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9))
        history = model.fit(X, y, epochs=2, batch_size=128, seed=0)
        return history.params["blas_threads"], model.get_weights()
    quiet = fit()
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        busy = fit()
    finally:
        for p in burners:
            p.kill()
            p.wait()
    assert busy[0] == quiet[0] == _threads.configured()
    for a, b in zip(quiet[1], busy[1]):
        np.testing.assert_array_equal(a, b)


def test_results_do_not_depend_on_the_thread_choice_in_float64(monkeypatch, rng):
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


def test_kernel_is_openblass_own_architecture():
    names = {lib["architecture"] for lib in threadpoolctl.threadpool_info()
             if lib["internal_api"] == "openblas"}  # NumPy's, and SciPy's once it is loaded
    if len(names) != 1:
        pytest.skip(f"OpenBLAS libraries with {len(names)} kernel sets here")
    assert _threads.kernel() == names.pop() != ""


def test_kernel_is_unknown_without_threadpoolctl(monkeypatch):
    monkeypatch.setattr(_threads, "_controller", False)  # as when the import failed
    assert _threads.kernel() is None
