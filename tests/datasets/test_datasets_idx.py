"""IDX reader: round trips, every kind of corruption, real MNIST files."""

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from nlayer.datasets import DatasetError, load_dataset, read_idx
from nlayer.datasets.images import load_images

REPO_ROOT = Path(__file__).resolve().parents[2]
MNIST_T10K = REPO_ROOT.parent / "shared" / "data" / "mnist-t10k"
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
              np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode *array* as IDX (big-endian) bytes."""
    code = TYPE_CODES[array.dtype.type]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path: Path, data: bytes, compress: bool) -> Path:
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


# ------------------------------------------------------------------ round trips

@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_ubyte_1d(tmp_path, compress):
    labels = np.array([7, 2, 1, 0, 4, 255], dtype=np.uint8)
    path = write(tmp_path / "labels.idx", idx_bytes(labels), compress)
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (6,)
    np.testing.assert_array_equal(out, labels)


def test_round_trip_ubyte_3d(tmp_path):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    out = read_idx(write(tmp_path / "images.idx.gz", idx_bytes(images), True))
    assert out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, images)
    out[0, 0, 0] = 99  # result is writable


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.int32, np.int8])
def test_round_trip_other_types(tmp_path, dtype):
    values = (np.arange(12).reshape(3, 4) - 5.25).astype(dtype)
    out = read_idx(write(tmp_path / "values.idx.gz", idx_bytes(values), True))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


def test_float_values_are_big_endian_on_disk(tmp_path):
    raw = bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 2) + struct.pack(">ff", 1.5, -2.0)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "f.idx", raw, False)), [1.5, -2.0])


# ------------------------------------------------------------------ errors

def good_labels() -> bytes:
    return idx_bytes(np.array([1, 2, 3, 4], dtype=np.uint8))


def assert_error(path: Path, *fragments: str):
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


@pytest.mark.parametrize("magic", [b"\x01\x00\x08\x01", b"\x00\x00\x07\x01", b"\x00\x00\x10\x01"])
def test_bad_magic(tmp_path, magic):
    path = write(tmp_path / "bad.idx", magic + good_labels()[4:], False)
    assert_error(path, "bad IDX magic")


def test_zero_dims(tmp_path):
    path = write(tmp_path / "zero.idx", b"\x00\x00\x08\x00", False)
    assert_error(path, "0 dimensions")


def test_header_declares_more_dims_than_present(tmp_path):
    path = write(tmp_path / "dims.idx.gz", b"\x00\x00\x08\x03" + struct.pack(">I", 10), True)
    assert_error(path, "3 dimensions", "header")


def test_too_short_for_header(tmp_path):
    assert_error(write(tmp_path / "short.idx", b"\x00\x00", False), "too short")


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_payload(tmp_path, compress):
    path = write(tmp_path / "trunc.idx", good_labels()[:-1], compress)
    assert_error(path, "truncated: expected 4 bytes got 3")


def test_trailing_bytes(tmp_path):
    path = write(tmp_path / "trail.idx.gz", good_labels() + b"\x00\x00", True)
    assert_error(path, "2 trailing bytes")


def test_corrupt_gzip_crc(tmp_path):
    data = bytearray(gzip.compress(good_labels()))
    data[-8] ^= 0xFF  # CRC32 field of the gzip trailer
    path = write(tmp_path / "crc.idx.gz", bytes(data), False)
    assert_error(path, "gzip")


def test_truncated_gzip_stream(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
    path = write(tmp_path / "cut.idx.gz", data[: len(data) // 2], False)
    assert_error(path, "gzip")


def test_missing_file(tmp_path):
    assert_error(tmp_path / "nope.idx", "not found")


# ------------------------------------------------------------------ image loader checks

def write_image_set(folder: Path, n_train=4, n_test=3, train_labels=None, image_shape=(28, 28)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, *image_shape), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": np.array(
            train_labels if train_labels is not None else np.arange(n_train) % 10, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, *image_shape), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for name, array in arrays.items():
        write(folder / name, idx_bytes(array), True)
    return arrays


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.delenv("NLAYER_DATA", raising=False)
    monkeypatch.setenv("NLAYER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_loader_scales_and_flattens(tmp_path, offline):
    arrays = write_image_set(tmp_path / "data")
    ds = load_images("mnist", data_dir=tmp_path / "data", download=False)
    assert ds.X_train.shape == (4, 784) and ds.X_test.shape == (3, 784)
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    expected = arrays["train-images-idx3-ubyte.gz"].reshape(4, -1) / 255.0
    np.testing.assert_allclose(ds.X_train, expected, rtol=1e-6)
    assert ds.pixel_scale == 255.0  # what raw pixels from elsewhere must be divided by
    assert ds.class_names == [str(d) for d in range(10)]
    assert str(tmp_path / "data") in ds.source


def test_loader_count_mismatch_names_both_files(tmp_path, offline):
    write_image_set(tmp_path / "data", n_train=4, train_labels=[1, 2, 3])
    with pytest.raises(DatasetError) as info:
        load_images("mnist", data_dir=tmp_path / "data", download=False)
    assert "train-images-idx3-ubyte.gz" in str(info.value)
    assert "train-labels-idx1-ubyte.gz" in str(info.value)
    assert "4 images" in str(info.value) and "3 labels" in str(info.value)


def test_loader_rejects_wrong_image_size(tmp_path, offline):
    write_image_set(tmp_path / "data", image_shape=(8, 8))
    with pytest.raises(DatasetError, match=r"28, 28"):
        load_images("mnist", data_dir=tmp_path / "data", download=False)


def test_loader_rejects_label_out_of_range(tmp_path, offline):
    write_image_set(tmp_path / "data", train_labels=[0, 1, 12, 3])
    with pytest.raises(DatasetError, match=r"label 12 outside 0\.\.9"):
        load_images("mnist", data_dir=tmp_path / "data", download=False)


def test_loader_accepts_uncompressed_files(tmp_path, offline):
    arrays = write_image_set(tmp_path / "data")
    for name in arrays:
        gz = tmp_path / "data" / name
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    ds = load_images("mnist", data_dir=tmp_path / "data", download=False)
    assert ds.X_train.shape == (4, 784)


# ------------------------------------------------------------------ real data

def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def mnist_t10k():
    if not MNIST_T10K.is_dir():
        pytest.skip(f"real MNIST test files not present at {MNIST_T10K}")
    return MNIST_T10K


def test_real_mnist_test_files(mnist_t10k):
    images_path = mnist_t10k / "t10k-images-idx3-ubyte.gz"
    labels_path = mnist_t10k / "t10k-labels-idx1-ubyte.gz"
    assert md5(images_path) == "9fb629c4189551a2d022fa330f9573f3"
    assert md5(labels_path) == "ec29112dd5afa0611ce80d1b7f02629c"
    images, labels = read_idx(images_path), read_idx(labels_path)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == 10000 and len(counts) == 10 and counts.min() > 800
    assert images.max() == 255 and images.min() == 0


@pytest.mark.skipif(not FASHION_SYSTEM_DIR.is_dir(),
                    reason=f"Debian package dataset-fashion-mnist not installed ({FASHION_SYSTEM_DIR})")
def test_fashion_mnist_from_system_package_offline(offline):
    ds = load_dataset("fashion-mnist", download=False)
    assert ds.X_train.shape == (60000, 784) and ds.X_test.shape == (10000, 784)
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert 0.0 <= ds.X_train.min() and ds.X_train.max() <= 1.0 and ds.X_train.max() == 1.0
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    assert str(FASHION_SYSTEM_DIR) in ds.source
