"""The model: :class:`Sequential`, an ordered stack of layers with its passes, prediction
and evaluation (``sequential``); :func:`MLP`, one in a line (``mlp``); :func:`load`, one
from its file (``loading``, with ``file_contents``).

``fit`` runs the one training loop of :mod:`nlayer.training`; :func:`batch_orders`
tells the row order it will use.
"""

from ..training.loop import batch_orders
from .ensemble import ensemble
from .loading import load
from .mlp import MLP
from .sequential import Sequential

__all__ = ["Sequential", "MLP", "load", "batch_orders", "ensemble"]
