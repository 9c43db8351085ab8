"""ONNX export: the exported graph, run by onnxruntime, must reproduce model.predict."""

import os
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
datasets = pytest.importorskip("sklearn.datasets")

import nlayer as nl  # noqa: E402
from nlayer.errors import NotFittedError  # noqa: E402
from nlayer.onnx import export_onnx, to_onnx_model  # noqa: E402

TOL = {"float32": 1e-5, "float64": 1e-12}
DTYPES = ["float32", "float64"]


@pytest.fixture(scope="module")
def digits():
    X, y = datasets.load_digits(return_X_y=True)
    return X[:1200], y[:1200], X[1200:], y[1200:]


def _fit(layers, X, y, dtype="float32", normalize="standard", loss=None, epochs=3, seed=0,
         lr=0.05):
    model = nl.Sequential(layers, dtype=dtype)
    model.compile(optimizer=nl.SGD(lr=lr, momentum=0.9), loss=loss, normalize=normalize)
    model.fit(X, y, epochs=epochs, batch_size=64, seed=seed)
    return model


def _session(model_or_path):
    src = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    return ort.InferenceSession(src, providers=["CPUExecutionProvider"])


def _run(proto_or_path, X, dtype):
    return _session(proto_or_path).run(None, {"X": np.asarray(X, dtype=dtype)})[0]


def _compare(model, X, **kwargs):
    """Export, run with onnxruntime and return (max |onnx - predict|, proto)."""
    proto = to_onnx_model(model, **kwargs)
    expected = model.predict(X)
    got = _run(proto, X, model.dtype)
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    return float(np.max(np.abs(got.astype(np.float64) - expected))), proto


def _ops(proto):
    return [node.op_type for node in proto.graph.node]


