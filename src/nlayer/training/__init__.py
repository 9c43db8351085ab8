"""Training: the one ``fit`` loop and what only training needs.

- :mod:`~nlayer.training.loop`: :func:`fit`, the mini-batch loop (``Sequential.fit`` calls it),
  and :func:`batch_orders`, the row order it will use;
- :mod:`~nlayer.training.state`: where a fit is (epoch, batch, generators, running totals);
- :mod:`~nlayer.training.resume`: continuing a fit from a checkpoint;
- :mod:`~nlayer.training.targets` and :mod:`~nlayer.training.sample_weights`: labels into
  the output layer's form, and row and class weights;
- :mod:`~nlayer.training.memory` and :mod:`~nlayer.training.threads`: the memory a model
  needs, checked before it is allocated, and the BLAS threads a pass gets;
- :mod:`~nlayer.training.augmentation` and :mod:`~nlayer.training.transforms`: random
  transforms of the training images (moves, flips, rotations, zooms, elastic warps), per batch;
- :mod:`~nlayer.training.lr_finder`: the learning-rate range test (a short fit with a
  rising rate).
"""

from .loop import batch_orders, fit
from .lr_finder import LRFinderResult, lr_find

__all__ = ["fit", "batch_orders", "lr_find", "LRFinderResult"]
