import json

import numpy as np
import pytest

import nlayer as nl


@pytest.fixture
def trained(digits):
    X, y = digits[0][:300], digits[1][:300]
    model = nl.Sequential([nl.Dense(16, use_bias=False), nl.BatchNorm(), nl.Activation("relu"),
                           nl.Dropout(0.1), nl.Dense(10, activation="softmax")])
    model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), l2=1e-4, metrics=["accuracy"],
                  normalize="standard")
    model.fit(X, y, epochs=2, batch_size=32, validation_split=0.1, seed=0)
    model.metadata = {"dataset": "digits", "class_names": [str(i) for i in range(10)]}
    return model, digits[2]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_gives_identical_predictions(tmp_path, digits, dtype):
    model = nl.MLP(hidden=(8,), batchnorm=True, dtype=dtype)
    model.compile(optimizer="adam", metrics=["accuracy"], normalize="minmax")
    model.fit(digits[0][:200], digits[1][:200], epochs=1, seed=0)
    model.save(tmp_path / "m.nlayer")
    again = nl.load(tmp_path / "m.nlayer")
    np.testing.assert_array_equal(again.predict(digits[2]), model.predict(digits[2]))
    assert again.dtype == dtype


def test_round_trip_keeps_everything(tmp_path, trained):
    model, X_test = trained
    path = tmp_path / "model.nlayer"
    model.save(path)
    again = nl.load(path)
    np.testing.assert_array_equal(again.predict(X_test), model.predict(X_test))
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert again.get_config() == model.get_config()
    assert again.metadata == model.metadata
    assert again.history.history == model.history.history
    assert again.normalizer.name == "standard"
    assert again.l2 == 1e-4 and again.optimizer.momentum == 0.9


def test_the_file_is_a_plain_npz_with_json(tmp_path, trained):
    model, _ = trained
    model.save(tmp_path / "m.nlayer")
    with np.load(tmp_path / "m.nlayer", allow_pickle=False) as npz:
        header = json.loads(npz["__nlayer__"].tobytes())
        assert header["format"] == "nlayer-model" and header["version"] == 1
        assert npz["w0"].shape == (64, 16)


def rewrite(path, change):
    """Rewrite an npz member-by-member, letting ``change`` edit the dict of arrays."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def edit_header(arrays, fn):
    header = json.loads(arrays["__nlayer__"].tobytes())
    fn(header)
    arrays["__nlayer__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


@pytest.mark.parametrize("change, match", [
    (lambda a: a.__setitem__("w0", a["w0"] + 1), "checksum mismatch"),
    (lambda a: a.__setitem__("w0", a["w0"][:, :3]), "the header says"),
    (lambda a: a.pop("w1"), "do not match the header"),
    (lambda a: edit_header(a, lambda h: h.__setitem__("version", 99)), "version 99"),
    # checked against the arrays before anything is read or the digest can be computed
    (lambda a: edit_header(a, lambda h: h["config"]["layers"][0].__setitem__("units", 17)),
     r"w0 \(layer 'dense_1' kernel\) has shape \(64, 16\) but the architecture implies "
     r"\(64, 17\)"),
    (lambda a: a.pop("__nlayer__"), "not an nlayer model file"),
])
def test_tampered_files_are_refused(tmp_path, trained, change, match):
    model, _ = trained
    path = tmp_path / "m.nlayer"
    model.save(path)
    rewrite(path, change)
    with pytest.raises(nl.ModelFileError, match=match):
        nl.load(path)


class _Trap:
    """Unpickling this creates the file ``self.path``: proof that a pickle was executed."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("member", ["__nlayer__", "w0"])
def test_a_pickle_inside_is_never_executed(tmp_path, member):
    path, sentinel = tmp_path / "evil.nlayer", tmp_path / "executed"
    arrays = {"__nlayer__": np.frombuffer(b"{}", dtype=np.uint8), "w0": np.zeros(3)}
    arrays[member] = np.array([_Trap(sentinel)], dtype=object)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(nl.ModelFileError, match=f"member '{member}' holds Python objects "
                                                r"\(pickled data, never loaded\)"):
        nl.load(path)
    assert not sentinel.exists()


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04broken"])
def test_garbage_files_are_refused(tmp_path, content):
    path = tmp_path / "bad.nlayer"
    path.write_bytes(content)
    with pytest.raises(nl.ModelFileError, match="bad.nlayer"):
        nl.load(path)


def test_truncated_file_is_refused(tmp_path, trained):
    model, _ = trained
    path = tmp_path / "m.nlayer"
    model.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(nl.ModelFileError):
        nl.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(nl.ModelFileError, match="no such model file"):
        nl.load(tmp_path / "nope.nlayer")


def test_failed_save_leaves_the_previous_file_intact(tmp_path, trained, monkeypatch):
    model, _ = trained
    path = tmp_path / "m.nlayer"
    model.save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.nlayer"]  # no temp file left


def test_saving_an_unbuilt_model_says_so(tmp_path):
    with pytest.raises(nl.NotFittedError):
        nl.MLP(hidden=(3,)).save(tmp_path / "m.nlayer")


