"""A model from the contents of its file: the header and arrays that
:func:`nlayer.saving.read` has checked become a built model with its weights, input
normaliser, target scaler, history, metadata and optimiser state.

The file format knows nothing of the model (see :mod:`nlayer.saving`); the model asks
it for the checked contents and builds itself from them here.
"""

from .. import layers as layers_mod
from ..callbacks import History
from ..errors import ModelFileError
from ..preprocessing import NORMALIZERS, Standardizer
from ..saving.modelfile import invalid_settings

__all__ = ["build", "config", "from_config"]


def build(cls, path, header, arrays):
    """The ``cls`` model (a :class:`~nlayer.model.Sequential`) that a checked file's
    ``header`` and ``arrays`` describe (see :func:`nlayer.saving.read`): built from the
    config, then given the file's weights, statistics, history, metadata and optimiser
    state. ``path`` names the file in errors."""
    config = header["config"]
    try:
        model = cls.from_config(config)
    except (ValueError, TypeError) as exc:
        raise invalid_settings(path, exc) from exc
    try:
        model.build((None, config["n_features"]), seed=0)
    except MemoryError:
        n = sum(a.nbytes for name, a in arrays.items() if name.startswith("w"))
        raise ModelFileError(f"{path}: the model needs about {3 * n:,} bytes (weights, "
                             "gradients, their initial values) and this process cannot "
                             "allocate them; free memory or load the model on a larger "
                             "machine") from None
    model.set_weights([arrays[f"w{i}"] for i in range(len(model.get_weights()))])
    _take_statistics(model, path, header, arrays)
    if header.get("history"):
        model.history = History.from_dict(header["history"])
    model.metadata = header.get("metadata") or {}
    if header.get("optimizer_state") and model.compiled:
        _take_optimizer_state(model, path, header["optimizer_state"], arrays)
    return model


def _take_statistics(model, path, header, arrays):
    """The input normaliser's and the target scaler's statistics from a file."""
    if header.get("normalizer"):
        model.normalizer = NORMALIZERS[header["normalizer"]].from_state(
            {"name": header["normalizer"], "shift": arrays["norm_shift"],
             "scale": arrays["norm_scale"]})
    if model.target_scaler is not None:
        model.target_scaler = Standardizer.from_state(
            {"name": Standardizer.name, "shift": arrays.get("target_shift"),
             "scale": arrays.get("target_scale")})
        if model.target_scaler.shift.shape != (model.layers[-1].n_out,):
            raise ModelFileError(f"{path}: target_shift/target_scale are missing or do not "
                                 "match the output layer; the file was altered")


def _take_optimizer_state(model, path, saved, arrays):
    slots = {int(slot): {key: arrays[f"opt{slot}_{key}"] for key in keys}
             for slot, keys in saved["slots"].items()}
    restored = {"iterations": saved["iterations"], "lr": model.optimizer.lr, "slots": slots}
    if isinstance(saved.get("schedule"), dict):
        restored["schedule"] = saved["schedule"]
    try:
        model.optimizer.set_state(restored)
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ModelFileError(f"{path}: the optimiser's saved state is invalid ({exc}); the "
                             "file was altered: use another copy") from None


def config(model):
    """:meth:`Sequential.get_config <nlayer.model.sequential.Sequential.get_config>`."""
    config = {"name": model.name, "dtype": model.dtype.name, "n_features": model.n_features,
              "layers": [layer.get_config() for layer in model.layers]}
    if model.compiled:
        config["compile"] = {
            "optimizer": model.optimizer.get_config(), "loss": model.loss.name, "l2": model.l2,
            "metrics": [m.name for m in model.metrics],
            "normalize": model.normalizer.name if model.normalizer is not None else None,
            "scale_targets": model.target_scaler is not None,
        }
    return config


def from_config(cls, config, dtype=None):
    """:meth:`Sequential.from_config <nlayer.model.sequential.Sequential.from_config>`."""
    model = cls([layers_mod.from_config(c) for c in config["layers"]],
                dtype=dtype or config.get("dtype", "float32"), name=config.get("name", "sequential"))
    if config.get("compile"):
        c = config["compile"]
        model.compile(optimizer=c["optimizer"], loss=c["loss"], l2=c["l2"],
                      metrics=c["metrics"], normalize=c["normalize"],
                      scale_targets=c.get("scale_targets", False))
    return model
