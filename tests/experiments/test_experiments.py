"""nlayer.experiments: verdict logic on constructed inputs, and every experiment at --quick size."""

import csv
import math

import pytest

pytest.importorskip("sklearn")  # the digits data
pytest.importorskip("matplotlib")

from nlayer import experiments  # noqa: E402
from nlayer.experiments import (batchnorm, depth, early_stopping, init, l2, momentum,  # noqa: E402
                                normalize, runner)
from nlayer.experiments.verdicts import (FAILS, HOLDS, INCONCLUSIVE, Claim,  # noqa: E402
                                         across_seeds, epochs_to, patience_stop, within)


# ------------------------------------------------------------ verdicts on constructed inputs

def test_across_seeds_holds_fails_and_says_why_otherwise():
    assert across_seeds([True, True, True]) == (HOLDS, "holds in all 3 seeds")
    assert across_seeds([False, False, False]) == (FAILS, "fails in all 3 seeds")
    assert across_seeds([True, False, True]) == (INCONCLUSIVE, "holds in 2 of 3 seeds, fails in 1")
    assert across_seeds([True, None, True]) == (
        INCONCLUSIVE, "holds in 2 of 3 seeds, fails in 0, undecided in 1 (a run could not decide)")
    assert across_seeds([True]) == (INCONCLUSIVE, "only 1 seed(s) run; a verdict needs 3")


def test_claim_collects_outcomes():
    claim = Claim("x", "y")
    for outcome in (True, True, False):
        claim.add(outcome, "e")
    assert (claim.verdict, claim.reason) == (INCONCLUSIVE, "holds in 2 of 3 seeds, fails in 1")
    assert claim.to_dict()["outcomes"] == [True, True, False]


def test_small_helpers():
    assert within(50, 100) and within(1 / 50, 100) and not within(101, 100)
    assert not within(None, 100) and not within(math.inf, 100) and not within(0, 100)
    assert epochs_to([0.5, 0.7, 0.9], 0.7) == 2
    assert epochs_to([0.5, 0.6], 0.7) is None
    assert epochs_to([3.0, 2.0, 1.0], 1.5, higher_is_better=False) == 3
    assert patience_stop([3, 2, 1, 1.5, 1.2, 1.1], 3) == (3, 6)
    assert patience_stop([3, 2, 1, 0.5], 2) == (4, None)


def test_init_predicates():
    assert init.dz_ratio([1e-6, 1e-3, 1.0]) == pytest.approx(1e6)
    assert init.dz_ratio([0.0, 1.0]) is None and init.dz_ratio([1.0, math.nan]) is None
    assert init.vanishes(1e3) is True and init.vanishes(999) is False and init.vanishes(None) is None
    assert init.explodes(None, diverged=True) is True
    assert init.explodes(1e3, diverged=False) is True and init.explodes(10, False) is False
    assert init.kept(0.35) is True and init.kept(4.7e5) is False and init.kept(None) is None


def test_depth_budget_and_verdict():
    for d in depth.DEPTHS:
        w = depth.width_for(d, 784, 10, depth.n_params(1, 128, 784, 10))
        assert abs(depth.n_params(d, w, 784, 10) / 101770 - 1) < 0.05
    assert depth.width_for(1, 784, 10, 101770) == 128
    assert depth.deeper_wins({1: 0.90, 2: 0.906, 4: 0.89, 8: 0.8}) is True
    assert depth.deeper_wins({1: 0.90, 2: 0.904, 4: 0.89, 8: 0.8}) is False
    assert depth.deeper_wins({1: 0.90, 2: None, 4: 0.89, 8: 0.8}) is None


def test_normalize_predicates():
    assert normalize.raw_worse(None, True, [0.3, 0.4]) is True
    assert normalize.raw_worse(0.5, False, [0.3, 0.4]) is True
    assert normalize.raw_worse(0.35, False, [0.3, 0.4]) is False
    assert normalize.raw_worse(0.5, False, [None, 0.4]) is None
    assert normalize.faster([1.0, 0.5, 0.2], 0.5, 3) is True
    assert normalize.faster([1.0, 0.8, 0.5], 0.5, 3) is False
    assert normalize.faster([1.0], None, 3) is None


def test_batchnorm_predicates():
    assert batchnorm.cost(None, 10) == 11 and batchnorm.cost(3, 10) == 3
    assert batchnorm.bn_faster({0.1: 5, 1: None}, {0.1: 3, 1: 4}, 10) is True
    assert batchnorm.bn_faster({0.1: 3, 1: 4}, {0.1: 3, 1: 4}, 10) is False
    assert batchnorm.bn_faster({0.1: None}, {0.1: None}, 10) is None
    assert batchnorm.unstable(True, [], None, 10) is True
    assert batchnorm.unstable(False, [1.0, 0.5, 1.2], 0.9, 10) is True
    assert batchnorm.unstable(False, [1.0, 0.5, 0.6], 0.9, 10) is False
    assert batchnorm.unstable(False, [2.3, 2.3, 2.3], 0.2, 10) is True  # collapsed to chance
    assert batchnorm.bn_stabler({0.1: False, 1: True}, {0.1: False, 1: False}) is True
    assert batchnorm.bn_stabler({0.1: False, 1: True}, {0.1: True, 1: False}) is False
    assert batchnorm.bn_stabler({0.1: False, 1: False}, {0.1: False, 1: False}) is None