@pytest.mark.parametrize("optimizer", [lambda: nl.SGD(lr=0.05, momentum=0.9), lambda: nl.Adam(lr=0.01)])
def test_training_resumes_from_a_saved_model_exactly(tmp_path, digits, optimizer):
    """Optimiser state (momentum, Adam moments) is saved: save + load + fit == fit + fit."""
    X, y = digits[0][:300], digits[1][:300]

    def trained():
        model = nl.MLP(hidden=(16,), batchnorm=True)
        model.compile(optimizer=optimizer(), metrics=["accuracy"], normalize="standard")
        model.fit(X, y, epochs=2, batch_size=32, seed=0)
        return model

    straight = trained()
    straight.fit(X, y, epochs=1, batch_size=32, seed=1)
    resumed = trained()
    resumed.save(tmp_path / "m.nlayer")
    resumed = nl.load(tmp_path / "m.nlayer")
    resumed.fit(X, y, epochs=1, batch_size=32, seed=1)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_built_model_never_trained_round_trips_with_its_unfitted_normaliser(tmp_path):
    model = nl.MLP(hidden=(3,), n_outputs=2)
    model.compile(normalize="standard")
    model.build((None, 4), seed=0)
    model.save(tmp_path / "m.nlayer")
    again = nl.load(tmp_path / "m.nlayer")
    assert again.normalizer.name == "standard" and not again.normalizer.fitted
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_format_versions_1_and_2_are_read(tmp_path, trained):
    from nlayer.saving.modelfile import SUPPORTED_VERSIONS, _digest

    assert SUPPORTED_VERSIONS == (1, 2)
    model, X_test = trained
    model.save(tmp_path / "m.nlayer")

    def version_2(arrays):
        header = json.loads(arrays["__nlayer__"].tobytes())
        header["version"] = 2
        header.pop("sha256")
        header["sha256"] = _digest(header, {k: v for k, v in arrays.items() if k != "__nlayer__"})
        arrays["__nlayer__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)

    rewrite(tmp_path / "m.nlayer", version_2)
    np.testing.assert_array_equal(nl.load(tmp_path / "m.nlayer").predict(X_test),
                                  model.predict(X_test))


def test_a_deep_model_loads(tmp_path):
    """10,000 layers (the cap) load; naming, building and checking stay linear."""
    model = nl.Sequential([nl.Dense(3, activation="relu")] +
                          [nl.Dropout(0.0) for _ in range(9_998)] + [nl.Dense(2)])
    model.build((None, 4), seed=0)
    model.save(tmp_path / "m.nlayer")
    X = np.ones((2, 4), dtype=np.float32)
    np.testing.assert_array_equal(nl.load(tmp_path / "m.nlayer").predict(X), model.predict(X))


def test_a_checkpoint_file_loads_as_an_ordinary_model(tmp_path, trained):
    """Version 2 with a "checkpoint" section and ckpt_ arrays (the checkpoint loader checks
    those); nl.load bounds them by the global caps only and returns the model."""
    from nlayer.saving.modelfile import _digest

    model, X_test = trained
    model.save(tmp_path / "m.nlayer")

    def as_checkpoint(arrays):
        header = json.loads(arrays.pop("__nlayer__").tobytes())
        arrays.update(ckpt_best_w0=np.ones((2, 3)), ckpt_rng=np.arange(4, dtype=np.int64),
                      ckpt_blob=np.frombuffer(b"xyz", dtype=np.uint8))
        header.update(version=2, checkpoint={"epoch": 3, "batch": 7})
        header["arrays"] = {k: {"shape": list(a.shape), "dtype": a.dtype.name}
                            for k, a in arrays.items()}
        header.pop("sha256")
        header["sha256"] = _digest(header, arrays)
        arrays["__nlayer__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)

    rewrite(tmp_path / "m.nlayer", as_checkpoint)
    np.testing.assert_array_equal(nl.load(tmp_path / "m.nlayer").predict(X_test),
                                  model.predict(X_test))

    def with_bad_ckpt(arrays):
        arrays["ckpt_obj"] = np.array(["text"])

    rewrite(tmp_path / "m.nlayer", with_bad_ckpt)
    with pytest.raises(nl.ModelFileError, match="member 'ckpt_obj' holds <U4; allowed here: "
                                                "float32, float64, uint8, int64"):
        nl.load(tmp_path / "m.nlayer")


def test_a_schedule_continues_from_a_loaded_model(tmp_path):
    """The run length a schedule was bound to is saved, so a loaded model has the same rate."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    m = nl.MLP(hidden=(4,))
    m.compile(optimizer=nl.SGD(lr=nl.schedules.OneCycle(0.1), momentum=0.9))
    m.fit(X, np.arange(40) % 2, epochs=2)
    m.save(tmp_path / "m.nlayer")
    again = nl.load(tmp_path / "m.nlayer")
    assert again.optimizer.lr == m.optimizer.lr and again.optimizer.momentum == m.optimizer.momentum
    assert again.optimizer.iterations == m.optimizer.iterations == 4
