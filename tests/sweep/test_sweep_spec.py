"""The sweep file: parsing, ranges, checks with the exact error a bad file gets, trial ids."""

import math
import re
import tomllib

import pytest

from nlayer.runs.errors import UserError
from nlayer.sweep import SpecError, expand, load, parse
from nlayer.sweep.trials import points

SPEC = """
epochs = 7
batch-size = 64
[grid]
hidden = [[16], [32, 16]]
lr = { log_range = [0.001, 0.1, 3] }
[random]
l2 = { log_uniform = [1e-4, 1e-1] }
dropout = { uniform = [0.0, 0.5] }
patience = { int = [2, 4] }
activation = ["relu", "tanh"]
[sweep]
seeds = 2
samples = 3
sample_seed = 5
metric = "loss"
"""


def error(raw):
    with pytest.raises(SpecError) as info:
        expand(parse(raw, "s.toml"))
    return str(info.value)


def test_file_parses_into_base_grid_random_and_seeds(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SPEC)
    spec = load(path)
    assert spec.base == {"epochs": 7, "batch_size": 64}
    assert spec.grid == {"hidden": [[16], [32, 16]], "lr": [0.001, 0.01, 0.1]}
    assert spec.random["l2"] == ("log_uniform", [1e-4, 1e-1])
    assert spec.random["activation"] == ("choice", ["relu", "tanh"])
    assert spec.seeds == [0, 1] and spec.metric == "loss" and spec.samples == 3
    assert spec.swept == ["hidden", "lr", "l2", "dropout", "patience", "activation"]


def test_expansion_is_grid_times_draws_times_seeds_and_every_cfg_is_resolved():
    trials = expand(parse_spec())
    assert len(trials) == 2 * 3 * 3 * 2
    assert [t.index for t in trials] == list(range(36))
    for t in trials:
        assert t.cfg["epochs"] == 7 and t.cfg["batch_size"] == 64
        assert t.cfg["seed"] == t.seed and t.id == f"{t.point_id}-s{t.seed}"
        assert {k: t.cfg[k] for k in t.point} == t.point
        assert 1e-4 <= t.point["l2"] <= 1e-1 and 0 <= t.point["dropout"] <= 0.5
        assert t.point["patience"] in (2, 3, 4) and t.point["activation"] in ("relu", "tanh")
    assert t.cfg["dataset"] == "digits" and t.cfg["momentum"] == 0.9  # train's own defaults


def parse_spec(text=SPEC):
    return parse(tomllib.loads(text), "s.toml")


def test_ids_and_draws_are_stable_and_follow_the_sample_seed():
    first, again = expand(parse_spec()), expand(parse_spec())
    assert [t.id for t in first] == [t.id for t in again]
    assert [t.point for t in first] == [t.point for t in again]
    other = expand(parse_spec(SPEC.replace("sample_seed = 5", "sample_seed = 6")))
    assert [t.point["l2"] for t in other] != [t.point["l2"] for t in first]
    # a point keeps its id when the grid grows: --resume finds its finished trials
    grown = expand(parse_spec(SPEC.replace("[[16], [32, 16]]", "[[16], [32, 16], [8]]")))
    assert {t.id for t in first} < {t.id for t in grown}


def test_ranges_include_the_stop_and_log_ranges_are_geometric():
    spec = parse({"grid": {"batch_size": {"range": [32, 128, 32]},
                           "dropout": {"range": [0.0, 0.3, 0.1]},
                           "lr": {"log_range": [1e-4, 1e-1, 4]}}})
    assert spec.grid["batch_size"] == [32, 64, 96, 128]
    assert spec.grid["dropout"] == [0.0, 0.1, 0.2, 0.3]
    assert spec.grid["lr"] == [1e-4, 1e-3, 1e-2, 1e-1]


def test_log_uniform_draws_spread_evenly_over_decades():
    spec = parse({"random": {"l2": {"log_uniform": [1e-6, 1.0]}},
                  "sweep": {"samples": 600}})
    decades = [math.floor(math.log10(p["l2"])) for p in points(spec)]
    counts = [decades.count(d) for d in range(-6, 0)]
    assert all(70 <= c <= 130 for c in counts), counts  # 100 expected per decade


def test_seeds_as_a_list_and_from_the_base_seed():
    assert parse({"seed": 10, "sweep": {"seeds": 3}, "grid": {"lr": [0.1]}}).seeds == [10, 11, 12]
    assert parse({"sweep": {"seeds": [4, 9]}}).seeds == [4, 9]


def test_a_repeated_random_choice_is_trained_once():
    spec = parse({"random": {"activation": ["relu"]}, "sweep": {"samples": 4}})
    assert len(expand(spec)) == 1


