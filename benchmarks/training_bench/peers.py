"""The peers' workers: PyTorch, scikit-learn and Keras on the benchmark's network and data.

Each imports its library inside the worker, so a peer that is not installed only skips itself.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .data import _load_worker_data
from .settings import LR, MOMENTUM, N_CLASSES, SEED
from .workers import _accuracy, _nlayer_model, _predict_rates


def _torch_net(model, nn):
    """nn.Sequential mirroring the nlayer layers, with the same initial weights."""
    import torch

    mods = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            lin = nn.Linear(layer.n_in, layer.units, bias=layer.use_bias)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.params["kernel"].T.copy()))
                if layer.use_bias:
                    lin.bias.copy_(torch.from_numpy(layer.params["bias"]))
            mods.append(lin)
            act = layer.activation.name
            if act == "relu":
                mods.append(nn.ReLU())
            elif act not in ("softmax", "linear"):  # softmax is inside CrossEntropyLoss
                raise ValueError(f"no torch mapping for activation {act}")
        elif kind == "BatchNorm":
            bn = nn.BatchNorm1d(layer.n_in, eps=layer.epsilon, momentum=1 - layer.momentum)
            with torch.no_grad():
                bn.weight.copy_(torch.from_numpy(layer.params["gamma"]))
                bn.bias.copy_(torch.from_numpy(layer.params["beta"]))
            mods.append(bn)
        elif kind == "Activation":
            if layer.activation.name != "relu":
                raise ValueError(f"no torch mapping for activation {layer.activation.name}")
            mods.append(nn.ReLU())
        elif kind == "Dropout":
            mods.append(nn.Dropout(layer.rate))
        else:
            raise ValueError(f"no torch mapping for layer {kind}")
    net = nn.Sequential(*mods)
    return net.double() if model.dtype == np.float64 else net


def worker_torch(spec):
    import torch
    from torch import nn

    from nlayer.model import batch_orders

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(SEED)
    X, y, X_test, y_test = _load_worker_data(spec, spec["dtype"])
    model = _nlayer_model(spec)
    net = _torch_net(model, nn)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    n, bs = X.shape[0], spec["batch"]
    epochs = spec["epochs"] + 1
    orders = batch_orders(SEED, n, epochs)
    seconds, losses = [], []
    net.train()
    for e in range(epochs):
        order = torch.from_numpy(orders[e])
        t0 = time.perf_counter()
        total_loss = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            xb, yb = Xt.index_select(0, idx), yt.index_select(0, idx)  # gather, as nlayer does
            logits = net(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():  # running loss and accuracy, as nlayer's fit reports
                total_loss += loss.detach() * idx.numel()
                correct += (logits.argmax(dim=1) == yb).sum()
        seconds.append(time.perf_counter() - t0)
        losses.append(float(total_loss) / n)
    net.eval()
    Xtest_np = X_test

    def infer():
        with torch.no_grad():
            return torch.softmax(net(torch.from_numpy(Xtest_np)), dim=1).numpy()

    out = {"epoch_seconds": seconds, "train_loss": losses,
           "test_accuracy": _accuracy(infer(), y_test),
           "threads": torch.get_num_threads(),
           "note": "same initial weights and batch order as nlayer"}
    if spec["predict"]:
        out["predict"] = _predict_rates(infer, X_test.shape[0], spec["predict_repeats"])
    return out


def worker_sklearn(spec):
    if spec["batchnorm"] or spec["dropout"]:
        return {"skipped": "MLPClassifier has no batch norm or dropout"}
    import warnings

    from sklearn.neural_network import MLPClassifier

    X, y, X_test, y_test = _load_worker_data(spec, spec["dtype"])
    clf = MLPClassifier(hidden_layer_sizes=tuple(spec["hidden"]), activation="relu",
                        solver="sgd", momentum=MOMENTUM, nesterovs_momentum=False,
                        learning_rate_init=LR, batch_size=spec["batch"], alpha=0.0,
                        shuffle=True, random_state=SEED)
    classes = np.arange(N_CLASSES)
    seconds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(spec["epochs"] + 1):
            t0 = time.perf_counter()
            clf.partial_fit(X, y, classes=classes)
            seconds.append(time.perf_counter() - t0)
    return {"epoch_seconds": seconds, "train_loss": [float(v) for v in clf.loss_curve_],
            "test_accuracy": _accuracy(clf.predict_proba(X_test), y_test),
            "weights_dtype": str(clf.coefs_[0].dtype),
            "note": "own initialisation and shuffling (partial_fit)"}


def worker_keras(spec):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    keras.config.set_floatx(spec["dtype"])
    keras.utils.set_random_seed(SEED)
    X, y, X_test, y_test = _load_worker_data(spec, spec["dtype"])
    model = _nlayer_model(spec)
    layers = [keras.Input((X.shape[1],))]
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            layers.append(keras.layers.Dense(layer.units, activation=layer.activation.name,
                                             use_bias=layer.use_bias))
        elif kind == "BatchNorm":
            layers.append(keras.layers.BatchNormalization(momentum=layer.momentum,
                                                          epsilon=layer.epsilon))
        elif kind == "Activation":
            layers.append(keras.layers.Activation(layer.activation.name))
        elif kind == "Dropout":
            layers.append(keras.layers.Dropout(layer.rate))
    net = keras.Sequential(layers)
    net.set_weights(model.get_weights())  # same order as Keras: kernel, bias; gamma, beta, ...
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._t0)

    timer = EpochTimer()
    hist = net.fit(X, y, batch_size=spec["batch"], epochs=spec["epochs"] + 1, shuffle=True,
                   verbose=0, callbacks=[timer])
    scores = net.predict(X_test, batch_size=4096, verbose=0)
    return {"epoch_seconds": timer.seconds,
            "train_loss": [float(v) for v in hist.history["loss"]],
            "test_accuracy": _accuracy(scores, y_test),
            "note": "same initial weights as nlayer, own shuffling"}
