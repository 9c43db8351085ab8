"""nlayer.training.augmentation: random image transforms of each training batch, exact
where they can be, seeded, checkpointed, and never applied to development rows."""

import numpy as np
import pytest

import nlayer as nl
from nlayer.training.augmentation import Augmentation


def images(rng, m=16, h=7, w=9):
    return rng.random((m, h * w)).astype(np.float32) + 1.0  # no zeros: fills are visible


def shifted(image, dy, dx):
    """The image moved by (dy, dx) whole pixels, zeros where nothing came from."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def test_translation_moves_each_image_by_its_drawn_whole_pixels(rng):
    X = images(rng)
    aug = nl.Augmentation([nl.RandomTranslation(2)], image_shape=(7, 9))
    out = aug(X.copy(), np.random.default_rng(4))
    dy, dx = nl.RandomTranslation(2).draw(np.random.default_rng(4), 16, (7, 9))
    assert set(dy) | set(dx) <= set(range(-2, 3)) and len(set(dy)) > 2
    for i in range(16):
        np.testing.assert_array_equal(out[i].reshape(7, 9),
                                      shifted(X[i].reshape(7, 9), dy[i], dx[i]))


def test_flip_mirrors_the_images_drawn_and_leaves_the_others(rng):
    X = images(rng)
    out = nl.Augmentation([nl.RandomFlip()], image_shape=(7, 9))(X.copy(),
                                                                  np.random.default_rng(1))
    flipped = nl.RandomFlip().draw(np.random.default_rng(1), 16, (7, 9))
    assert 0 < flipped.sum() < 16
    for i in range(16):
        expected = X[i].reshape(7, 9)[:, ::-1] if flipped[i] else X[i].reshape(7, 9)
        np.testing.assert_array_equal(out[i].reshape(7, 9), expected)


def test_the_resampling_path_reads_whole_pixels_exactly_as_the_copies_do(rng):
    """Shifts and flips through the bilinear path equal the exact copies: the maps
    (source) and the copies (apply) describe the same transforms."""
    X = images(rng)
    exact = nl.Augmentation([nl.RandomTranslation(3), nl.RandomFlip()], image_shape=(7, 9))
    resampled = nl.Augmentation([nl.RandomTranslation(3), nl.RandomFlip()], image_shape=(7, 9))
    resampled.exact = False
    a = exact(X.copy(), np.random.default_rng(2))
    b = resampled(X.copy(), np.random.default_rng(2))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def blob(h, w, cy, cx, s=1.2):
    y, x = np.mgrid[:h, :w]
    return np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * s * s)).astype(np.float32)


def centre(image):
    y, x = np.mgrid[:image.shape[0], :image.shape[1]]
    return (image * y).sum() / image.sum(), (image * x).sum() / image.sum()


def test_rotation_turns_a_blob_about_the_centre_by_the_drawn_angle():
    X = np.tile(blob(29, 29, 14, 22).ravel(), (8, 1))  # 8 pixels right of the centre
    out = nl.Augmentation([nl.RandomRotation(40)])(X.copy(), np.random.default_rng(7))
    angles = np.radians(np.random.default_rng(7).uniform(-40, 40, 8))
    for i, theta in enumerate(angles):
        cy, cx = centre(out[i].reshape(29, 29))
        # the output at p reads the input at R(-theta) p: the blob turns by +theta
        assert cy == pytest.approx(14 + 8 * np.sin(theta), abs=0.05)
        assert cx == pytest.approx(14 + 8 * np.cos(theta), abs=0.05)


def test_zoom_scales_distances_from_the_centre_by_the_drawn_factor():
    X = np.tile(blob(31, 31, 15, 21).ravel(), (6, 1))
    out = nl.Augmentation([nl.RandomZoom(0.3)])(X.copy(), np.random.default_rng(3))
    scales = np.random.default_rng(3).uniform(0.7, 1.3, 6)
    for i, s in enumerate(scales):
        cy, cx = centre(out[i].reshape(31, 31))
        assert (cy, cx) == (pytest.approx(15, abs=0.05), pytest.approx(15 + 6 * s, abs=0.05))


def test_elastic_distortion_is_smooth_small_where_alpha_is_and_differs_per_image():
    field = nl.ElasticDistortion(alpha=10, sigma=4).draw(np.random.default_rng(0), 4, (28, 28))
    assert field.shape == (2, 4, 28, 28)
    # smooth: neighbouring pixels move alike, far more than independent noise would
    assert np.abs(np.diff(field, axis=3)).mean() < 0.25 * np.abs(field).mean()
    assert not np.allclose(field[:, 0], field[:, 1])
    X = np.tile(blob(28, 28, 14, 14, 3).ravel(), (4, 1))
    tiny = nl.Augmentation([nl.ElasticDistortion(alpha=1e-3)])(X.copy(),
                                                                 np.random.default_rng(0))
    np.testing.assert_allclose(tiny, X, atol=1e-3)
    warped = nl.Augmentation([nl.ElasticDistortion()])(X.copy(), np.random.default_rng(0))
    assert np.abs(warped - X).max() > 0.1
    assert not np.allclose(warped[0], warped[1])


def test_the_same_generator_state_gives_the_same_batch():
    X = np.random.default_rng(0).random((32, 784), dtype=np.float32)
    aug = nl.Augmentation.parse("shift=2,flip,rotate=10,zoom=0.1,elastic=20:4")
    a = aug(X.copy(), np.random.default_rng(9))
    b = aug(X.copy(), np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, aug(X.copy(), np.random.default_rng(10)))


def test_text_and_configurations_round_trip():
    spec = "shift=2,flip,rotate=12.5,zoom=0.1,elastic=30:5"
    aug = nl.Augmentation.parse(spec, image_shape=(28, 28))
    assert aug.spec() == spec
    again = Augmentation.from_config(aug.get_config())
    assert again.transforms == aug.transforms and again.image_shape == (28, 28)
    assert nl.Augmentation.parse("elastic").spec() == "elastic=34:4"


@pytest.mark.parametrize("spec, message", [
    ("shift=2,tilt", "unknown augmentation 'tilt'"),
    ("shift=two", "shift=two: not a number"),
    ("shift=1.5", "whole number >= 1"),
    ("rotate=0", r"degrees must be a number in \(0, 180\]"),
    ("elastic=1:2:3", "elastic takes at most 2 value"),
    ("", "a list such as 'shift=2,flip'"),
])
def test_a_bad_text_names_the_problem(spec, message):
    with pytest.raises(ValueError, match=message):
        nl.Augmentation.parse(spec)


def digits():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400]


def model(normalize="global"):
    m = nl.MLP(hidden=(32,), dropout=0.1)
    m.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), normalize=normalize,
              metrics=["accuracy"])
    return m


def test_per_pixel_standard_scaling_with_augmentation_is_warned_about():
    pytest.importorskip("sklearn")
    X, y = digits()
    with pytest.warns(UserWarning, match=r"per-pixel standard scaling.*normalize='global'"):
        model("standard").fit(X, y, epochs=1, seed=0, augment=[nl.RandomTranslation(1)])


def test_fit_with_augmentation_is_reproducible_and_changes_only_the_training_batches():
    pytest.importorskip("sklearn")
    X, y = digits()
    X_dev, y_dev = X[300:], y[300:]
    runs = [model() for _ in range(3)]
    histories = [m.fit(X[:300], y[:300], epochs=3, batch_size=32, seed=1,
                       validation_data=(X_dev, y_dev), augment=aug)
                 for m, aug in zip(runs, ([nl.RandomTranslation(1)], nl.RandomTranslation(1),
                                          None))]
    for a, b in zip(runs[0].get_weights(), runs[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(runs[0].get_weights()[0], runs[2].get_weights()[0])
    # the development rows are scored as given (predict/evaluate never augment)
    assert histories[0].history["val_loss"][-1] == pytest.approx(
        runs[0].evaluate(X_dev, y_dev)["loss"], rel=1e-6)


def test_an_interrupted_augmented_fit_resumes_to_the_same_bits(tmp_path):
    pytest.importorskip("sklearn")
    X, y = digits()
    aug = "shift=1,rotate=8"
    whole = model()
    whole.fit(X, y, epochs=3, batch_size=32, seed=3, validation_split=0.2,
              augment=nl.Augmentation.parse(aug))
    ckpt = tmp_path / "ckpt.nlayer"

    class Stop(nl.Callback):
        def on_batch_end(self, batch, logs=None):
            if logs["epoch"] == 2 and batch == 4:
                self.model.stop_training = True
    cut = model()
    cut.fit(X, y, epochs=3, batch_size=32, seed=3, validation_split=0.2,
            augment=nl.Augmentation.parse(aug),
            callbacks=[Stop(), nl.ModelCheckpoint(ckpt, every_batches=1)])
    resumed = model()
    resumed.fit(X, y, epochs=3, batch_size=32, validation_split=0.2,
                augment=nl.Augmentation.parse(aug), resume_from=ckpt,
                callbacks=[nl.ModelCheckpoint(ckpt, every_batches=1)])
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert whole.history.history["loss"] == resumed.history.history["loss"]
    with pytest.raises(nl.CheckpointMismatchError,
                       match="augment: .*shift.* now, .*rotate.* in the checkpoint"):
        model().fit(X, y, epochs=3, batch_size=32, validation_split=0.2, resume_from=ckpt,
                    augment=nl.RandomTranslation(1))
    with pytest.raises(nl.CheckpointMismatchError, match="augment: None now"):
        model().fit(X, y, epochs=3, batch_size=32, validation_split=0.2, resume_from=ckpt)


def test_a_read_only_memory_map_is_augmented_without_being_written(tmp_path):
    X = np.random.default_rng(0).random((64, 16)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    y = (X[:, 0] > 0.5).astype(int)
    m = nl.MLP(hidden=(8,))
    m.compile(optimizer=nl.SGD(lr=0.1))
    m.fit(mapped, y, epochs=2, batch_size=16, seed=0, augment=[nl.RandomFlip()])
    np.testing.assert_array_equal(np.load(tmp_path / "X.npy"), X)
    plain = X.copy()
    m.fit(plain, y, epochs=1, batch_size=64, seed=0, shuffle=False,
          augment=[nl.RandomTranslation(1)])
    np.testing.assert_array_equal(plain, X)  # a whole-X batch is a view: copied first


def test_rows_that_are_not_the_images_are_refused_before_training():
    X, y = np.ones((20, 10), np.float32), np.arange(20) % 2
    m = nl.MLP(hidden=(4,))
    m.compile(optimizer=nl.SGD(lr=0.1))
    with pytest.raises(ValueError, match=r"rows of 10 features are not square images; give "
                                         r"Augmentation\(..., image_shape="):
        m.fit(X, y, augment=[nl.RandomFlip()])
    with pytest.raises(ValueError, match=r"image_shape \(3, 4\) holds 12 pixels but the rows "
                                         "have 10 features"):
        m.fit(X, y, augment=nl.Augmentation([nl.RandomFlip()], image_shape=(3, 4)))
    with pytest.raises(TypeError, match="augment must be an nl.Augmentation"):
        m.fit(X, y, augment="shift=2")
    assert not m.built  # refused before anything was built or read
