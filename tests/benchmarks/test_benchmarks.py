"""The benchmark scripts' own logic (never their timings)."""

import sys
from pathlib import Path

import numpy as np
import pytest

import nlayer as nl

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import batch_breakdown as breakdown  # noqa: E402


@pytest.fixture
def data(rng):
    return rng.random((300, 20), dtype=np.float32), rng.integers(0, 3, size=300)


def small_model():
    model = nl.MLP((8,), n_outputs=3)
    model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), metrics=["accuracy"])
    model.build((None, 20), seed=0)
    return model


def test_breakdown_times_the_real_fit_without_changing_it(data):
    X, y = data
    timed, plain = small_model(), small_model()
    stages, total = breakdown.nlayer_epoch(timed, X, y, batch=32, seed=1)
    plain.fit(X, y, epochs=1, batch_size=32, seed=1)
    np.testing.assert_array_equal(timed._flat_params, plain._flat_params)
    assert set(stages) == {
        "layer 1 (Dense 8, relu) forward", "layer 1 (Dense 8, relu) backward",
        "layer 2 (Dense 3, softmax) forward", "layer 2 (Dense 3, softmax) backward",
        "loss J", "loss dZ = A - Y", "metrics (accuracy)", "optimiser update",
        "loop and gather"}
    assert min(stages.values()) > 0
    assert sum(stages.values()) == pytest.approx(total)
    # the clocks are gone afterwards: the objects use their classes' methods again
    for obj in (*timed.layers, timed.loss, timed.optimizer, *timed.metrics):
        assert not {"forward", "backward", "loss", "dZ", "step", "stats"} & set(vars(obj))


def test_floor_epoch_times_every_layers_products(data, rng):
    X, _ = data
    Ws = [layer.params["kernel"].copy() for layer in small_model().layers]
    total, stages = breakdown.bench.floor_epoch(Ws, X, rng.permutation(300), 32, rng)
    assert set(stages) == {"0 forward", "0 backward", "1 forward", "1 backward", "loop"}
    assert min(stages.values()) > 0
    assert sum(stages.values()) == pytest.approx(total)


def test_table_lists_every_stage_and_the_ratios():
    model = small_model()
    nl_stages = {"layer 1 (Dense 8, relu) forward": 4e-6, "layer 1 (Dense 8, relu) backward": 5e-6,
                 "layer 2 (Dense 3, softmax) forward": 2e-6,
                 "layer 2 (Dense 3, softmax) backward": 1e-6, "loss J": 1e-6,
                 "loss dZ = A - Y": 1e-6, "metrics (accuracy)": 1e-6, "optimiser update": 3e-6,
                 "loop and gather": 2e-6}
    floor = {"0 forward": 3e-6, "0 backward": 4e-6, "1 forward": 1e-6, "1 backward": 1e-6,
             "loop": 1e-6}
    runs = [{"floor": 10e-6, "nlayer": 20e-6, "fit": 18e-6, "plain": 15e-6,
             "floor_stages": floor, "nlayer_stages": nl_stages},
            {"floor": 20e-6, "nlayer": 30e-6, "fit": 28e-6, "plain": 25e-6,
             "floor_stages": floor, "nlayer_stages": nl_stages}]
    text = breakdown.table(runs, model, 300, 32, "random data", "both rounds")
    assert "| layer 1 (Dense 8, relu) forward | 4.0 | 3.0 | +1.0 |" in text
    assert "| optimiser update | 3.0 | 0.0 | +3.0 |" in text
    assert "| loop and gather (rest of the epoch) | 2.0 | 1.0 | +1.0 |" in text
    assert "| **whole batch** | **25.0** | **15.0** | **+10.0** |" in text
    # paired: the medians of the per-round ratios (2.0 and 1.5 with clocks, 1.8 and 1.4
    # without, 1.5 and 1.25 for the plain loop), not ratios of the medians
    assert "nlayer 1.60x (23.0 us per batch; 1.75x with the stage clocks above)" in text
    assert "plain NumPy loop 1.38x (20.0 us per batch)" in text


def test_the_plain_numpy_loop_ends_with_nlayers_weights(data):
    """Same calls in the same order: the reference loop is the same math, to the bit."""
    X, y = data
    model, reference = small_model(), small_model()
    state = breakdown.plain_state(reference)
    Y = reference.loss.prepare_targets(y, 3, reference.dtype)
    order = nl.model.batch_orders(1, 300, 1)[0]
    breakdown.plain_epoch(state, X, Y, order, batch=32, lr=0.05, momentum=0.9)
    model.fit(X, y, epochs=1, batch_size=32, seed=1)
    flat, views = state
    for layer, (kernel, bias) in zip(model.layers, zip(views["p"][0::2], views["p"][1::2])):
        np.testing.assert_array_equal(layer.params["kernel"], kernel)
        np.testing.assert_array_equal(layer.params["bias"], bias)
    assert not np.array_equal(small_model().layers[0].params["kernel"], views["p"][0])


