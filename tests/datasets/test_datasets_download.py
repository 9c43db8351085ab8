"""Downloads against a real local HTTP server (never the internet)."""

import gzip
import hashlib
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from nlayer.datasets import DatasetError, DatasetNotFoundError, load_dataset
from nlayer.datasets import images
from nlayer.datasets.download import download_file, md5_file
from nlayer.datasets.images import FILES, load_images

N_TRAIN, N_TEST = 5, 3


def idx_gz(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.tobytes())


def make_files() -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    return {
        "train-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8)),
        "train-labels-idx1-ubyte.gz": idx_gz(np.arange(N_TRAIN, dtype=np.uint8)),
        "t10k-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8)),
        "t10k-labels-idx1-ubyte.gz": idx_gz(np.array([9, 8, 7], dtype=np.uint8)),
    }


GOOD = make_files()
CHECKSUMS = {name: hashlib.md5(data).hexdigest() for name, data in GOOD.items()}


class Handler(BaseHTTPRequestHandler):
    """Serves self.server.routes: path -> (body, claimed Content-Length)."""

    def do_GET(self):
        self.server.requests.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        body, length = route
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.requests = []
    httpd.routes = {}
    for name, data in GOOD.items():
        httpd.routes[f"/good/{name}"] = (data, len(data))
        wrong = GOOD["t10k-labels-idx1-ubyte.gz"] if "images" in name else GOOD["train-images-idx3-ubyte.gz"]
        httpd.routes[f"/bad/{name}"] = (wrong, len(wrong))
        httpd.routes[f"/trunc/{name}"] = (data[: len(data) // 2], len(data))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real home, cache, data folder or mirror is ever used."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NLAYER_CACHE", str(tmp_path / "env-cache"))
    monkeypatch.delenv("NLAYER_DATA", raising=False)
    for name in images.MIRRORS:
        monkeypatch.setitem(images.MIRRORS, name, ["http://127.0.0.1:9/unreachable/"])
    monkeypatch.setitem(images.SYSTEM_DIRS, "fashion-mnist", [str(tmp_path / "no-system-dir")])


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def load(server, cache, *mirror_dirs, name="mnist"):
    mirrors = [f"{server.base}/{d}/" for d in mirror_dirs]
    return load_images(name, cache_dir=cache, mirrors=mirrors, checksums=CHECKSUMS, timeout=10)


def test_download_lands_in_cache_and_loads(server, tmp_path):
    ds = load(server, tmp_path / "cache", "good")
    assert ds.X_train.shape == (N_TRAIN, 784) and ds.X_test.shape == (N_TEST, 784)
    assert ds.y_train.tolist() == [0, 1, 2, 3, 4] and ds.y_test.tolist() == [9, 8, 7]
    cached = sorted(files_under(tmp_path / "cache"))
    assert [p.name for p in cached] == sorted(FILES.values())
    assert all(p.parent == tmp_path / "cache" / "mnist" for p in cached)
    assert all(md5_file(p) == CHECKSUMS[p.name] for p in cached)
    assert len(server.requests) == 4


def test_second_load_uses_cache_without_requests(server, tmp_path):
    load(server, tmp_path / "cache", "good")
    assert len(server.requests) == 4
    ds = load(server, tmp_path / "cache", "good")
    assert len(server.requests) == 4
    assert ds.X_train.shape == (N_TRAIN, 784)
    # the public entry point finds the cache offline too
    ds = load_dataset("mnist", cache_dir=tmp_path / "cache", download=False)
    assert ds.y_test.tolist() == [9, 8, 7]


def test_cache_defaults_to_env_then_home(server, tmp_path, monkeypatch):
    load_images("mnist", mirrors=[f"{server.base}/good/"], checksums=CHECKSUMS)
    assert len(files_under(tmp_path / "env-cache" / "mnist")) == 4
    monkeypatch.delenv("NLAYER_CACHE")
    load_images("mnist", mirrors=[f"{server.base}/good/"], checksums=CHECKSUMS)
    assert len(files_under(tmp_path / "home" / ".cache" / "nlayer" / "mnist")) == 4


def test_only_missing_files_are_downloaded(server, tmp_path):
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    for name, data in GOOD.items():
        if name != "train-labels-idx1-ubyte.gz":
            (cache / name).write_bytes(data)
    load(server, tmp_path / "cache", "good")
    assert server.requests == ["/good/train-labels-idx1-ubyte.gz"]


def test_bad_checksum_leaves_nothing_in_cache(server, tmp_path):
    with pytest.raises(DatasetError) as info:
        load(server, tmp_path / "cache", "bad")
    message = str(info.value)
    expected = CHECKSUMS["train-images-idx3-ubyte.gz"]
    actual = hashlib.md5(GOOD["t10k-labels-idx1-ubyte.gz"]).hexdigest()
    assert "checksum mismatch" in message and expected in message and actual in message
    assert f"{server.base}/bad/train-images-idx3-ubyte.gz" in message
    assert files_under(tmp_path / "cache") == []


def test_truncated_download_is_rejected(server, tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load(server, tmp_path / "cache", "trunc")
    size = len(GOOD["train-images-idx3-ubyte.gz"])
    assert f"truncated: expected {size} bytes, got {size // 2}" in str(info.value)
    assert files_under(tmp_path / "cache") == []


def test_404_on_first_mirror_falls_back_to_second(server, tmp_path):
    ds = load(server, tmp_path / "cache", "missing", "good")
    assert ds.X_train.shape == (N_TRAIN, 784)
    assert server.requests.count("/missing/train-images-idx3-ubyte.gz") == 1
    assert server.requests.count("/good/train-images-idx3-ubyte.gz") == 1


def test_all_mirrors_failing_lists_every_url(server, tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load(server, tmp_path / "cache", "missing", "bad")
    message = str(info.value)
    assert f"{server.base}/missing/train-images-idx3-ubyte.gz: HTTP 404" in message
    assert f"{server.base}/bad/train-images-idx3-ubyte.gz: checksum mismatch" in message
    assert files_under(tmp_path / "cache") == []
    # one readable line: what failed, where it looked, what to do (not: allow downloading)
    assert "\n" not in message and "could not be downloaded" in message
    assert "--data-dir DIR, data_dir= in Python, or $NLAYER_DATA" in message
    assert "download=True" not in message


def test_unreachable_mirror_reports_connection_error(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="connection failed"):
        download_file("x.gz", ["http://127.0.0.1:9/"], tmp_path, timeout=5)
    assert files_under(tmp_path) == []


def test_offline_with_nothing_lists_searched_places(tmp_path, monkeypatch):
    monkeypatch.setenv("NLAYER_DATA", str(tmp_path / "env-data"))
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("mnist", data_dir=tmp_path / "given", download=False)
    message = str(info.value)
    for place in [tmp_path / "given", tmp_path / "env-data", tmp_path / "env-data" / "mnist",
                  tmp_path / "env-cache" / "mnist"]:
        assert str(place) in message
    assert "$NLAYER_DATA" in message and "downloading is off" in message
    assert "leave out --no-download; download=True in Python" in message
    assert "apt-get" not in message


def test_offline_fashion_mentions_debian_package(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion-mnist", download=False)
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert str(tmp_path / "no-system-dir") in message


def test_partial_folder_is_reported_and_skipped(tmp_path):
    given = tmp_path / "given"
    given.mkdir()
    (given / "t10k-labels-idx1-ubyte.gz").write_bytes(GOOD["t10k-labels-idx1-ubyte.gz"])
    with pytest.raises(DatasetNotFoundError, match="missing train-images-idx3-ubyte.gz"):
        load_dataset("mnist", data_dir=given, download=False)


def test_search_order_data_dir_before_env_subfolder_before_cache(server, tmp_path, monkeypatch):
    load(server, tmp_path / "env-cache", "good")  # fill the cache
    env_sub = tmp_path / "env-data" / "fashion-mnist"
    env_sub.mkdir(parents=True)
    for name, data in GOOD.items():
        (env_sub / name).write_bytes(data)
    monkeypatch.setenv("NLAYER_DATA", str(tmp_path / "env-data"))
    ds = load_dataset("fashion-mnist", download=False)
    assert str(env_sub) in ds.source
    assert ds.class_names[-1] == "Ankle boot"
    ds = load_dataset("mnist", download=False)
    assert str(tmp_path / "env-cache" / "mnist") in ds.source
    given = tmp_path / "given"
    given.mkdir()
    for name, data in GOOD.items():
        (given / name).write_bytes(data)
    ds = load_dataset("fashion-mnist", data_dir=given, download=False)
    assert str(given) in ds.source and str(env_sub) not in ds.source
