"""Claim: normalising inputs speeds up and stabilises training.

The same network and optimiser on raw pixels (0-255; digits 0-16), pixels
divided by their maximum, and standardised pixels (zero mean, unit variance per
feature, fitted on the training rows).
"""

import math

import nlayer as nl

from . import figures
from .runner import Result, final, mlp, train
from .verdicts import Claim, epochs_to

VARIANTS = ("raw", "scaled", "standardized")


def raw_worse(raw_loss, raw_diverged, other_losses):
    """Raw pixels diverge, or end with a higher training loss than every normalised input."""
    if raw_diverged:
        return True
    if raw_loss is None or None in other_losses:
        return None
    return raw_loss > max(other_losses)


def faster(curve, reference_final, epochs):
    """``curve`` reaches the reference's final loss before the last epoch."""
    if reference_final is None or not curve:
        return None
    reached = epochs_to(curve, reference_final, higher_is_better=False)
    return reached is not None and reached < epochs


def run(ctx):
    data = ctx.data
    epochs = ctx.pick(4, 20, 10)
    hidden = ctx.pick((64,), (128, 128), (128, 128))
    rows, curves = [], {}
    for seed in ctx.seeds:
        for variant in VARIANTS:
            X = data.X * data.pixel_scale if variant == "raw" else data.X
            X_dev = data.X_dev * data.pixel_scale if variant == "raw" else data.X_dev
            model = mlp(hidden, optimizer=nl.SGD(lr=0.05, momentum=0.9),
                        normalize="standard" if variant == "standardized" else None)
            r = train(model, X, data.y, epochs, seed, dev=(X_dev, data.y_dev))
            loss = r.curve.get("loss", [])
            curves[seed, variant] = loss
            rows.append({"seed": seed, "inputs": variant, "diverged": bool(r.diverged),
                         "diverged_at": r.diverged, "epochs_run": len(loss),
                         "loss_epoch_1": loss[0] if loss else None, "final_loss": final(loss),
                         "final_dev_accuracy": final(r.curve.get("val_accuracy"))})
    worse = Claim("raw pixels train worse than normalised ones",
                  "the raw-pixel run diverges, or ends with a higher training loss than both "
                  "normalised runs")
    std = Claim("standardising trains faster than scaling to [0, 1]",
                f"the standardised run reaches the [0, 1] run's final training loss before "
                f"epoch {epochs}")
    for seed in ctx.seeds:
        by = {r["inputs"]: r for r in rows if r["seed"] == seed}
        worse.add(raw_worse(by["raw"]["final_loss"], by["raw"]["diverged"],
                            [by["scaled"]["final_loss"], by["standardized"]["final_loss"]]),
                  "raw diverged" if by["raw"]["diverged"] else
                  f"final loss raw {by['raw']['final_loss']:.4f}, scaled "
                  f"{by['scaled']['final_loss']:.4f}, standardised "
                  f"{by['standardized']['final_loss']:.4f}")
        reached = epochs_to(curves[seed, "standardized"], by["scaled"]["final_loss"], False)
        std.add(faster(curves[seed, "standardized"], by["scaled"]["final_loss"], epochs),
                f"standardised reaches it at epoch {reached}")
    fig = _figure(curves, ctx, data.pixel_scale)
    table = [{k: v for k, v in r.items() if k != "diverged_at"} for r in rows]
    notes = [f"SGD lr 0.05 momentum 0.9, batch 64, hidden {hidden}, {epochs} epochs. "
             f"Raw pixels are the dataset's values before division by {data.pixel_scale:g}."]
    notes += [f"Divergence (seed {r['seed']}): {r['diverged_at']}" for r in rows if r["diverged"]]
    return Result("normalize", "Input normalisation", [worse, std], rows, [fig],
                  summary_rows=table, notes=notes)


def _figure(curves, ctx, scale):
    plt = figures.pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = {"raw": f"raw pixels (0-{scale:g})", "scaled": "pixels / max (0-1)",
              "standardized": "standardised"}
    for k, variant in enumerate(VARIANTS):
        for j, seed in enumerate(ctx.seeds):
            loss = [v if math.isfinite(v) else math.nan for v in curves[seed, variant]]
            ax.plot(range(1, len(loss) + 1), loss, color=f"C{k}", alpha=1 if j == 0 else 0.35,
                    label=labels[variant] if j == 0 else None, marker="x" if len(loss) < 2 else None)
    ax.set_yscale("log")
    ax.set(title="training loss per epoch (faint: other seeds; short lines diverged)",
           xlabel="epoch", ylabel="loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return figures.save(fig, ctx.out / "normalize.png")
