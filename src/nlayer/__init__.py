"""nlayer: N-layer perceptrons written from scratch in NumPy.

    import nlayer as nl
    model = nl.MLP(hidden=(256, 128), activation="relu", output="softmax")
    model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), l2=1e-4, metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=20, batch_size=128, validation_split=0.1, seed=0)

The package reads like the method, bottom up: the formulas (``activations``,
``initializers``, ``losses``, ``metrics``, ``preprocessing``), ``layers``, ``optimizers/``
(with ``schedules``), ``callbacks/``, ``saving/`` (the files nlayer writes), ``training/``
(the one fit loop), ``model/``; then what is built on the model: ``gradcheck``,
``plotting``, ``sklearn``, ``onnx``, ``datasets/``, ``compare/``, ``experiments/``,
``sweep/`` and the ``cli/``.
"""

from . import schedules
from ._version import __version__
from .callbacks import (Callback, EarlyStopping, History, LayerMonitor, LivePlot, MLflowLogger,
                        ModelCheckpoint, ReduceLROnPlateau, TensorBoard)
from .errors import (CheckpointMismatchError, ModelFileError, ModelTooLargeError, NotFittedError,
                     TrainingDivergedError)
from .gradcheck import check_gradients
from .layers import Activation, BatchNorm, Dense, Dropout, Layer
from .model import MLP, Sequential, ensemble, load
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from .plotting import plot_layer_stats
from .preprocessing import MinMaxScaler, Standardizer
from .training import LRFinderResult, lr_find
from .training.augmentation import (Augmentation, ElasticDistortion, RandomFlip, RandomRotation,
                                    RandomTranslation, RandomZoom)

__all__ = [
    "Sequential", "MLP", "ensemble", "Layer", "Dense", "Activation", "BatchNorm", "Dropout",
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "schedules",
    "Callback", "History", "EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint",
    "LayerMonitor", "LivePlot", "TensorBoard", "MLflowLogger", "plot_layer_stats",
    "Standardizer", "MinMaxScaler", "check_gradients", "load", "lr_find", "LRFinderResult",
    "TrainingDivergedError", "ModelFileError", "NotFittedError", "ModelTooLargeError",
    "CheckpointMismatchError",
    "Augmentation", "RandomTranslation", "RandomFlip", "RandomRotation", "RandomZoom",
    "ElasticDistortion",
    "__version__",
]
