"""Broken and hostile variants of real model files, for the fuzz test of ``nl.load``.

Each generator yields ``(class_name, base_model_name, file_bytes, resigned)``.
``resigned`` says the variant was made deliberately (its digest recomputed), so
a model loaded from it may differ from the base model; a random mutation that
loads must give exactly the base model's predictions.
"""

import io
import json
import os
import tempfile
import struct
import warnings
import zipfile

import numpy as np

import nlayer as nl
from nlayer.io import _digest

RANDOM_CLASSES = ("bit flips", "truncation", "insertion", "deletion", "overwrite")
RETYPED = "retyped header field (re-signed)"
MIXED_CLASSES = (*RANDOM_CLASSES, RETYPED, "architecture edits (re-signed)",
                 "JSON text damage (valid zip, re-signed when it parses)",
                 ".npy header damage (valid zip)")  # some variants load (harmless changes), some not
VALID_CLASSES = ("deflated (allowed)", "fortran-order array (allowed)", "10,000 layers (valid)", "checkpoint arrays (allowed)")

# -- the real models ------------------------------------------------------------------------


def base_models():
    """``{name: (file bytes, rows to predict)}``: five small real models, trained briefly."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 6)).astype(np.float32) * 3 + 1
    y = (X[:, 0] + X[:, 1] > 2).astype(int) + (X[:, 2] > 1)
    y_reg = X @ rng.normal(size=(6, 2)) + 0.5
    specs = {
        "dense": (lambda: nl.Sequential([nl.Dense(8, activation="relu"),
                                         nl.Dense(3, activation="softmax")]),
                  dict(optimizer="sgd"), y),
        "bn_dropout_norm": (lambda: nl.Sequential([
            nl.Dense(8, use_bias=False), nl.BatchNorm(), nl.Activation("relu"), nl.Dropout(0.2),
            nl.Dense(3, activation="softmax")]),
            dict(optimizer=nl.SGD(lr=0.05, momentum=0.9), normalize="standard",
                 metrics=["accuracy"]), y),
        "adam": (lambda: nl.MLP(hidden=(8, 4), activation="tanh"),
                 dict(optimizer="adam", normalize="minmax", l2=1e-3), y),
        "float64": (lambda: nl.MLP(hidden=(5,), activation="leaky_relu", dtype="float64"),
                    dict(optimizer="rmsprop", normalize="standard"), y),
        "regression": (lambda: nl.Sequential([nl.Dense(6, activation="tanh"), nl.Dense(2)]),
                       dict(optimizer=nl.SGD(lr=0.01, momentum=0.5, nesterov=True),
                            metrics=["mae"], normalize="standard"), y_reg),
    }
    out = {}
    for name, (make, settings, targets) in specs.items():
        model = make()
        model.compile(**settings)
        model.fit(X, targets, epochs=2, batch_size=16, validation_split=0.2, seed=1)
        model.metadata = {"note": name, "classes": ["a", "b", "c"]}
        out[name] = (save_bytes(model), X[:5])
    return out


def save_bytes(model):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.nlayer")
        model.save(path)
        with open(path, "rb") as fh:
            return fh.read()


# -- reading and re-writing archives -----------------------------------------------------------


def unpack(data):
    """(header dict, {name: array}) of a valid model file."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays.pop("__nlayer__").tobytes())
    return header, arrays


def pack(header, arrays, resign=True):
    """A model file from a header and arrays; ``resign`` recomputes the list and digest."""
    if resign:
        header = dict(header)
        header.pop("sha256", None)
        header["arrays"] = {k: {"shape": list(a.shape), "dtype": a.dtype.name}
                            for k, a in arrays.items()}
        header["sha256"] = _digest(header, arrays)
    blob = json.dumps(header).encode()
    return npz_bytes({"__nlayer__": np.frombuffer(blob, dtype=np.uint8), **arrays})