def test_l2_predicates():
    base = {0.0: (0.10, 0.80)}
    assert l2.narrows_gap({**base, 0.1: (0.08, 0.80)}) is True
    assert l2.narrows_gap({**base, 0.1: (0.08, 0.79)}) is False  # costs dev accuracy
    assert l2.narrows_gap({**base, 0.1: (0.095, 0.81)}) is False  # gap barely narrower
    assert l2.narrows_gap({0.0: (None, None), 0.1: (0.08, 0.8)}) is None
    assert l2.knocks_out(0.25, 0.10) is True and l2.knocks_out(0.15, 0.10) is False


def test_l2_weight_stats_counts_near_zero_weights():
    import numpy as np
    import nlayer as nl
    model = nl.Sequential([nl.Dense(2)], dtype="float64").build((None, 2))
    model.set_weights([np.array([[3.0, 0.0], [4.0, 1e-4]]), np.zeros(2)])
    sq, zero = l2.weight_stats(model)
    assert sq == pytest.approx(25.0 + 1e-8) and zero == 0.5


def test_early_stopping_and_momentum_predicates():
    assert early_stopping.overfits([1.0, 0.5, 0.6, 0.7, 0.8], 2) is True
    assert early_stopping.overfits([1.0, 0.5, 0.51, 0.52, 0.5], 2) is False  # no 5% rise
    assert early_stopping.overfits([1.0, 0.9, 0.8, 0.7, 0.5], 2) is False    # still falling
    assert early_stopping.overfits([], 2) is None
    assert early_stopping.restored_not_worse(0.9, 0.9) and not early_stopping.restored_not_worse(0.8, 0.9)
    assert momentum.reaches_sooner([1.0, 0.4, 0.3], [1.0, 0.6, 0.4], 3) is True
    assert momentum.reaches_sooner([1.0, 0.6, 0.4], [1.0, 0.6, 0.4], 3) is False
    assert momentum.reaches_sooner([], [1.0], 3) is None


# ------------------------------------------------------------ every experiment at --quick size

@pytest.fixture(scope="module")
def quick_data():
    return runner.load("digits", quick=True)


def _read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", list(experiments.EXPERIMENTS))
def test_each_experiment_writes_report_csv_and_figures(name, quick_data, tmp_path):
    result = experiments.run_experiment(name, tmp_path, "digits", quick=True, data=quick_data)
    report = (tmp_path / "report.md").read_text()
    assert "Reproduce: `nlayer experiment " + name + " --dataset digits --quick`" in report
    for claim in result.claims:
        assert claim.verdict in (HOLDS, FAILS, INCONCLUSIVE) and len(claim.outcomes) == 3
        assert f"**{claim.text}** — verdict: **{claim.verdict}** ({claim.reason})" in report
    for fig in result.figures:
        assert (tmp_path / fig).read_bytes()[:4] == b"\x89PNG"
        assert f"![{fig}]({fig})" in report
    rows = _read(tmp_path / "results.csv")
    assert len(rows) == len(result.rows) and {r["seed"] for r in rows} == {"0", "1", "2"}


def test_init_quick_numbers_show_the_claims(quick_data, tmp_path):
    result = experiments.run_experiment("init", tmp_path, quick=True, data=quick_data)
    rows = {(r["seed"], r["activation"], r["init"]): r for r in _read(tmp_path / "results.csv")}
    assert float(rows["0", "tanh", "random_normal(0.01)"]["dz_ratio"]) >= 1e3
    assert 1 / 100 <= float(rows["0", "tanh", "glorot_uniform"]["dz_ratio"]) <= 100
    verdicts = {c.text: c.verdict for c in result.claims}
    assert verdicts["random_normal(0.01) makes gradients vanish in deep sigmoid and tanh nets"] \
        == HOLDS
    assert verdicts["glorot_uniform keeps sigmoid gradients in range"] == FAILS  # sigma' <= 1/4


def test_all_writes_an_index(quick_data, tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "load", lambda *a, **k: quick_data)
    monkeypatch.setattr(experiments, "EXPERIMENTS", {"normalize": normalize, "momentum": momentum})
    seen = []
    results = experiments.run_all(tmp_path, quick=True, progress=seen.append)
    assert seen == ["normalize", "momentum"]
    index = (tmp_path / "report.md").read_text()
    for r in results:
        assert (tmp_path / r.name / "report.md").exists()
        for c in r.claims:
            assert f"| [{r.name}]({r.name}/report.md) | {c.text} | {c.verdict} | {c.reason} |" in index


def test_unknown_experiment(tmp_path):
    with pytest.raises(ValueError, match="unknown experiment 'wide'; choose one of init, depth"):
        experiments.run_experiment("wide", tmp_path)


def test_runs_and_results_print_without_their_long_lists():
    from nlayer.experiments.runner import Result, Run
    assert repr(Run(None, None, 1.0, times=[0.123] * 100)).count("0.123") == 0
    text = repr(Result("init", "t", [], [{"row": 12345}] * 50, ["init.png"]))
    assert "12345" not in text and "init.png" in text
