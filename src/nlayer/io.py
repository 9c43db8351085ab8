"""The import path ``nlayer.io``: model files are written and read by :mod:`nlayer.saving`, and
:func:`nlayer.load` builds the model (:mod:`nlayer.model.loading`)."""

from .model.loading import load
from .saving.atomic import write_atomically  # noqa: F401
from .saving.modelfile import FORMAT_VERSION, SUPPORTED_VERSIONS, save

__all__ = ["save", "load", "FORMAT_VERSION", "SUPPORTED_VERSIONS"]