def npz_bytes(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


def fake_npy(shape, descr="<f4", payload=b"", fortran=False):
    """A .npy preamble declaring ``shape`` followed by ``payload`` (whatever it holds)."""
    text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {tuple(shape)}, }}"
    text += " " * (63 - (len(text) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1") + payload


def members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def zip_of(entries, method=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are an attack here
        with zipfile.ZipFile(buf, "w", compression=method) as zf:
            for name, content in entries:
                zf.writestr(name, content)
    return buf.getvalue()


def patch_directory(data, offset, fmt, value, local_offset=None):
    """Overwrite a field of every central-directory entry (and of the local headers)."""
    b = bytearray(data)
    for sig, off in ((b"PK\x01\x02", offset), (b"PK\x03\x04", local_offset)):
        if off is None:
            continue
        at = b.find(sig)
        while at >= 0:
            struct.pack_into(fmt, b, at + off, value)
            at = b.find(sig, at + 4)
    return bytes(b)


# -- random damage ------------------------------------------------------------------------------


def random_mutations(bases, n, seed=0):
    rng = np.random.default_rng(seed)
    names = sorted(bases)
    kinds = RANDOM_CLASSES
    for i in range(n):
        base = names[i % len(names)]
        data = bytearray(bases[base][0])
        kind = kinds[(i // len(names)) % len(kinds)]
        at = int(rng.integers(0, len(data)))
        if kind == "bit flips":
            for _ in range(int(rng.integers(1, 9))):
                j = int(rng.integers(0, len(data)))
                data[j] ^= 1 << int(rng.integers(0, 8))
        elif kind == "truncation":
            data = data[:at]
        elif kind == "insertion":
            data[at:at] = rng.integers(0, 256, int(rng.integers(1, 65)), dtype=np.uint8).tobytes()
        elif kind == "deletion":
            del data[at:at + int(rng.integers(1, 65))]
        else:
            k = int(rng.integers(1, 33))
            data[at:at + k] = rng.integers(0, 256, k, dtype=np.uint8).tobytes()
        yield kind, base, bytes(data), False


JSON_DAMAGE = "JSON text damage (valid zip, re-signed when it parses)"
NPY_DAMAGE = ".npy header damage (valid zip)"
_JSON_BYTES = b'[]{}":,.-+eE0123456789 \\ntfaluTrNIy'


def text_damage(bases, n, seed=3):
    """Damage where the zip's CRC cannot catch it: bytes of the JSON text or of a .npy
    header changed, the archive rebuilt. A JSON text that still parses gets its digest
    recomputed, so the schema checks (not the digest) must refuse it."""
    rng = np.random.default_rng(seed)
    names = sorted(bases)
    for i in range(n):
        base = names[i % len(names)]
        entries = members(bases[base][0])
        if i % 3:  # the JSON header
            index = [n for n, _ in entries].index("__nlayer__.npy")
            npy = entries[index][1]
            text = bytearray(npy[128:])
            for _ in range(int(rng.integers(1, 4))):
                at = int(rng.integers(0, len(text)))
                byte = _JSON_BYTES[int(rng.integers(0, len(_JSON_BYTES)))]
                [text.__setitem__, text.insert, lambda a, b: text.__delitem__(a)][
                    int(rng.integers(0, 3))](at, byte)
            yield JSON_DAMAGE, base, _rebuilt(entries, index, bytes(text)), True
        else:  # a .npy header
            index = int(rng.integers(0, len(entries)))
            npy = bytearray(entries[index][1])
            for _ in range(int(rng.integers(1, 4))):
                npy[int(rng.integers(0, 128))] = int(rng.integers(32, 127))
            damaged = list(entries)
            damaged[index] = (entries[index][0], bytes(npy))
            yield NPY_DAMAGE, base, zip_of(damaged), False


def _rebuilt(entries, index, text):
    """The archive with the JSON header replaced by ``text``; re-signed if it parses."""
    try:
        header = json.loads(text)
        arrays = {n[:-4]: np.load(io.BytesIO(c)) for n, c in entries if n != "__nlayer__.npy"}
        header.pop("sha256")
        header["sha256"] = _digest(header, arrays)
        text = json.dumps(header).encode()
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        pass
    damaged = list(entries)
    damaged[index] = ("__nlayer__.npy", npy_bytes(np.frombuffer(text, dtype=np.uint8)))
    return zip_of(damaged)


# -- re-signed headers with retyped values ---------------------------------------------------------

ODD_VALUES = (None, True, False, 0, -1, 1, 2, 0.5, -0.5, 1e308, -1e308, 10**30, "x", "relu",
              "float64", "standard", "", [], {}, [1, 2], [[]], {"name": "relu"},
              {"name": "nope"}, [None], {"shape": [1]}, "nan", 2**63, 65, 1e-320,
              float("nan"), float("inf"), -float("inf"), -0.0,
              {"name": "random_normal", "stddev": 1e308}, {"name": "leaky_relu", "alpha": 0.99},
              {"name": "sgd", "lr": 1e-300, "momentum": 0.999999})


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:6]):
            yield from _paths(v, prefix + (i,))


def _replace(node, path, value):
    if not path:
        return value
    node = (dict if isinstance(node, dict) else list)(node)
    node[path[0]] = _replace(node[path[0]], path[1:], value)
    return node


def retyped_headers(bases, n, seed=1):
    """Headers with one field replaced by an odd value (or deleted), digest recomputed."""
    rng = np.random.default_rng(seed)
    names = sorted(bases)
    for i in range(n):
        base = names[i % len(names)]
        header, arrays = unpack(bases[base][0])
        changed, resign_list = header, True
        for _ in range(1 if rng.random() < 0.7 else int(rng.integers(2, 4))):
            paths = [p for p in _paths(changed) if p and p[0] not in ("sha256",)]
            path = paths[int(rng.integers(0, len(paths)))]
            resign_list = resign_list and path[0] != "arrays"
            parent = _get(changed, path[:-1])
            if rng.random() < 0.1 and isinstance(parent, dict):
                changed = _replace(changed, path[:-1], {k: v for k, v in parent.items()
                                                        if k != path[-1]})
            else:
                value = ODD_VALUES[int(rng.integers(0, len(ODD_VALUES)))]
                changed = _replace(changed, path, value)
        if not resign_list:  # keep the odd list, recompute only the digest
            changed = dict(changed)
            changed.pop("sha256", None)
            try:
                changed["sha256"] = _digest(changed, arrays)
            except (TypeError, ValueError):
                pass
            blob = json.dumps(changed).encode()
            yield RETYPED, base, npz_bytes(
                {"__nlayer__": np.frombuffer(blob, dtype=np.uint8), **arrays}), True
        else:
            yield RETYPED, base, pack(changed, arrays), True


RESTRUCTURED = "architecture edits (re-signed)"

_EXTRA_LAYERS = ({"class": "Dropout", "name": None, "rate": 0.5},
                 {"class": "Activation", "name": "x", "activation": {"name": "softmax"}},
                 {"class": "BatchNorm", "name": None, "momentum": 0.5, "epsilon": 1e-3},
                 {"class": "Dense", "name": None, "units": 3, "activation": "relu",
                  "init": None, "use_bias": True})


def restructured_headers(bases, n, seed=2):
    """Whole layers deleted, duplicated, swapped, inserted; n_features moved; digest and
    array list recomputed (so only the architecture disagrees with the arrays, or not)."""
    rng = np.random.default_rng(seed)
    names = sorted(bases)
    for i in range(n):
        base = names[i % len(names)]
        header, arrays = unpack(bases[base][0])
        layers = list(_layers(header))
        j, k = (int(x) for x in rng.integers(0, len(layers), 2))
        edit = i // len(names) % 6
        if edit == 0:
            del layers[j]
        elif edit == 1:
            layers.insert(j, layers[j])
        elif edit == 2:
            layers[j], layers[k] = layers[k], layers[j]
        elif edit == 3:
            layers.insert(j, _EXTRA_LAYERS[int(rng.integers(0, len(_EXTRA_LAYERS)))])
        elif edit == 4:
            layers[j] = dict(_EXTRA_LAYERS[int(rng.integers(0, len(_EXTRA_LAYERS)))])
        header = _with_layers(header, layers)
        if edit == 5:
            header["config"]["n_features"] += int(rng.choice([-1, 1]))
        yield RESTRUCTURED, base, pack(header, arrays), True


def _get(node, path):
    for p in path:
        node = node[p]
    return node


# -- structured attacks ---------------------------------------------------------------------------


class _Trap:
    """Unpickling this would create a file: a pickled payload must never be executed."""

    def __reduce__(self):
        return (open, ("/tmp/nlayer-fuzz-pickle-executed", "w"))


def _layers(header):
    return header["config"]["layers"]


def _with_layers(header, layers):
    header = json.loads(json.dumps(header))
    header["config"]["layers"] = layers
    return header


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
        h = _with_layers(header, [dict(l, units=units) if l["class"] == "Dense" else l
                                  for l in _layers(header)])
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
        many = _layers(header)[:-1] + [{"class": "Dropout", "name": f"d{i}", "rate": 0.0}
                                       for i in range(n)] + _layers(header)[-1:]
        yield "tens of thousands of layers", pack(_with_layers(header, many), arrays)
    many = _layers(header)[:-1] + [{"class": "Dropout", "name": None, "rate": 0.0}
                                   for _ in range(9_990)] + _layers(header)[-1:]
    yield "10,000 layers (valid)", pack(_with_layers(header, many), arrays)
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
    header = _with_layers(header, [{"class": "Dense", "name": "big", "units": units,
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
            bn = _with_layers(header, [dict(l, epsilon=1e-300) if l["class"] == "BatchNorm"
                                       else l for l in _layers(header)])
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
    for l in _layers(header):
        if l["class"] == "Dense":
            names += ["kernel", "bias"] if l["use_bias"] else ["kernel"]
        elif l["class"] == "BatchNorm":
            names += ["gamma", "beta", "moving_mean", "moving_variance"]
    return names


NOTES = {
    "bit flips": "1 to 8 random bits flipped anywhere in the file",
    "truncation": "the file cut at a random byte",
    "insertion": "1 to 64 random bytes inserted at a random place",
    "deletion": "1 to 64 bytes deleted at a random place",
    "overwrite": "1 to 32 bytes overwritten with random bytes",
    JSON_DAMAGE: "1 to 3 JSON characters set, inserted or deleted in the header text; the zip "
                 "rebuilt (fresh CRC), the digest recomputed when the text still parses",
    NPY_DAMAGE: "1 to 3 printable characters set in a member's .npy header; the zip rebuilt",
    "architecture edits (re-signed)": "a layer deleted, duplicated, swapped, inserted or "
                                      "replaced, or n_features moved by one",
    RETYPED: "one to three header fields replaced by values of another type or range (or "
             "deleted), digest recomputed",
    "gigantic .npy shape": "a member's .npy header declares terabytes in a tiny file",
    "unsupported .npy dtype": "object (pickle), int, complex, big-endian, string, void, half",
    "fortran-order array (allowed)": "a weight stored column-major: read correctly",
    "broken .npy header": "bad version, oversized length, deep braces, minus signs",
    "unsupported compression": "bzip2, lzma members; the method field patched to 1, 6, 9, 14, 99",
    "deflated (allowed)": "the same model with deflate-compressed members: loads",
    "encrypted flag": "the zip entries' encrypted (and strong-encryption) flags set",
    "declared sizes larger than the data": "zip directory sizes patched to 2 GiB, 4 GiB, file + 1",
    "duplicate members": "a member name twice",
    "unexpected member names": "evil.npy, ../w0.npy, w00.npy, names without .npy, long ckpt_ names",
    "plain .npy": "a single .npy array (weights, header bytes, pickled object) instead of the zip",
    "not a zip": "empty file, empty zip, bare JSON",
    "pickled payload member": "a member holding a pickled object whose unpickling would create "
                              "a file (never created)",
    "deep JSON nesting": "JSON nested 65, 1,000, 100,000 levels; escaped quotes; 80-deep metadata",
    "invalid JSON": "bad UTF-8, a 5,000-digit number, cut JSON, a list instead of an object",
    "absurd units": "units 10^9, 2^31 - 1, 2^40, 0 and n_features 10^12 over the real arrays",
    "tens of thousands of layers": "10,001 and 50,000 layers (re-signed)",
    "10,000 layers (valid)": "a real model with 9,990 extra Dropout layers: loads and predicts",
    "zero or negative normaliser scale": "scale 0, -1, -1e-300, 5e-324 (re-signed)",
    "normaliser shift out of range": "shift 1e300 in a float32 model (re-signed)",
    "contradictory normaliser": "compile settings and stored normaliser disagree; target "
                                "statistics without scale_targets",
    "NaN or inf weights (re-signed)": "NaN or inf in a weight array, digest recomputed",
    "optimiser state of the wrong size": "state one longer, missing, in slot 1, of another optimiser",
    "wrong weight dtype (re-signed)": "a float64 kernel in a float32 model and vice versa",
    "checkpoint arrays (allowed)": "an extra ckpt_ array: loads (the checkpoint loader checks it)",
    "negative batch-norm variance": "moving variance -1, -1e-30, -1e-45 (re-signed)",
    "batch-norm variance + epsilon = 0": "variance 0 with epsilon 1e-300 (0 in float32)",
    "zip bomb": "100 MB of zeros deflated to 100 KB behind a small or a matching .npy header",
    "oversized JSON header": "a 17 MiB JSON header (cap 16 MiB)",
    "too many members": "66,000 extra members (cap 65,536)",
    "consistent model too large for memory": "a 960 MB kernel deflated to 1 MB, loaded with "
                                              "768 MiB of address space to spare",
}
