"""The zip and .npy reading of model files: each refusal with its exact reason."""

import struct
import zipfile

import numpy as np
import pytest

import nlayer as nl
from nlayer.saving import archive as _npzsafe

import model_file_attacks as attacks


@pytest.fixture(scope="module")
def saved():
    model = nl.Sequential([nl.Dense(4, activation="relu"), nl.Dense(3, activation="softmax")])
    model.compile(optimizer=nl.SGD(lr=0.1, momentum=0.9), normalize="standard")
    X = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
    model.fit(X, np.arange(40) % 3, epochs=1, seed=0)
    return attacks.save_bytes(model), model.predict(X[:4]), X[:4]


def load_bytes(tmp_path, data):
    path = tmp_path / "m.nlayer"
    path.write_bytes(data)
    return nl.load(path)


def refused(tmp_path, data, match):
    with pytest.raises(nl.ModelFileError, match=match) as info:
        load_bytes(tmp_path, data)
    assert str(info.value).startswith(str(tmp_path / "m.nlayer") + ": ")
    return str(info.value)


def test_a_plain_npy_is_not_a_model_file_and_the_message_says_so(tmp_path):
    message = refused(tmp_path, attacks.npy_bytes(np.zeros(3)),
                      "not an nlayer model file: it is a single NumPy .npy array")
    assert "pickle" not in message  # allow_pickle advice would contradict docs/guide/model-files.md


@pytest.mark.parametrize("content, start", [(b"", "b''"), (b"hello world", "b'hell'")])
def test_garbage_is_not_a_zip(tmp_path, content, start):
    refused(tmp_path, content, f"not a zip archive \\(it starts with {start}\\)")


def test_deflated_and_fortran_members_load_exactly(tmp_path, saved):
    data, pred, X = saved
    entries = attacks.members(data)
    model = load_bytes(tmp_path, attacks.zip_of(entries, zipfile.ZIP_DEFLATED))
    np.testing.assert_array_equal(model.predict(X), pred)
    header, arrays = attacks.unpack(data)
    w0 = arrays["w0"]
    fortran = attacks.fake_npy(w0.shape, w0.dtype.str, w0.T.tobytes(), fortran=True)
    model = load_bytes(tmp_path, attacks.zip_of([(n, fortran if n == "w0.npy" else c)
                                                 for n, c in entries]))
    np.testing.assert_array_equal(model.get_weights()[0], w0)


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_other_compression_methods_are_refused(tmp_path, saved, method):
    refused(tmp_path, attacks.zip_of(attacks.members(saved[0]), method),
            f"uses zip compression method {method}; a model file may only hold stored or "
            "deflated members")


@pytest.mark.parametrize("flags", [0x1, 0x40])
def test_encrypted_members_are_refused(tmp_path, saved, flags):
    data = attacks.patch_directory(attacks.zip_of(attacks.members(saved[0])), 8, "<H", flags, 6)
    refused(tmp_path, data, "member '__nlayer__.npy' is encrypted")


def test_declared_sizes_beyond_the_data_are_refused(tmp_path, saved):
    stored = attacks.zip_of(attacks.members(saved[0]))
    refused(tmp_path, attacks.patch_directory(stored, 24, "<L", 2**31),
            "declares 2,147,483,648 bytes of data from [0-9,]+ stored bytes, more than storing "
            "can produce")
    refused(tmp_path, attacks.patch_directory(stored, 20, "<L", 2**31),
            "declares 2,147,483,648 bytes at offset 0 in a file of")
    deflated = attacks.zip_of(attacks.members(saved[0]), zipfile.ZIP_DEFLATED)
    refused(tmp_path, attacks.patch_directory(deflated, 24, "<L", 2**32 - 2),
            "more than deflate can produce")


def test_a_gigantic_shape_in_a_tiny_member_is_refused_before_allocating(tmp_path, saved):
    entries = [(n, attacks.fake_npy((10**6, 10**6)) if n == "w0.npy" else c)
               for n, c in attacks.members(saved[0])]
    refused(tmp_path, attacks.zip_of(entries),
            r"member 'w0' declares an array of shape \(1000000, 1000000\) "
            r"\(4,000,000,000,000 bytes\) but holds 0 bytes of data")


def test_a_deflate_bomb_is_refused_by_its_declared_size(tmp_path, saved):
    bomb = attacks.fake_npy((1,)) + bytes(4 << 20)
    entries = [(n, bomb if n == "w0.npy" else c) for n, c in attacks.members(saved[0])]
    refused(tmp_path, attacks.zip_of(entries, zipfile.ZIP_DEFLATED),
            r"member 'w0' declares an array of shape \(1,\) \(4 bytes\) but holds 4,194,304 "
            "bytes of data")


@pytest.mark.parametrize("descr, shown", [("|O", "Python objects"), ("<i8", "<i8"),
                                          (">f4", ">f4"), ("<c16", "<c16")])
def test_only_float_arrays_are_read(tmp_path, saved, descr, shown):
    entries = [(n, attacks.fake_npy((4, 5), descr) if n == "w0.npy" else c)
               for n, c in attacks.members(saved[0])]
    refused(tmp_path, attacks.zip_of(entries),
            f"member 'w0' holds {shown}.*; allowed here: float32, float64")


@pytest.mark.parametrize("name", ["evil.npy", "../w0.npy", "w0", "w01.npy", "ckpt_a-b.npy"])
def test_unexpected_member_names_are_refused(tmp_path, saved, name):
    data = attacks.zip_of(attacks.members(saved[0]) + [(name, b"")])
    refused(tmp_path, data, f"unexpected member '{name.replace('.', '[.]')}' in the archive")