@pytest.mark.parametrize("raw, message", [
    ({"grid": {"lr": [0.1, -1.0]}},
     "s.toml: [grid] lr must be a number in (0, inf), got -1.0"),
    ({"grid": {"learning_rate": [0.1]}}, "s.toml: unknown setting 'learning_rate' in [grid]"),
    ({"grid": {"dataset": ["digits", "mnist"]}},
     "s.toml: [grid] cannot vary 'dataset': a sweep loads its data once"),
    ({"grid": {"seed": [1, 2]}}, "s.toml: [grid] cannot vary seed; set [sweep] seeds = N"),
    ({"grid": {"lr": {"uniform": [0.1, 1]}}},
     "s.toml: [grid] lr must be a list of values or one of { range = [...] }, "
     "{ log_range = [...] }"),
    ({"random": {"l2": {"log_uniform": [0, 1]}}, "sweep": {"samples": 2}},
     "s.toml: [random] l2 log_uniform needs 0 < low"),
    ({"random": {"dropout": {"uniform": [0.0, 1.5]}}, "sweep": {"samples": 2}},
     "s.toml: [random] dropout must be a number in [0, 1), got 1.5"),
    ({"random": {"l2": {"log_uniform": [1e-4, 1e-2]}}},
     "s.toml: [random] needs [sweep] samples = N"),
    ({"grid": {"lr": [0.1]}, "random": {"lr": [0.2]}, "sweep": {"samples": 1}},
     "s.toml: 'lr' is in both [grid] and [random]; keep it in one"),
    ({"epochs": 5}, "s.toml: nothing to sweep; add a [grid] or [random] table"),
    ({"grid": {"lr": [0.1]}, "sweep": {"seeds": 0}},
     "s.toml: [sweep] seeds must be a count >= 1 or a list of distinct seeds >= 0, got 0"),
    ({"grid": {"lr": [0.1]}, "sweep": {"metric": "f1"}},
     "s.toml: [sweep] metric must be one of accuracy, loss, mae, r2, got 'f1'"),
    ({"grid": {"lr": [0.1]}, "sweep": {"budget": 3}},
     "s.toml: unknown key 'budget' in [sweep]; valid keys: seeds, metric, samples, sample_seed"),
    ({"epochs": 0, "grid": {"lr": [0.1]}},
     "epochs must be a whole number >= 1, got 0"),
    ({"dev_split": 0.0, "grid": {"lr": [0.1]}},
     "s.toml: a sweep ranks trials on the development set; dev_split must be > 0"),
    ({"grid": {"batch_size": {"range": [64, 32, 8]}}},
     "s.toml: batch_size range needs [start, stop, step] with start <= stop and step > 0"),
])
def test_a_bad_file_gets_an_error_naming_the_key_and_the_fix(raw, message):
    assert message in error(raw)


def test_the_metric_must_suit_the_task():
    spec = parse({"grid": {"lr": [0.1]}, "sweep": {"metric": "r2"}}, "s.toml")
    assert spec.metric_for("regression") == "r2"
    with pytest.raises(SpecError, match="metric 'r2' does not apply to classification; use one "
                                        "of accuracy, loss"):
        spec.metric_for("classification")
    assert parse({"grid": {"lr": [0.1]}}).metric_for("classification") == "accuracy"
    assert parse({"grid": {"lr": [0.1]}}).metric_for("regression") == "loss"


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(UserError, match="sweep file .*nope.toml not found"):
        load(tmp_path / "nope.toml")


@pytest.mark.parametrize("section", ["grid", "random"])
def test_a_setting_swept_under_two_spellings_is_refused(section):
    values = {"grid": [0.1, 0.2], "random": {"log_uniform": [1e-3, 1e-1]}}[section]
    with pytest.raises(SpecError, match=r"'lr' and 'LR' both set lr; keep one"):
        parse({"epochs": 2, section: {"lr": values, "LR": values}})


@pytest.mark.parametrize("spec, words", [
    ({"sweep": {"seeds": 10 ** 9}}, "[sweep] seeds gives 1,000,000,000 values"),
    ({"random": {"lr": {"log_uniform": [1e-4, 1.0]}}, "sweep": {"samples": 10 ** 9}},
     "[sweep] samples gives 1,000,000,000 values"),
    ({"grid": {"lr": {"log_range": [1e-4, 1.0, 10 ** 9]}}}, "lr log_range gives 1,000,000,000"),
    ({"grid": {"lr": {"log_range": [1e-4, 1.0, 1000]}, "l2": {"log_range": [1e-6, 1.0, 1000]}},
      "sweep": {"seeds": 3}}, "the sweep gives 3,000,000 trials"),
])
def test_a_sweep_too_large_to_run_is_counted_and_refused_before_it_is_made(spec, words):
    with pytest.raises(SpecError, match=re.escape(words) + ".*at most 100,000 trials"):
        parse({"epochs": 1, **spec})
