"""Availability: which peers can run here, and which cannot run a given spec faithfully."""

import importlib.metadata
import importlib.util

_INSTALL_HINT = {
    "keras": 'pip install "nlayer[compare]"',
    "pytorch": 'pip install "nlayer[compare]"',
    "sklearn": 'pip install "nlayer[sklearn]"',
}


def available_peers():
    """``{peer: None}`` when the library can be imported, else a note saying why not.

    Cheap: looks for the packages without importing them (TensorFlow alone
    takes seconds to import).

    Examples
    --------
    >>> from nlayer.compare import available_peers
    >>> available_peers()["nlayer"] is None   # nlayer itself is always there
    True
    """
    notes = {"nlayer": None}
    notes["keras"] = _missing("keras", "keras")
    if notes["keras"] is None:
        try:
            major = int(importlib.metadata.version("keras").split(".")[0])
        except (importlib.metadata.PackageNotFoundError, ValueError):
            major = 3
        if major < 3:
            notes["keras"] = (f"keras {importlib.metadata.version('keras')} is too old "
                              f"(needs 3.x): {_INSTALL_HINT['keras']}")
    notes["pytorch"] = _missing("torch", "pytorch")
    notes["sklearn"] = _missing("sklearn", "sklearn", label="scikit-learn")
    return notes


def _missing(module, peer, label=None):
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return f"{label or module} not installed: {_INSTALL_HINT[peer]}"


def _unsupported(peer, spec, n_outputs):
    """Why ``peer`` cannot run this experiment faithfully, or None."""
    if peer != "sklearn":
        return None
    if spec.batchnorm:
        return "skipped: scikit-learn's MLP has no batch normalisation"
    if spec.dropout:
        return "skipped: scikit-learn's MLP has no dropout"
    if spec.activation == "leaky_relu":
        return "skipped: scikit-learn's MLP has no leaky ReLU"
    if not spec.hidden:
        return "skipped: scikit-learn's MLP needs at least one hidden layer"
    if spec.classification and n_outputs < 3:
        return ("skipped: for two classes scikit-learn uses one logistic output, which cannot "
                "start from the weights of a two-unit softmax")
    return None


def _notes_for(peer, spec):
    notes = []
    if spec.dropout and peer != "nlayer":
        notes.append("dropout masks come from this library's own generator, so the run agrees "
                     "with nlayer only in distribution")
    if spec.batchnorm and peer == "pytorch":
        notes.append("BatchNorm1d's running_var uses the unbiased batch variance (m/(m-1)); "
                     "inference differs slightly from nlayer/Keras")
    return "; ".join(notes)
