"""nlayer: N-layer perceptrons written from scratch in NumPy.

    import nlayer as nl
    model = nl.MLP(hidden=(256, 128), activation="relu", output="softmax")
    model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), l2=1e-4, metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=20, batch_size=128, validation_split=0.1, seed=0)
"""

from .callbacks import Callback, EarlyStopping, History, ReduceLROnPlateau
from .checkpoint import CheckpointMismatchError, ModelCheckpoint
from .errors import ModelFileError, ModelTooLargeError, NotFittedError, TrainingDivergedError
from .gradcheck import check_gradients
from .io import load
from .lr_finder import LRFinderResult, lr_find
from .layers import Activation, BatchNorm, Dense, Dropout, Layer
from .model import MLP, Sequential
from . import schedules
from .monitor import LayerMonitor
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from .plotting import plot_layer_stats
from .preprocessing import MinMaxScaler, Standardizer

__version__ = "0.1.0"

__all__ = [
    "Sequential", "MLP", "Layer", "Dense", "Activation", "BatchNorm", "Dropout",
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "schedules",
    "Callback", "History", "EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint",
    "LayerMonitor", "plot_layer_stats",
    "Standardizer", "MinMaxScaler", "check_gradients", "load", "lr_find", "LRFinderResult",
    "TrainingDivergedError", "ModelFileError", "NotFittedError", "ModelTooLargeError",
    "CheckpointMismatchError",
    "__version__",
]
