"""Files nlayer writes and reads back: the model file, checkpoints and the atomic write.

- :mod:`~nlayer.saving.modelfile`: :func:`save` a model to one ``.nlayer`` file and
  :func:`read` it back as a checked header and arrays (:func:`nlayer.load` builds the model);
- :mod:`~nlayer.saving.archive`: the zip and every ``.npy`` header, read without trusting them;
- :mod:`~nlayer.saving.schema`: the JSON header's size, depth and every field's type and range;
- :mod:`~nlayer.saving.layout`: the arrays an architecture implies, checked before reading;
- :mod:`~nlayer.saving.checkpoint`: a model file plus where ``fit`` stood;
- :mod:`~nlayer.saving.atomic`: write beside, fsync, rename: a crash leaves the old file or
  the new one.

Nothing here imports the model: what is saved is what a model hands over (weights,
configs, states), and what is read is handed back as arrays and a header.
"""

from . import checkpoint
from .atomic import write_atomically
from .modelfile import CHECKPOINT_VERSION, FORMAT_VERSION, SUPPORTED_VERSIONS, read, save

__all__ = ["save", "read", "write_atomically", "checkpoint", "FORMAT_VERSION",
           "SUPPORTED_VERSIONS", "CHECKPOINT_VERSION"]
