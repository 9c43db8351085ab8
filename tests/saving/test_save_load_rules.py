"""Save and load share one set of rules: whatever save accepts, load reads back the same;
what load would refuse, save refuses before writing, saying why."""

import json

import numpy as np
import pytest

import nlayer as nl

ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "linear"]
OPTIMIZERS = [lambda r: nl.SGD(lr=float(r.uniform(1e-3, 0.5)), momentum=float(r.uniform(0, 0.95)),
                               nesterov=bool(r.integers(2))),
              lambda r: nl.Adam(lr=float(r.uniform(1e-4, 1e-2))),
              lambda r: nl.AdamW(lr=float(r.uniform(1e-4, 1e-2)), weight_decay=0.01),
              lambda r: nl.RMSprop(lr=float(r.uniform(1e-4, 1e-2)))]


def random_json(r, depth=0):
    """A random JSON-able value, NumPy scalars included (they are saved as Python numbers)."""
    kind = r.integers(8 if depth < 4 else 5)
    return [lambda: str(r.integers(1000)), lambda: float(r.normal()), lambda: int(r.integers(-9, 9)),
            lambda: np.float32(r.normal()), lambda: np.int64(r.integers(9)),
            lambda: None, lambda: [random_json(r, depth + 1) for _ in range(r.integers(4))],
            lambda: {f"k{i}": random_json(r, depth + 1) for i in range(r.integers(4))}][kind]()


def random_model(r):
    """A random valid model: depth, widths, activations, batch norm, dropout, dtype, compile."""
    n_out = int(r.integers(1, 5))
    stack = []
    for _ in range(r.integers(1, 4)):
        units, act = int(r.integers(1, 12)), ACTIVATIONS[r.integers(len(ACTIVATIONS))]
        if r.integers(2):
            stack += [nl.Dense(units, use_bias=False), nl.BatchNorm(momentum=float(r.uniform(0, 0.99))),
                      nl.Activation(act)]
        else:
            stack.append(nl.Dense(units, activation=act, init=["auto", "he_normal", "glorot_uniform"][r.integers(3)]))
        if r.integers(2):
            stack.append(nl.Dropout(float(r.uniform(0, 0.9))))
    classification = bool(r.integers(2))
    stack.append(nl.Dense(n_out + (1 if classification else 0),
                          activation="softmax" if classification else "linear"))
    model = nl.Sequential(stack, dtype=["float32", "float64"][r.integers(2)], name=f"m{r.integers(99)}")
    model.compile(optimizer=OPTIMIZERS[r.integers(len(OPTIMIZERS))](r), l2=float(r.uniform(0, 1e-2)),
                  metrics=["accuracy"] if classification else ["mse", "mae", "r2"],
                  normalize=[None, "standard", "minmax"][r.integers(3)],
                  scale_targets=not classification and bool(r.integers(2)))
    X = r.normal(size=(40, int(r.integers(1, 9)))).astype(model.dtype)
    y = r.integers(0, n_out + 1, size=40) if classification else r.normal(size=(40, n_out))
    model.fit(X, y, epochs=int(r.integers(1, 3)), batch_size=int(r.integers(4, 41)), seed=int(r.integers(99)))
    model.metadata = {f"key{i}": random_json(r) for i in range(r.integers(4))}
    return model, X


def plain(value):
    return json.loads(json.dumps(value, default=lambda v: v.item()))


@pytest.mark.parametrize("seed", range(40))
def test_every_random_valid_model_reads_back_the_same(tmp_path, seed):
    model, X = random_model(np.random.default_rng(seed))
    model.save(tmp_path / "m.nlayer")
    again = nl.load(tmp_path / "m.nlayer")
    assert again.get_config() == model.get_config()
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert again.metadata == plain(model.metadata)
    assert again.history.to_dict() == plain(model.history.to_dict())
    assert again.optimizer.get_config() == model.optimizer.get_config()


def small():
    model = nl.Sequential([nl.Dense(4, use_bias=False), nl.BatchNorm(), nl.Dense(3, activation="softmax")])
    model.compile(metrics=["accuracy"])
    model.build((None, 5), seed=0)
    return model


def _deep(levels):
    top = inner = {}
    for _ in range(levels):
        inner["k"] = {}
        inner = inner["k"]
    return top


def _set(attr, value, layer=0):
    def change(model):
        setattr(model.layers[layer], attr, value)
    return change


@pytest.mark.parametrize("change, words", [
    (_set("name", "x" * 257), "config.layers[0].name must be a name (a string of at most 256"),
    (_set("epsilon", float("inf"), layer=1), "config.layers[1].epsilon must be a finite number"),
    (lambda m: setattr(m, "metadata", _deep(70)), "nested 72 levels deep (at most 64)"),
    (lambda m: m.compile(metrics=["accuracy"] * 17), "config.compile.metrics"),
])
def test_save_refuses_what_load_would_refuse_and_writes_nothing(tmp_path, change, words):
    model = small()
    change(model)
    path = tmp_path / "m.nlayer"
    with pytest.raises(ValueError, match="cannot save .*nlayer would refuse to read such a file "
                                         "back, so nothing was written") as info:
        model.save(path)
    assert words in str(info.value)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_a_refused_save_leaves_the_previous_file_intact(tmp_path):
    model, path = small(), tmp_path / "m.nlayer"
    model.save(path)
    before = path.read_bytes()
    model.metadata = _deep(70)
    with pytest.raises(ValueError, match="cannot save"):
        model.save(path)
    assert path.read_bytes() == before


def test_ten_thousand_and_one_layers_are_refused_before_training():
    model = nl.Sequential([nl.Dense(1) for _ in range(10_001)])
    with pytest.raises(ValueError, match="10,001 layers; model files keep at most 10,000"):
        model.build((None, 1), seed=0)
    model.compile(loss="mse")
    with pytest.raises(ValueError, match="10,001 layers"):
        model.fit(np.zeros((4, 1)), np.zeros(4), epochs=1)


def test_numpy_scalars_in_metadata_are_saved_as_numbers(tmp_path):
    model = small()
    model.metadata = {"lr": np.float32(0.5), "n": np.int64(7), "ok": np.bool_(True),
                      "list": (np.float64(1.5), 2), np.int64(3): "three"}
    model.save(tmp_path / "m.nlayer")
    assert nl.load(tmp_path / "m.nlayer").metadata == {"lr": 0.5, "n": 7, "ok": True,
                                                       "list": [1.5, 2], "3": "three"}


def test_metadata_json_cannot_hold_is_named(tmp_path):
    model = small()
    model.metadata = {"weights": np.zeros(3)}
    with pytest.raises(ValueError, match=r"model.metadata\['weights'\] is a ndarray.*\.tolist\(\)"):
        model.save(tmp_path / "m.nlayer")


@pytest.mark.parametrize("make, words", [
    (lambda: nl.Dense(3, name="n" * 257), "Dense name has 257 characters"),
    (lambda: nl.Sequential(name="n" * 300), "Sequential name has 300 characters"),
    (lambda: nl.Dense(3, name=5), "Dense name must be a string"),
    (lambda: nl.BatchNorm(epsilon=float("inf")), "BatchNorm epsilon must be a finite number > 0"),
    (lambda: nl.BatchNorm(momentum=1.0), r"BatchNorm momentum must be a finite number in \[0, 1\)"),
])
def test_what_a_file_cannot_keep_is_refused_when_made(make, words):
    with pytest.raises((ValueError, TypeError), match=words):
        make()
