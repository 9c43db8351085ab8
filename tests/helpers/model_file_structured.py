"""Structured attacks on real model files (each a named class), for the fuzz test of
``nl.load``: gigantic ``.npy`` shapes, compression and encryption, zip bombs, deep JSON,
absurd sizes, semantically broken values with recomputed digests. Each generator yields
``(class_name, base_model_name, file_bytes, resigned=True)``.
"""

import io
import json
import zipfile

import numpy as np

from model_file_attacks import (fake_npy, layers_of, members, npy_bytes, npz_bytes, pack,
                                patch_directory, unpack, with_layers, zip_of)
from nlayer.saving.modelfile import _digest


class _Trap:
    """Unpickling this would create a file: a pickled payload must never be executed."""

    def __reduce__(self):
        return (open, ("/tmp/nlayer-fuzz-pickle-executed", "w"))


def structured_attacks(bases):
    """Every named attack on every base model (where it applies)."""
    for base, (data, _) in sorted(bases.items()):
        header, arrays = unpack(data)
        entries = members(data)
        for cls, variant in _attacks(header, arrays, entries, data):
            yield cls, base, variant, True


def _attacks(header, arrays, entries, data):
    w0 = entries[[n for n, _ in entries].index("w0.npy")][1]
    others = [(n, c) for n, c in entries if n != "w0.npy"]
    # gigantic .npy shapes in a tiny file
    for shape in [(10**6, 10**6), (2**40,), (10**5, 10**5, 10**5), (3, 0), (2**62, 2)]:
        yield "gigantic .npy shape", zip_of(others + [("w0.npy", fake_npy(shape))])
        yield "gigantic .npy shape", zip_of(others + [("w0.npy", fake_npy(shape, payload=w0[128:]))])
    yield "gigantic .npy shape", zip_of(others + [("w0.npy", fake_npy((2**31,), "|u1"))])
    for descr in ("|O", "<i8", "<c16", ">f4", "<U10", "|V8", "<f2"):
        yield "unsupported .npy dtype", zip_of(others + [("w0.npy", fake_npy((1, 1), descr))])
    yield "fortran-order array (allowed)", zip_of(others + [("w0.npy", fake_npy(
        arrays["w0"].shape, arrays["w0"].dtype.str, arrays["w0"].T.tobytes(), fortran=True))])
    yield "broken .npy header", zip_of(others + [("w0.npy", b"\x93NUMPY\x03\x00" + w0[8:])])
    yield "broken .npy header", zip_of(others + [("w0.npy", w0[:8] + b"\xff\xff" + w0[10:])])
    yield "broken .npy header", zip_of(others + [("w0.npy", w0[:10] + b"{" * 40 + w0[50:])])
    yield "broken .npy header", zip_of(others + [("w0.npy", w0[:10] + b"-" * 100 + w0[110:])])
    # compression, encryption, zip structure
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        yield "unsupported compression", zip_of(entries, method)
    yield "deflated (allowed)", zip_of(entries, zipfile.ZIP_DEFLATED)
    stored = zip_of(entries)
    for method in (1, 6, 9, 14, 99):
        yield "unsupported compression", patch_directory(stored, 10, "<H", method, 8)
    yield "encrypted flag", patch_directory(stored, 8, "<H", 1, 6)
    yield "encrypted flag", patch_directory(stored, 8, "<H", 0x41, 6)
    for size in (2**31, 2**32 - 1, len(stored) + 1):
        yield "declared sizes larger than the data", patch_directory(stored, 24, "<L", size)
        yield "declared sizes larger than the data", patch_directory(stored, 20, "<L", size)
    deflated = zip_of(entries, zipfile.ZIP_DEFLATED)
    yield "declared sizes larger than the data", patch_directory(deflated, 24, "<L", 2**32 - 2)
    yield "duplicate members", zip_of(entries + [entries[-1]])
    yield "duplicate members", zip_of(entries + [("__nlayer__.npy", entries[0][1])])
    for name in ("evil.npy", "../w0.npy", "w0", "w00.npy", "w0.npy/", "opt0_m-v.npy",
                 "ckpt_" + "x" * 65 + ".npy", "__nlayer__.npy.npy"):
        yield "unexpected member names", zip_of(entries + [(name, w0)])
    # not a model file
    yield "plain .npy", npy_bytes(arrays["w0"])
    yield "plain .npy", npy_bytes(np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    yield "plain .npy", npy_bytes(np.array([_Trap()], dtype=object))
    yield "not a zip", b""
    yield "not a zip", b"PK\x05\x06" + bytes(18)
    yield "not a zip", json.dumps(header).encode()
    yield "pickled payload member", zip_of(others + [("w0.npy", npy_bytes(np.array(
        [_Trap()], dtype=object)))])
    yield "pickled payload member", zip_of([(n, c) for n, c in entries if n != "__nlayer__.npy"]
                                           + [("__nlayer__.npy", npy_bytes(np.array(
                                               [_Trap()], dtype=object)))])
    # the JSON header
    blob = lambda raw: zip_of(  # noqa: E731
        [(n, c) for n, c in entries if n != "__nlayer__.npy"]
        + [("__nlayer__.npy", npy_bytes(np.frombuffer(raw, dtype=np.uint8)))])
    for depth in (65, 1000, 100_000):
        yield "deep JSON nesting", blob(b"[" * depth + b"]" * depth)
        yield "deep JSON nesting", blob(json.dumps(header).encode()[:-1] + b', "x": '
                                        + b"{\"a\": " * depth + b"1" + b"}" * depth + b"}")
    deep = {"metadata": 1}
    for _ in range(80):
        deep = {"a": deep}
    yield "deep JSON nesting", pack({**header, "metadata": deep}, arrays)
    yield "deep JSON nesting", blob(b'"' + b"\\\"" * 200_000 + b"[" * 1000)
    yield "invalid JSON", blob(b"\xff\xfe{}")
    yield "invalid JSON", blob(b"1" * 5000)
    yield "invalid JSON", blob(json.dumps(header).encode()[:-10])
    yield "invalid JSON", blob(b'["nlayer-model"]')
    # absurd sizes and many layers
    for units in (10**9, 2**31 - 1, 2**40, 0):
        h = with_layers(header, [dict(l, units=units) if l["class"] == "Dense" else l
                                  for l in layers_of(header)])
        yield "absurd units", pack(h, arrays, resign=False) if units == 0 else \
            _resign_keep_list(h, arrays)
        if units:  # the list and the member's .npy header agree on the absurd shape
            h = json.loads(json.dumps(h))
            h["arrays"]["w0"]["shape"] = [arrays["w0"].shape[0], units]
            yield "absurd units", _with_npy(_resign_keep_list(h, arrays), "w0.npy",
                                            fake_npy((arrays["w0"].shape[0], units)))
    h = dict(header, config=dict(header["config"], n_features=10**12))
    yield "absurd units", _resign_keep_list(h, arrays)
    for n in (10_001, 50_000):
        many = layers_of(header)[:-1] + [{"class": "Dropout", "name": f"d{i}", "rate": 0.0}
                                       for i in range(n)] + layers_of(header)[-1:]
        yield "tens of thousands of layers", pack(with_layers(header, many), arrays)
    many = layers_of(header)[:-1] + [{"class": "Dropout", "name": None, "rate": 0.0}
                                   for _ in range(9_990)] + layers_of(header)[-1:]
    yield "10,000 layers (valid)", pack(with_layers(header, many), arrays)
    # semantically broken values, re-signed
    yield from _semantic_attacks(header, arrays)


def one_off_attacks(bases):
    """Attacks costly to build, made once on the first base model."""
    base = sorted(bases)[0]
    data = bases[base][0]
    entries = members(data)
    others = [(n, c) for n, c in entries if n != "w0.npy"]
    zeros = bytes(100 << 20)  # 100 MB of zeros, deflated to 100 KB
    yield "zip bomb", base, zip_of(others + [("w0.npy", fake_npy((1,)) + zeros)],
                                   zipfile.ZIP_DEFLATED), True
    yield "zip bomb", base, zip_of(others + [("w0.npy", fake_npy((25 << 20,)) + zeros)],
                                   zipfile.ZIP_DEFLATED), True
    header_blob = [(n, c) for n, c in entries if n != "__nlayer__.npy"]
    big = npy_bytes(np.frombuffer(b" " * (17 << 20) + b"{}", dtype=np.uint8))
    yield "oversized JSON header", base, zip_of(header_blob + [("__nlayer__.npy", big)]), True
    yield "consistent model too large for memory", base, _too_large(data), True
    many = entries + [(f"ckpt_{i}.npy", b"") for i in range(66_000)]
    yield "too many members", base, zip_of(many), True


def _too_large(data, units=40_000_000):
    """A valid-looking one-layer model whose kernel (6 x units float32, 960 MB of zeros) is
    deflated to about 1 MB: more than the fuzz test's children may allocate."""
    header, arrays = unpack(data)
    n = header["config"]["n_features"]
    header = with_layers(header, [{"class": "Dense", "name": "big", "units": units,
                                    "activation": {"name": "linear"}, "init": None,
                                    "use_bias": False}])
    for key in ("optimizer_state", "normalizer"):
        header[key] = None
    header["config"].pop("compile", None)
    header["arrays"] = {"w0": {"shape": [n, units], "dtype": "float32"}}
    header["sha256"] = "0" * 64  # never reached: the kernel cannot even be allocated
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("__nlayer__.npy", npy_bytes(np.frombuffer(json.dumps(header).encode(),
                                                              dtype=np.uint8)))
        with zf.open("w0.npy", "w", force_zip64=True) as fh:
            fh.write(fake_npy((n, units)))
            chunk = bytes(16 << 20)
            for _ in range(n * units * 4 // len(chunk)):
                fh.write(chunk)
            fh.write(bytes(n * units * 4 % len(chunk)))
    return buf.getvalue()


def _resign_keep_list(header, arrays):
    header = dict(header)
    header.pop("sha256", None)
    header["sha256"] = _digest(header, arrays)
    return npz_bytes({"__nlayer__": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                      **arrays})


def _with_npy(data, name, content):
    return zip_of([(n, content if n == name else c) for n, c in members(data)])


def _semantic_attacks(header, arrays):
    for i, l in enumerate(_weight_owners(header)):
        if l == "moving_variance":
            for v in (-1.0, -1e-30, -1e-45):
                a = dict(arrays)
                a[f"w{i}"] = a[f"w{i}"].copy()
                a[f"w{i}"][0] = v
                yield "negative batch-norm variance", pack(header, a)
            a = dict(arrays)
            a[f"w{i}"] = np.zeros_like(a[f"w{i}"])
            bn = with_layers(header, [dict(l, epsilon=1e-300) if l["class"] == "BatchNorm"
                                       else l for l in layers_of(header)])
            yield "batch-norm variance + epsilon = 0", pack(bn, a)
    if "norm_scale" in arrays:
        for v in (0.0, -1.0, -1e-300, 5e-324):
            a = dict(arrays)
            a["norm_scale"] = a["norm_scale"].copy()
            a["norm_scale"][0] = v
            yield "zero or negative normaliser scale", pack(header, a)
        if header["config"]["dtype"] == "float32":  # 1e300 is a fine float64 shift
            a = dict(arrays, norm_shift=np.full_like(arrays["norm_shift"], 1e300))
            yield "normaliser shift out of range", pack(header, a)
        other = "minmax" if header["normalizer"] == "standard" else "standard"
        h = json.loads(json.dumps(header))
        h["config"]["compile"]["normalize"] = other
        yield "contradictory normaliser", pack(h, arrays)
        h["config"]["compile"]["normalize"] = None
        yield "contradictory normaliser", pack(h, arrays)
        yield "contradictory normaliser", pack(dict(header, normalizer=None), arrays)
        yield "contradictory normaliser", pack(dict(header, normalizer=None),
                                               {k: v for k, v in arrays.items()
                                                if not k.startswith("norm_")})
        h = dict(header, normalizer=other)
        yield "contradictory normaliser", pack(h, arrays)
        h = json.loads(json.dumps(header))
        h["config"]["compile"]["scale_targets"] = True
        yield "contradictory normaliser", pack(h, arrays)
        yield "contradictory normaliser", pack(header, dict(arrays, target_shift=np.zeros(3),
                                                            target_scale=np.ones(3)))
    for name in [k for k in arrays if k.startswith("w")][:2]:
        a = dict(arrays)
        a[name] = a[name].copy()
        a[name].flat[0] = np.nan
        yield "NaN or inf weights (re-signed)", pack(header, a)
        a[name].flat[0] = np.inf
        yield "NaN or inf weights (re-signed)", pack(header, a)
    opt = [k for k in arrays if k.startswith("opt")]
    if opt:
        a = dict(arrays)
        a[opt[0]] = np.zeros(arrays[opt[0]].size + 1, arrays[opt[0]].dtype)
        yield "optimiser state of the wrong size", pack(header, a)
        a = {k: v for k, v in arrays.items() if k != opt[0]}
        yield "optimiser state of the wrong size", pack(header, a)
        h = json.loads(json.dumps(header))
        h["optimizer_state"]["slots"]["1"] = h["optimizer_state"]["slots"]["0"]
        yield "optimiser state of the wrong size", pack(h, dict(
            arrays, **{k.replace("opt0", "opt1"): arrays[k] for k in opt}))
        h = json.loads(json.dumps(header))
        h["optimizer_state"]["slots"]["0"] = ["velocity"] if "m" in h["optimizer_state"][
            "slots"]["0"] else ["m", "v"]
        yield "optimiser state of the wrong size", pack(h, {
            **{k: v for k, v in arrays.items() if not k.startswith("opt")},
            **{f"opt0_{n}": arrays[opt[0]] for n in h["optimizer_state"]["slots"]["0"]}})
    a = dict(arrays, w0=arrays["w0"].astype(np.float64 if arrays["w0"].dtype == np.float32
                                            else np.float32))
    yield "wrong weight dtype (re-signed)", pack(header, a)
    a = dict(arrays, ckpt_state=np.arange(3.0))
    yield "checkpoint arrays (allowed)", pack(header, a)


def _weight_owners(header):
    """The weight name of each w<i> in order (kernel, bias, gamma, ...)."""
    names = []
    for l in layers_of(header):
        if l["class"] == "Dense":
            names += ["kernel", "bias"] if l["use_bias"] else ["kernel"]
        elif l["class"] == "BatchNorm":
            names += ["gamma", "beta", "moving_mean", "moving_variance"]
    return names