def test_duplicate_members_are_refused(tmp_path, saved):
    entries = attacks.members(saved[0])
    refused(tmp_path, attacks.zip_of(entries + [entries[1]]),
            f"the member '{entries[1][0]}' appears twice")


def test_npy_headers_are_bounded_and_plain(tmp_path, saved):
    entries = attacks.members(saved[0])
    w0 = dict(entries)["w0.npy"]
    for content, match in [
        (w0[:8] + struct.pack("<H", 60000) + w0[10:], "has a .npy header of 60,000 bytes"),
        (b"\x93NUMPY\x03\x00" + w0[8:], "is not a .npy array of format 1.0 or 2.0"),
        (w0[:10] + b"-" * 30 + w0[40:], "unexpected .npy header text"),
        (w0.replace(b"'descr'", b" descr'", 1), "member 'w0' is broken"),  # a lone quote
        (w0.replace(b"), }", b", }", 1), "unexpected .npy header text"),  # unbalanced
        (w0.replace(b"(5, 4)", b")5, 4(", 1), "Cannot parse header"),  # NumPy's parser refuses
        (w0.replace(b" 'shape'", b"b'shape'", 1), "cannot parse the .npy header .*TypeError"),
    ]:
        refused(tmp_path, attacks.zip_of([(n, content if n == "w0.npy" else c)
                                          for n, c in entries]), match)


def test_member_and_directory_counts_are_capped(tmp_path, saved, monkeypatch):
    data = attacks.zip_of(attacks.members(saved[0]) + [("ckpt_a.npy", b""), ("ckpt_b.npy", b"")])
    n = len(attacks.members(data))
    monkeypatch.setattr(_npzsafe, "MAX_MEMBERS", n - 1)
    refused(tmp_path, data, f"its zip directory declares {n} members")


def test_archive_reads_declared_arrays_exactly(tmp_path):
    a, b = np.arange(12, dtype="<f8").reshape(3, 4), np.frombuffer(b"{}", dtype=np.uint8)
    path = tmp_path / "x.npz"
    path.write_bytes(attacks.npz_bytes({"__nlayer__": b, "w0": a}))
    with _npzsafe.Archive(str(path), lambda n: True,
                          lambda n: ("|u1",) if n == "__nlayer__" else ("<f8",)) as archive:
        assert archive.members["w0"].shape == (3, 4) and archive.members["w0"].nbytes == 96
        np.testing.assert_array_equal(archive.read("w0"), a)
        assert archive.read("__nlayer__").tobytes() == b"{}"


def test_a_member_shorter_than_its_directory_entry_is_refused(tmp_path, saved):
    data = bytearray(attacks.zip_of(attacks.members(saved[0])))
    at = data.find(b"w0.npy") + len("w0.npy") + 200  # inside w0's data: the CRC then fails
    data[at] ^= 0xFF
    refused(tmp_path, bytes(data), "member 'w0' is broken .*CRC")


def test_running_out_of_memory_is_a_model_file_error(tmp_path, saved, monkeypatch):
    def no_memory(*args, **kwargs):
        raise MemoryError()

    path = tmp_path / "m.nlayer"
    path.write_bytes(saved[0])
    with monkeypatch.context() as m:
        m.setattr(np, "empty", no_memory)
        with pytest.raises(nl.ModelFileError, match="array '__nlayer__' needs [0-9,]+ bytes and "
                                                    "this process cannot allocate them"):
            nl.load(path)
    monkeypatch.setattr(nl.Sequential, "build", no_memory)
    with pytest.raises(nl.ModelFileError, match=r"the model needs about 468 bytes \(weights, "
                                                r"gradients, their initial values\)"):
        nl.load(path)


def test_an_unreadable_file_is_a_model_file_error(tmp_path, saved, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    path = tmp_path / "m.nlayer"
    path.write_bytes(saved[0])
    monkeypatch.setattr(_npzsafe, "open", denied, raising=False)  # as chmod 0 for a non-root user
    with pytest.raises(nl.ModelFileError, match=r"m.nlayer: cannot be opened \(Permission denied\); "
                                                "check that the path names a file you may read"):
        nl.load(path)


def test_a_zip64_record_declaring_a_huge_directory_is_refused_before_reading(tmp_path):
    """A sparse 1.6 GB file whose plain end record says 1 entry in 46 bytes while its zip64
    record (which zipfile prefers) says 1.5 GB: refused from the numbers, nothing read."""
    import struct
    import time
    size = 1_600_000_000
    directory = 1_500_000_000
    record = struct.pack("<4sQHHLLQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, 1, 1, directory, 0)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, size - 22 - 20 - 56, 1)
    end = struct.pack("<4sHHHHLLH", b"PK\x05\x06", 0, 0, 1, 1, 46, 0xFFFFFFFF, 0)
    path = tmp_path / "sparse.nlayer"
    with open(path, "wb") as fh:
        fh.write(b"PK\x03\x04")
        fh.truncate(size - len(record + locator + end))  # a hole: no disk used
        fh.seek(0, 2)
        fh.write(record + locator + end)
    started = time.monotonic()
    with pytest.raises(nl.ModelFileError, match="zip directory declares .* 1,500,000,000 bytes"):
        nl.load(path)
    assert time.monotonic() - started < 5
