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
from nlayer.saving.modelfile import _digest

RANDOM_CLASSES = ("bit flips", "truncation", "insertion", "deletion", "overwrite")
RETYPED = "retyped header field (re-signed)"
MIXED_CLASSES = (*RANDOM_CLASSES, RETYPED, "architecture edits (re-signed)",
                 "JSON text damage (valid zip, re-signed when it parses)",
                 ".npy header damage (valid zip)")  # some variants load (harmless changes), some not
VALID_CLASSES = ("deflated (allowed)", "fortran-order array (allowed)", "10,000 layers (valid)",
                 "checkpoint arrays (allowed)")

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
        layers = list(layers_of(header))
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
        header = with_layers(header, layers)
        if edit == 5:
            header["config"]["n_features"] += int(rng.choice([-1, 1]))
        yield RESTRUCTURED, base, pack(header, arrays), True


def _get(node, path):
    for p in path:
        node = node[p]
    return node


def layers_of(header):
    return header["config"]["layers"]


def with_layers(header, layers):
    header = json.loads(json.dumps(header))
    header["config"]["layers"] = layers
    return header


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
