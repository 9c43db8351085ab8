"""MNIST and Fashion-MNIST: find the IDX files on disk or download them.

Search order for the four files: ``data_dir``, ``$NLAYER_DATA`` (and its
``<dataset>`` subfolder), system folders (Debian's dataset-fashion-mnist),
then the cache.  Files found on disk are checked by structure; downloads
are checked against the published MD5 digests.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .download import DEFAULT_TIMEOUT, default_cache_root, download_file
from .idx import DatasetError, DatasetNotFoundError, read_idx
from .tabular import Dataset

__all__ = ["IMAGE_DATASETS", "FILES", "MIRRORS", "CHECKSUMS", "SYSTEM_DIRS", "CLASS_NAMES",
           "find_image_files", "load_images"]

IMAGE_DATASETS = ("mnist", "fashion-mnist")
WHITE = 255.0  # raw value of a white pixel in the IDX files; the loader scales to [0, 1]

#: role -> file name (a copy without ".gz" is accepted too)
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
}

#: Published MD5 digests of the upstream .gz files (checked on download only).
CHECKSUMS = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

#: Folders where OS packages install the files.
SYSTEM_DIRS = {
    "mnist": [],
    "fashion-mnist": ["/usr/share/datasets/fashion-mnist"],
}

CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}


def _check_name(name: str) -> None:
    if name not in IMAGE_DATASETS:
        raise DatasetError(f"unknown image dataset {name!r}; expected one of {IMAGE_DATASETS}")


def cache_dir_for(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """``<cache root>/<name>``; the root is *cache_dir*, $NLAYER_CACHE or ~/.cache/nlayer."""
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_root()
    return root / name


def search_dirs(name: str, data_dir: str | os.PathLike[str] | None = None
                ) -> list[tuple[str, Path]]:
    """(label, folder) pairs that may hold all four files, in search order; cache excluded."""
    dirs = []
    if data_dir:
        dirs.append(("data_dir", Path(data_dir).expanduser()))
    env = os.environ.get("NLAYER_DATA")
    if env:
        dirs += [("$NLAYER_DATA", Path(env).expanduser()),
                 ("$NLAYER_DATA", Path(env).expanduser() / name)]
    dirs += [("system", Path(d)) for d in SYSTEM_DIRS.get(name, [])]
    unique: dict[Path, str] = {}
    for label, folder in dirs:
        unique.setdefault(folder, label)
    return [(label, folder) for folder, label in unique.items()]


def _find_in(folder: Path) -> dict[str, Path]:
    """role -> path for each of the four files present in *folder*."""
    found = {}
    for role, filename in FILES.items():
        for candidate in (folder / filename, folder / filename[:-3]):
            if candidate.is_file():
                found[role] = candidate
                break
    return found


def find_image_files(name: str, data_dir: str | os.PathLike[str] | None = None,
                     cache_dir: str | os.PathLike[str] | None = None
                     ) -> tuple[dict[str, Path] | None, list[str]]:
    """Return (paths or None, notes): the first folder with all four files.

    *notes* says, for every folder looked in, what was found there.
    """
    _check_name(name)
    notes: list[str] = []
    places = [*search_dirs(name, data_dir), ("cache", cache_dir_for(name, cache_dir))]
    for label, folder in places:
        found = _find_in(folder)
        if len(found) == len(FILES):
            return found, notes
        missing = [FILES[r] for r in FILES if r not in found]
        what = "missing " + ", ".join(missing) if found else "nothing found"
        notes.append(f"  {label} {folder}: {what}")
    return None, notes


def _how_to_get(name: str, downloading: bool) -> str:
    """What the user can do, worded for the library and the command line alike."""
    tips = []
    if name == "fashion-mnist":
        tips.append("install the Debian/Ubuntu package: sudo apt-get install dataset-fashion-mnist")
    tips.append(f"put the four files ({', '.join(FILES.values())}) in a folder and pass it "
                "(--data-dir DIR, data_dir= in Python, or $NLAYER_DATA)")
    if not downloading:
        tips.append("or allow downloading them (leave out --no-download; download=True in "
                    "Python)")
    return "; ".join(tips)


def _download_missing(name: str, cache_dir: str | os.PathLike[str] | None, mirrors: list[str],
                      checksums: dict[str, str], timeout: float) -> dict[str, Path]:
    """Download into the cache whatever it lacks; return role -> path."""
    folder = cache_dir_for(name, cache_dir)
    found = _find_in(folder)
    for role, filename in FILES.items():
        if role not in found:
            found[role] = download_file(filename, mirrors, folder, checksums.get(filename), timeout)
    return found


def load_images(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    mirrors: list[str] | None = None,
    checksums: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Dataset:
    """Load mnist or fashion-mnist (28x28 images scaled to [0, 1], 784 features)."""
    paths, notes = find_image_files(name, data_dir, cache_dir)
    if paths is None:
        looked = "; ".join(note.strip() for note in notes)
        if not download:
            raise DatasetNotFoundError(
                f"{name}: its files are not on this machine and downloading is off (looked in "
                f"{looked}). To get them: {_how_to_get(name, downloading=False)}")
        mirrors = MIRRORS[name] if mirrors is None else mirrors
        checksums = CHECKSUMS[name] if checksums is None else checksums
        try:
            paths = _download_missing(name, cache_dir, mirrors, checksums, timeout)
        except DatasetNotFoundError as exc:
            raise DatasetNotFoundError(
                f"{name}: its files are not on this machine and {exc} (also looked in "
                f"{looked}). To get them: {_how_to_get(name, downloading=True)}") from None
    return _build(name, paths)


def _build(name: str, paths: dict[str, Path]) -> Dataset:
    X_train, y_train = _load_pair(paths["train_images"], paths["train_labels"])
    X_test, y_test = _load_pair(paths["test_images"], paths["test_labels"])
    return Dataset(
        name=name, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
        task="classification",
        feature_names=[f"pixel_{r}_{c}" for r in range(28) for c in range(28)],
        class_names=list(CLASS_NAMES[name]),
        source=", ".join(str(p) for p in paths.values()), pixel_scale=WHITE,
    )


def _load_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and check one images/labels pair; return (X float32 in [0,1], y int64)."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DatasetError(
            f"{images_path}: expected uint8 images of shape (n, 28, 28), "
            f"got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(f"{labels_path}: expected 1-D uint8 labels, got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise DatasetError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{labels_path}: label {int(labels.max())} outside 0..9")
    X = images.reshape(len(images), -1).astype(np.float32)
    X /= WHITE
    return X, labels.astype(np.int64)
