"""``nl.load``: a model from its file."""

import os

from .. import saving
from .sequential import Sequential

__all__ = ["load"]


def load(path: str | os.PathLike[str]) -> Sequential:
    """Read a model written by ``model.save`` (or a checkpoint, as the model at that moment).

    Whatever the file holds, this returns a model or raises
    :class:`~nlayer.errors.ModelFileError`: :func:`nlayer.saving.read` checks the archive,
    the JSON header and every array's declared shape before anything is allocated or built
    from them, and nothing is unpickled or executed.
    """
    return Sequential.from_file_contents(path, *saving.read(path))
