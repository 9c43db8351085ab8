"""The Keras peer: the same layers in ``keras.Sequential``, trained epoch by epoch."""

import contextlib
import time

import numpy as np

from .. import layers as layers_mod
from .epoch_loop import _drive


def build_keras_model(model, seed=None):
    """An (uncompiled) ``keras.Sequential`` with the layers of the nlayer ``model``.

    Keras initialises its own weights; load nlayer's with
    ``keras_model.set_weights(model.get_weights())`` (same order and shapes).
    Layers are made in the nlayer model's dtype.

    Parameters
    ----------
    model : nlayer.Sequential
        A built model of Dense, BatchNorm, Activation and Dropout layers.
    seed : int, optional
        Seed of the Keras Dropout layers.

    Returns
    -------
    keras.Sequential
        Named ``"keras"``; a leaky ReLU becomes a ``LeakyReLU`` layer after its Dense.

    Raises
    ------
    ImportError
        If Keras is not installed.
    NotFittedError
        If ``model`` is not built.
    TypeError
        If a layer has no Keras counterpart.

    Examples
    --------
    >>> from nlayer.compare import ComparisonSpec, build_model, build_keras_model
    >>> model = build_model(ComparisonSpec(hidden=(8,)), n_features=4, n_outputs=3)
    >>> keras_model = build_keras_model(model)                        # doctest: +SKIP
    >>> keras_model.set_weights(model.get_weights())                  # doctest: +SKIP
    >>> [layer.__class__.__name__ for layer in keras_model.layers]    # doctest: +SKIP
    ['Dense', 'Dense']
    """
    import keras

    model._require_built()
    dtype = model.dtype.name
    stack = [keras.Input(shape=(model.n_features,), dtype=dtype)]
    for layer in model.layers:
        if isinstance(layer, layers_mod.Dense):
            act = layer.activation
            keras_act = None if act.name in ("linear", "leaky_relu") else act.name
            stack.append(keras.layers.Dense(layer.units, activation=keras_act,
                                            use_bias=layer.use_bias, dtype=dtype))
            if act.name == "leaky_relu":
                stack.append(keras.layers.LeakyReLU(negative_slope=act.alpha, dtype=dtype))
        elif isinstance(layer, layers_mod.BatchNorm):
            stack.append(keras.layers.BatchNormalization(
                momentum=layer.momentum, epsilon=layer.epsilon, dtype=dtype))
        elif isinstance(layer, layers_mod.Activation):
            act = layer.activation
            if act.name == "leaky_relu":
                stack.append(keras.layers.LeakyReLU(negative_slope=act.alpha, dtype=dtype))
            else:
                stack.append(keras.layers.Activation(act.name, dtype=dtype))
        elif isinstance(layer, layers_mod.Dropout):
            stack.append(keras.layers.Dropout(layer.rate, seed=seed, dtype=dtype))
        else:
            raise TypeError(f"no Keras counterpart for layer {type(layer).__name__}")
    return keras.Sequential(stack, name="keras")


@contextlib.contextmanager
def _keras_floatx(dtype):
    """Run Keras code with ``floatx`` = dtype (optimizer and loss variables follow it)."""
    import keras

    previous = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield keras
    finally:
        keras.config.set_floatx(previous)


def _keras_loss(keras, kernels, l2, classification):
    """Per-row loss plus lambda/(2m) sum ||W||^2 with m the rows of the current batch.

    Keras averages the returned per-row values, so every row carries the whole
    penalty and the mean is data loss + penalty. Reading the kernel variables
    here puts the penalty's gradient ``(lambda/m) W`` into the training step.
    """
    ops = keras.ops

    def loss(y_true, y_pred):
        if classification:
            per_row = keras.losses.categorical_crossentropy(y_true, y_pred)
        else:
            per_row = ops.mean(ops.square(y_pred - y_true), axis=-1)
        if l2:
            m = ops.sum(ops.ones_like(per_row))
            penalty = ops.sum(ops.stack([ops.sum(ops.square(k)) for k in kernels]))
            # a Python float keeps full precision; ops.cast(0.001, "float64") would round
            # it through float32 on the TensorFlow backend
            per_row = per_row + (l2 / 2.0) * penalty / m
        return per_row

    return loss


def _run_keras(run):
    spec = run.spec
    with _keras_floatx(spec.dtype) as keras:
        keras.utils.set_random_seed(run.seed)
        km = build_keras_model(run.model, seed=run.seed)
        km.set_weights(run.initial)
        kernels = [layer.kernel for layer in km.layers if isinstance(layer, keras.layers.Dense)]
        km.compile(
            # np.float64 (a float subclass): Keras's SGD casts a plain Python momentum with
            # ops.cast, which on TensorFlow goes through float32 (0.9 -> 0.899999976).
            optimizer=keras.optimizers.SGD(learning_rate=spec.lr,
                                           momentum=np.float64(spec.momentum),
                                           nesterov=spec.nesterov),
            loss=_keras_loss(keras, kernels, spec.l2, run.classification),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")]
            if run.classification else None,
            jit_compile=False)

        def train_epoch(order):
            start = time.perf_counter()
            Xo, Yo = run.X_train[order], run.Y_train[order]
            h = km.fit(Xo, Yo, batch_size=run.batch_size, epochs=1, shuffle=False, verbose=0)
            seconds = time.perf_counter() - start
            return seconds, {k: h.history[k][0] for k in ("loss", "accuracy") if k in h.history}

        def predict(X):
            return keras.ops.convert_to_numpy(km(X, training=False))

        return _drive(run, "keras", train_epoch, predict, km.get_weights, km.get_weights,
                      km.set_weights)
