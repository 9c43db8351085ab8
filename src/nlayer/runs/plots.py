"""Figures written into run directories (matplotlib, Agg backend: no display needed)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nlayer.callbacks import drawing  # noqa: E402
from nlayer.saving.atomic import save_figure  # noqa: E402

DPI = 100
CURVES_SIZE = drawing.CURVES_SIZE  # inches -> 1000 x 400 pixels
CONFUSION_SIZE = (7, 6)    # -> 700 x 600
COMPARISON_SIZE = (14, 5)  # -> 1400 x 500: the curves, and their differences
LR_SIZE = (10, 5)          # -> 1000 x 500


def _save(fig, path):
    save_figure(fig, path, dpi=DPI)
    plt.close(fig)


def learning_curves(path, history, best_epoch, metric):
    """Train vs dev loss and ``metric``, the best epoch marked, the learning rate when it
    changed (see :func:`nlayer.callbacks.drawing.curves`)."""
    fig = plt.figure(figsize=CURVES_SIZE)
    drawing.curves(fig, history, best_epoch, metric)
    fig.tight_layout()
    _save(fig, path)


def confusion_counts(y_true, y_pred, n_classes):
    """counts[i, j] = rows of true class i predicted as class j."""
    flat = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def confusion_matrix(path, counts, class_names, title="Confusion matrix (test set)"):
    """A heat map of counts with class names on both axes and each count written in."""
    n = len(class_names)
    fig, ax = plt.subplots(figsize=CONFUSION_SIZE)
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(n), labels=class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), labels=class_names)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    threshold = counts.max() / 2 if counts.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if counts[i, j] > threshold else "black")
    fig.tight_layout()
    _save(fig, path)


def comparison(path, curves, reference="nlayer"):
    """Every system's train (solid) and dev (dashed) loss per epoch; beside it, how far each
    peer's curves are from ``reference``'s: |peer - nlayer| per epoch for the training loss
    (solid) and accuracy or R^2 (dashed), on a log scale, the largest difference in the
    legend. Curves that lie exactly under nlayer's are said to, not hidden.

    ``curves`` maps a system's name to its history dict (``loss``, ``val_loss``, ...).
    Returns :func:`agreement`'s numbers (comparison.json keeps them).
    """
    gaps = agreement(curves, reference)
    fig, axes = plt.subplots(1, 2 if gaps else 1, figsize=COMPARISON_SIZE, squeeze=False)
    ax = axes[0][0]
    for k, (name, history) in enumerate(curves.items()):
        color = f"C{k % 10}"
        for key, style, part in (("loss", "-", "train"), ("val_loss", "--", "dev")):
            values = history.get(key) or []
            if values:
                ax.plot(range(1, len(values) + 1), values, style, color=color,
                        label=f"{name} {part}")
    ax.set(title="Train and dev loss per epoch", xlabel="epoch", ylabel="loss")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    if gaps:
        _differences(axes[0][1], curves, reference, gaps)
    fig.tight_layout()
    _save(fig, path)
    return gaps


def agreement(curves, reference="nlayer"):
    """{peer: {key: largest |peer - reference| over the epochs}} for the training loss and
    the score (accuracy, else r2) that both histories hold; {} without the reference."""
    ref = curves.get(reference)
    if not ref:
        return {}
    keys = ["loss"] + [k for k in ("accuracy", "r2") if k in ref][:1]
    out = {}
    for name, history in curves.items():
        if name == reference:
            continue
        gaps = {}
        for key in keys:
            a, b = history.get(key) or [], ref.get(key) or []
            n = min(len(a), len(b))
            if n:
                gaps[key] = float(np.max(np.abs(np.subtract(a[:n], b[:n], dtype=np.float64))))
        if gaps:
            out[name] = gaps
    return out


_FLOOR = 1e-16  # an exact agreement, drawn at the bottom of the log scale


def _differences(ax, curves, reference, gaps):
    ref = curves[reference]
    names = list(curves)
    for name in gaps:
        color = f"C{names.index(name) % 10}"
        for key, style in zip(gaps[name], ("-", "--")):
            a, b = curves[name][key], ref[key]
            n = min(len(a), len(b))
            diff = np.maximum(np.abs(np.subtract(a[:n], b[:n], dtype=np.float64)), _FLOOR)
            largest = gaps[name][key]
            said = "identical" if largest == 0 else f"max {largest:.1e}"
            ax.plot(range(1, n + 1), diff, style, color=color, label=f"{name} {key} ({said})")
    ax.set(title=f"|peer - {reference}| per epoch (train loss solid, score dashed)",
           xlabel="epoch", yscale="log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def lr_curve(path, rates, losses, raw_losses, suggestion, title, caption):
    """The range test: batch loss (faint) and its moving average against the rate (log
    scale), the suggested rate marked, and a caption under the chart."""
    fig, ax = plt.subplots(figsize=LR_SIZE)
    ax.plot(rates, raw_losses, color="C0", alpha=0.25, linewidth=0.8, label="batch loss")
    ax.plot(rates, losses, color="C0", label="smoothed loss")
    ax.axvline(suggestion, color="C3", linestyle="--",
               label=f"suggestion {suggestion:.3g} (heuristic)")
    low = min(min(losses), min(raw_losses))
    top = max(losses[:int(np.argmin(losses)) + 1])  # the blow-up would flatten the rest
    ax.set(xscale="log", xlabel="learning rate", ylabel="loss J", title=title,
           ylim=(low * 0.9 if low > 0 else None, top * 1.1))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.text(0.5, 0.01, caption, ha="center", va="bottom", fontsize=8, wrap=True)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    _save(fig, path)