def test_rounds_go_on_until_enough_are_quiet(monkeypatch, rng):
    """The state probe decides: slow rounds (probe 2.0 against the fastest 1.0) do not count."""
    script = iter([1.0, 1.0, 2.0, 2.0, 1.05, 1.0, 1.0])  # warm-up round first
    monkeypatch.setattr(breakdown.bench, "_state_probe", lambda: next(script))
    X, y = rng.random((96, 784), dtype=np.float32), rng.integers(0, 10, size=96)
    probes = []
    runs, _ = breakdown.measure(X, y, batch=32, rounds=2, max_rounds=5, probes=probes)
    assert [r["probe"] for r in runs] == [1.0, 2.0, 2.0, 1.05]  # stopped at the 2nd quiet one
    assert probes == [1.0, 2.0, 2.0, 1.05]
    assert [r["probe"] for r in breakdown.quiet_rounds(runs, probes)] == [1.0, 1.05]
    assert breakdown.quiet_rounds(runs, probes + [0.5]) == []  # judged against the fastest


def test_rounds_stop_at_the_limit_when_the_machine_stays_slow(monkeypatch, rng):
    script = iter([1.0, 1.0] + [3.0] * 10)
    monkeypatch.setattr(breakdown.bench, "_state_probe", lambda: next(script))
    X, y = rng.random((64, 784), dtype=np.float32), rng.integers(0, 10, size=64)
    runs, _ = breakdown.measure(X, y, batch=32, rounds=3, max_rounds=4, probes=[])
    assert len(runs) == 4


def test_concurrency_table_gives_the_ratio_and_the_verdict_per_target():
    import bench_concurrency as concurrency
    rows = [{"case": "digits", "mode": "auto", "alone": 2.0, "pair": 2.5, "rounds": 3},
            {"case": "fashion-mnist", "mode": "1", "alone": 10.0, "pair": 23.0, "rounds": 3},
            {"case": "fashion-mnist", "mode": "auto", "alone": 9.0, "pair": 60.0, "rounds": 3}]
    lines = concurrency.table(rows).splitlines()
    assert lines[2] == "| digits | auto | 2.00 | 2.50 | 1.25x | <= 1.3x: PASS |"
    assert lines[3] == "| fashion-mnist | 1 | 10.00 | 23.00 | 2.30x | <= 2.2x: MISS |"
    assert lines[4] == "| fashion-mnist | auto | 9.00 | 60.00 | 6.67x |  |"
    assert concurrency.environment("off")["NLAYER_BLAS_THREADS"] == "off"
    assert "NLAYER_BLAS_THREADS" not in concurrency.environment("auto")
    assert concurrency.command("fashion-mnist", "o", 4)[3:9] == [
        "train", "--dataset", "fashion-mnist", "--epochs", "4", "--patience"]


def test_fit_overhead_measures_the_fixed_cost_and_judges_it():
    import bench_fit_overhead as overhead
    ms = overhead.measure(repeats=2)
    assert ms["fit_fixed"] == ms["one"] - ms["per_batch"] and ms["per_batch"] > 0
    text = overhead.report({**ms, "fit_fixed": 0.5}, 2, (0.1, 0.2))
    assert "| **fixed cost per `fit` call** (target < 3 ms: PASS) | **0.500** |" in text
    assert "MISS" in overhead.report({**ms, "fit_fixed": 3.5}, 2, (0.1, 0.2))


def test_out_of_core_trains_a_mapped_file_in_a_child_and_reports_its_memory(tmp_path):
    import bench_out_of_core as ooc
    path, labels = ooc.write_data(tmp_path, 0.001)  # about 1 MiB: 1,342 rows of 200 floats
    X = np.load(path, mmap_mode="r")
    assert X.shape == (1342, 200) and X.dtype == np.float32 and len(np.load(labels)) == 1342
    assert ooc.write_data(tmp_path, 0.001) == (path, labels)  # kept files are reused
    result = ooc.train_in_child(path, labels, "blocks")
    assert result["rows"] == 1342 and result["seconds"] > 0 and result["extra"] >= 0
    text = ooc.report([{"gib": 0.001, "shuffle": "blocks", **result}],
                      {"array": 1.0, "map": 1.25}, (0.1, 0.2), "a test file")
    assert "| 0.001 GiB | 1,342 | blocks |" in text
    assert "the map at 0.80x the array's speed (target >= 0.9x: MISS)" in text
