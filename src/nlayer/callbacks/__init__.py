"""Callbacks: hooks into the ``fit`` loop, with the names and methods Keras users know.

- :class:`Callback` and :class:`CallbackList` (``base``): the hooks and how ``fit`` calls them;
- :class:`History`: what ``fit`` returns, one value per epoch;
- :class:`EarlyStopping` and :class:`ReduceLROnPlateau`: act on a watched value (``watch``);
- :class:`ModelCheckpoint`: save where training stands, to resume it exactly;
- :class:`LayerMonitor`: per-layer gradient and activation statistics while training;
- :class:`LivePlot`: the learning curves and those statistics redrawn while training (Jupyter);
- :class:`TensorBoard` and :class:`MLflowLogger`: the fit into TensorBoard's event files or
  an MLflow run (their packages are optional, imported when a fit begins: ``optional``);
- ``progress``: what ``fit(verbose=...)`` shows; ``drawing``: the figures (matplotlib).

Each stateful callback hands over and takes back its state (``get_state``/``set_state``),
so a checkpoint holds it and a resumed run continues it.
"""

from .base import Callback, CallbackList
from .early_stopping import EarlyStopping
from .history import History
from .layer_monitor import LayerMonitor
from .live_plot import LivePlot
from .mlflow import MLflowLogger
from .model_checkpoint import ModelCheckpoint
from .reduce_lr_on_plateau import ReduceLROnPlateau
from .tensorboard import TensorBoard

__all__ = ["Callback", "CallbackList", "History", "EarlyStopping", "ReduceLROnPlateau",
           "ModelCheckpoint", "LayerMonitor", "LivePlot", "TensorBoard", "MLflowLogger"]
