"""Exceptions that name what went wrong and how to fix it.

Errors whose fix depends on how the user reaches nlayer (library arguments or
command-line flags) carry the fixes as keys; ``str(exc)`` words them for the
library (:data:`LIBRARY_FIXES`) and ``exc.message(wording)`` for another
front end (the CLI passes its flag names).
"""

from collections.abc import Iterable, Mapping

__all__ = ["TrainingDivergedError", "ModelFileError", "NotFittedError", "ModelTooLargeError",
           "CheckpointMismatchError", "LIBRARY_FIXES"]

#: How the library words each fix an error can suggest.
LIBRARY_FIXES = {
    "lr": "a smaller learning rate (e.g. 10x smaller)",
    "scale_targets": "standardised regression targets (compile(..., scale_targets=True))",
    "normalize": "input normalisation (normalize='standard')",
    "init": "a scaled initialiser (init='auto')",
    "layers": "fewer or narrower layers",
    "batch_size": "a smaller batch_size",
    "dtype": "dtype='float32' instead of float64",
}


class _Advised:
    """Mixin: a message made of a fixed part and a list of fixes worded per front end."""

    def _init_advice(self, text: str, lead: str, fixes: Iterable[str],
                     wording: Mapping[str, str] | None = None) -> None:
        self.text, self.lead, self.fixes, self.wording = text, lead, tuple(fixes), wording

    def message(self, wording: Mapping[str, str] | None = None) -> str:
        """The message with each fix worded by ``wording`` (a dict over LIBRARY_FIXES)."""
        wording = {**LIBRARY_FIXES, **(self.wording or {}), **(wording or {})}
        options = [wording[f] for f in self.fixes]
        if not options:
            return self.text
        listed = options[0] if len(options) == 1 else \
            ", ".join(options[:-1]) + " or " + options[-1]
        return f"{self.text} {self.lead} {listed}."

    def __str__(self) -> str:
        return self.message()


class TrainingDivergedError(_Advised, ArithmeticError):
    """The loss became NaN or inf; the model keeps the last good weights.

    ``fixes`` lists what applies to this model, most likely first (keys of
    :data:`LIBRARY_FIXES`).

    Parameters
    ----------
    epoch, batch : int
        Where the loss diverged (1-based).
    loss : float
        The loss that was not finite.
    fixes : iterable of str, default ("lr", "normalize", "init")
    wording : dict of str to str, optional
        How to word some fixes instead of :data:`LIBRARY_FIXES` (a front end's).

    Examples
    --------
    >>> import nlayer as nl
    >>> error = nl.TrainingDivergedError(3, 7, float("nan"), fixes=["lr"])
    >>> print(error.message({"lr": "--lr 0.001"}))  # the fixes as another front end words them
    training diverged: the loss became nan at epoch 3, batch 7. The model keeps the weights
    from the end of the last completed epoch. Try --lr 0.001.
    """

    def __init__(self, epoch: int, batch: int, loss: float,
                 fixes: Iterable[str] = ("lr", "normalize", "init"),
                 wording: Mapping[str, str] | None = None) -> None:
        self.epoch, self.batch, self.loss = epoch, batch, loss
        self._init_advice(f"training diverged: the loss became {loss} at epoch {epoch}, batch "
                          f"{batch}. The model keeps the weights from the end of the last "
                          "completed epoch.", "Try", fixes, wording)
        super().__init__(self.message())


class ModelTooLargeError(_Advised, MemoryError):
    """The model would not fit in memory; raised before anything large is allocated.

    Parameters
    ----------
    text : str
        What does not fit.
    needed, available : int
        Bytes.
    fixes : iterable of str, default ("layers", "batch_size")
        Keys of :data:`LIBRARY_FIXES`.

    Examples
    --------
    >>> import nlayer as nl
    >>> print(nl.ModelTooLargeError("The weights need 12 GB; 8 GB are free.", 12 * 2**30,
    ...                             8 * 2**30, fixes=["layers"]))
    The weights need 12 GB; 8 GB are free. Use fewer or narrower layers.
    """

    def __init__(self, text: str, needed: int, available: int,
                 fixes: Iterable[str] = ("layers", "batch_size")) -> None:
        self.needed, self.available = needed, available
        self._init_advice(text, "Use", fixes)
        super().__init__(self.message())


class ModelFileError(ValueError):
    """A saved model file is missing, malformed or has been tampered with.

    Examples
    --------
    >>> import os, tempfile, nlayer as nl
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "model.nlayer")
    ...     _ = open(path, "wb").write(b"not a model")
    ...     try:
    ...         nl.load(path)
    ...     except nl.ModelFileError:
    ...         print("refused")
    refused
    """


class NotFittedError(RuntimeError):
    """The model has no weights yet.

    Examples
    --------
    >>> import nlayer as nl
    >>> try:
    ...     nl.Sequential([nl.Dense(2)]).get_weights()   # not built: no input width yet
    ... except nl.NotFittedError:
    ...     print("no weights yet")
    no weights yet
    """


class CheckpointMismatchError(ValueError):
    """A checkpoint that cannot continue this ``fit``: another model, other callbacks, other
    fit settings or other data than the interrupted run's. The file itself is sound
    (a damaged file is a :class:`ModelFileError`).

    Examples
    --------
    See :class:`~nlayer.ModelCheckpoint`'s, whose resumed run must match the interrupted one.
    """