# -- activations and output layers -------------------------------------------------------
HIDDEN = ["sigmoid", "tanh", "relu", {"name": "leaky_relu", "alpha": 0.1}, "softmax", "linear"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", HIDDEN, ids=lambda a: a if isinstance(a, str) else a["name"])
def test_hidden_activation(digits, act, dtype):
    X, y, Xt, _ = digits
    model = _fit([nl.Dense(24, activation=act), nl.Dense(10, activation="softmax")], X, y,
                 dtype=dtype)
    diff, proto = _compare(model, Xt)
    assert diff <= TOL[dtype]
    name = act if isinstance(act, str) else act["name"]
    expected_op = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu",
                   "leaky_relu": "LeakyRelu", "softmax": "Softmax", "linear": None}[name]
    ops = _ops(proto)
    assert ops[:2] == ["Sub", "Mul"] and ops[-1] == "Softmax"
    if name == "linear":
        assert ops == ["Sub", "Mul", "Gemm", "Gemm", "Softmax"]
    elif name == "leaky_relu" and dtype == "float64":
        # 0.1 is not exact in a float32 attribute: max(z, 0.1 z) with a float64 constant
        assert ops[3:5] == ["Mul", "Max"]
        alpha = [onnx.numpy_helper.to_array(t) for t in proto.graph.initializer
                 if t.name.endswith("alpha")]
        assert alpha[0].dtype == np.float64 and alpha[0] == 0.1
    else:
        assert ops[3] == expected_op
    if name == "leaky_relu" and dtype == "float32":
        (alpha,) = [a.f for n in proto.graph.node if n.op_type == "LeakyRelu" for a in n.attribute]
        assert alpha == np.float32(0.1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_output_sigmoid_binary(digits, dtype):
    X, y, Xt, _ = digits
    model = _fit([nl.Dense(16, activation="tanh"), nl.Dense(1, activation="sigmoid")],
                 X, (y >= 5).astype(int), dtype=dtype, loss="binary_crossentropy")
    diff, proto = _compare(model, Xt)
    assert diff <= TOL[dtype]
    assert _ops(proto)[-1] == "Sigmoid"
    assert proto.graph.output[0].type.tensor_type.shape.dim[1].dim_value == 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_output_linear_regression(digits, dtype):
    X, y, Xt, _ = digits
    model = _fit([nl.Dense(16, activation="relu"), nl.Dense(1)], X, y.astype(float),
                 dtype=dtype, loss="mse", lr=0.005)
    assert model.output_activation == "linear"
    pred = model.predict(Xt)
    assert 1.0 < float(np.abs(pred).max()) < 50.0  # a real regression, outputs of order 1-10
    diff, proto = _compare(model, Xt)
    assert diff <= TOL[dtype]
    assert _ops(proto)[-1] == "Gemm"


# -- BatchNorm, Dropout ----------------------------------------------------------------------
def _bn_model(X, y, dtype):
    layers = [
        nl.BatchNorm(momentum=0.9),                 # first layer: no Dense to fold into
        nl.Activation("sigmoid"),
        nl.Dense(32, use_bias=False),               # folded (no bias)
        nl.BatchNorm(momentum=0.9),
        nl.Activation("relu"),
        nl.Dropout(0.2),
        nl.Dense(16, activation="tanh"),            # not foldable: activation in between
        nl.BatchNorm(),
        nl.Dense(10),                               # folded (with bias), through a Dropout
        nl.Dropout(0.1),
        nl.BatchNorm(momentum=0.9),
        nl.Activation("softmax"),
    ]
    return _fit(layers, X, y, dtype=dtype, normalize="minmax", epochs=4, lr=0.02)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fold", [True, False], ids=["folded", "unfolded"])
def test_batchnorm(digits, fold, dtype):
    X, y, Xt, _ = digits
    model = _bn_model(X, y, dtype)
    for bn in (l for l in model.layers if isinstance(l, nl.BatchNorm)):
        # the moving statistics moved well away from their initial 0 and 1
        assert np.abs(bn.params["moving_mean"]).max() > 0.05
        assert np.abs(bn.params["moving_variance"] - 1).max() > 0.05
    diff, proto = _compare(model, Xt, fold_batchnorm=fold)
    assert diff <= TOL[dtype]
    ops = _ops(proto)
    assert ops.count("BatchNormalization") == (2 if fold else 4)
    assert "Dropout" not in ops
    assert ops.count("Gemm") == 3
    if fold:
        assert ops == ["Sub", "Mul", "BatchNormalization", "Sigmoid", "Gemm", "Relu", "Gemm",
                       "Tanh", "BatchNormalization", "Gemm", "Softmax"]


def test_batchnorm_after_dense_with_activation_is_not_folded(digits):
    X, y, Xt, _ = digits
    model = _fit([nl.Dense(20, activation="relu"), nl.BatchNorm(), nl.Dense(10, "softmax")],
                 X, y)
    diff, proto = _compare(model, Xt, fold_batchnorm=True)
    assert diff <= TOL["float32"]
    assert _ops(proto) == ["Sub", "Mul", "Gemm", "Relu", "BatchNormalization", "Gemm", "Softmax"]


def test_dropout_is_left_out(digits):
    X, y, Xt, _ = digits
    model = _fit([nl.Dense(32, "relu"), nl.Dropout(0.5), nl.Dense(10, "softmax")], X, y)
    diff, proto = _compare(model, Xt)
    assert diff <= TOL["float32"]
    assert _ops(proto) == ["Sub", "Mul", "Gemm", "Relu", "Gemm", "Softmax"]
    assert "Dropout(0.5)" in proto.doc_string


# -- input normalisation and dtypes --------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("normalize", ["standard", "minmax", None])
def test_normalisation(digits, normalize, dtype):
    X, y, Xt, _ = digits
    model = _fit([nl.Dense(24, "tanh"), nl.Dense(10, "softmax")], X, y, dtype=dtype,
                 normalize=normalize, lr=0.05 if normalize else 0.005)
    diff, proto = _compare(model, Xt)
    assert diff <= TOL[dtype]
    ops = _ops(proto)
    if normalize is None:
        assert ops == ["Gemm", "Tanh", "Gemm", "Softmax"]
    else:
        assert ops[:2] == ["Sub", "Mul"]
        inits = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
        np.testing.assert_array_equal(inits["normalize/shift"],
                                      model.normalizer.shift.astype(dtype))
        np.testing.assert_array_equal(inits["normalize/inv_scale"],
                                      (1.0 / model.normalizer.scale).astype(dtype))
    # every constant has the model's element type
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    assert {t.data_type for t in proto.graph.initializer} == {elem}


@pytest.mark.parametrize("dtype", DTYPES)
def test_input_output_signature(digits, dtype):
    X, y, Xt, _ = digits
    model = _fit([nl.Dense(8, "relu"), nl.Dense(10, "softmax")], X, y, dtype=dtype, epochs=1)
    proto = to_onnx_model(model)
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "X" and out.name == "Y"
    assert inp.type.tensor_type.elem_type == elem == out.type.tensor_type.elem_type
    in_dims = inp.type.tensor_type.shape.dim
    out_dims = out.type.tensor_type.shape.dim
    assert in_dims[0].dim_param == "N" and in_dims[1].dim_value == 64
    assert out_dims[0].dim_param == "N" and out_dims[1].dim_value == 10
    # the symbolic batch takes any number of rows, one included
    sess = _session(proto)
    for rows in (Xt[:1], Xt[:7], Xt):
        got = sess.run(None, {"X": rows.astype(dtype)})[0]
        np.testing.assert_allclose(got, model.predict(rows), rtol=0, atol=TOL[dtype])


# -- files, metadata, options --------------------------------------------------------------------
def test_export_file_passes_checker(digits, tmp_path):
    X, y, Xt, _ = digits
    model = _fit([nl.Dense(16, use_bias=False), nl.BatchNorm(), nl.Activation("relu"),
                  nl.Dense(10, "softmax")], X, y)
    path = str(tmp_path / "digits.onnx")
    with open(path, "wb") as fh:
        fh.write(b"old contents, to be replaced")
    assert export_onnx(model, path) == path
    onnx.checker.check_model(path, full_check=True)
    proto = onnx.load(path)
    assert proto.producer_name == "nlayer"
    assert proto.opset_import[0].version == 17
    for word in ("nlayer", "dense_1", "batchnorm_1", "activation_1", "dense_2", "folded"):
        assert word in proto.doc_string
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["nlayer.normalize"] == "standard" and meta["nlayer.dtype"] == "float32"
    got = _run(path, Xt, np.float32)
    assert np.max(np.abs(got - model.predict(Xt))) <= TOL["float32"]
    assert os.listdir(tmp_path) == ["digits.onnx"]  # no temporary file left behind


def test_export_accepts_pathlike_and_loaded_models(digits, tmp_path):
    X, y, Xt, _ = digits
    model = _fit([nl.Dense(16, "sigmoid"), nl.Dense(10, "softmax")], X, y)
    model.save(tmp_path / "m.nlayer")
    loaded = nl.load(tmp_path / "m.nlayer")
    out = tmp_path / "m.onnx"
    assert export_onnx(loaded, out) == out
    got = _run(str(out), Xt, np.float32)
    assert np.max(np.abs(got - model.predict(Xt))) <= TOL["float32"]


def test_opset(digits):
    X, y, Xt, _ = digits
    model = _fit([nl.Dense(8, {"name": "leaky_relu", "alpha": 0.1}), nl.BatchNorm(),
                  nl.Dense(10, "softmax")], X, y, epochs=1)
    diff, proto = _compare(model, Xt, opset=13)
    assert diff <= TOL["float32"] and proto.opset_import[0].version == 13
    for bad in (12, "17", True, 10_000):
        with pytest.raises(ValueError, match="opset"):
            to_onnx_model(model, opset=bad)


@pytest.mark.parametrize("layers", [[nl.Dropout(0.3)], [nl.Activation("linear")],
                                    [nl.BatchNorm()]], ids=["dropout", "linear", "batchnorm"])
def test_models_without_dense(layers):
    # built but never trained: no Dense, so the graph is a single node (or an Identity)
    model = nl.Sequential(layers).build((None, 5), seed=0)
    X = np.random.default_rng(0).normal(size=(9, 5)).astype(np.float32)
    diff, proto = _compare(model, X)
    assert diff <= TOL["float32"]
    assert len(proto.graph.node) == 1


# -- errors --------------------------------------------------------------------------------------
def test_unbuilt_model_raises(tmp_path):
    model = nl.Sequential([nl.Dense(8, "relu"), nl.Dense(3, "softmax")])
    with pytest.raises(NotFittedError, match="unbuilt model.*fit\\(\\)"):
        to_onnx_model(model)
    with pytest.raises(NotFittedError):
        export_onnx(model, tmp_path / "x.onnx")
    assert not os.listdir(tmp_path)


def test_unfitted_normaliser_raises():
    model = nl.Sequential([nl.Dense(3, "softmax")])
    model.compile(loss="categorical_crossentropy", normalize="standard")
    model.build((None, 4))
    with pytest.raises(NotFittedError, match="normaliser is not fitted"):
        to_onnx_model(model)


def test_unsupported_layer_raises():
    class Doubler(nl.Layer):
        def forward(self, A_prev, training=False, rng=None):
            return 2 * A_prev

    model = nl.Sequential([nl.Dense(3), Doubler()]).build((None, 4), seed=0)
    with pytest.raises(TypeError, match="cannot export layer.*Doubler"):
        to_onnx_model(model)


def test_missing_onnx_package_message(monkeypatch):
    model = nl.Sequential([nl.Dense(3)]).build((None, 4), seed=0)
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes "import onnx" fail
    with pytest.raises(ImportError, match=r'pip install "nlayer\[onnx\]"'):
        to_onnx_model(model)
