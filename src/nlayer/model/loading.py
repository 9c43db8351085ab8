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

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Sequential
        Built, compiled as it was saved, with its normaliser, history and metadata.

    Raises
    ------
    ModelFileError
        If the file is missing, unreadable or not a valid model file.

    Examples
    --------
    >>> import os, tempfile, numpy as np, nlayer as nl
    >>> X, y = np.random.default_rng(0).normal(size=(64, 3)), np.arange(64) % 2
    >>> model = nl.MLP(hidden=(8,))
    >>> model.compile()
    Sequential(2 layers, dtype=float32)
    >>> _ = model.fit(X, y, epochs=2, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.nlayer")
    >>> model.save(path)
    >>> np.array_equal(nl.load(path).predict(X), model.predict(X))
    True
    """
    return Sequential.from_file_contents(path, *saving.read(path))
