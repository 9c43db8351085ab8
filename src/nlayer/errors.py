"""Exceptions that name what went wrong and how to fix it."""

__all__ = ["TrainingDivergedError", "ModelFileError", "NotFittedError"]


class TrainingDivergedError(ArithmeticError):
    """The loss became NaN or inf; the model keeps the last good weights."""

    def __init__(self, epoch, batch, loss):
        self.epoch, self.batch, self.loss = epoch, batch, loss
        super().__init__(
            f"training diverged: the loss became {loss} at epoch {epoch}, batch {batch}. "
            "The model keeps the weights from the end of the last completed epoch. "
            "Try a smaller learning rate (e.g. 10x smaller), input normalisation "
            "(normalize='standard') or a scaled initialiser (init='auto')."
        )


class ModelFileError(ValueError):
    """A saved model file is missing, malformed or has been tampered with."""


class NotFittedError(RuntimeError):
    """The model has no weights yet."""
