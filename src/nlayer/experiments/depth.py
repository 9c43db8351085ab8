"""Claim: at an equal parameter budget, deeper networks beat wide shallow ones.

1, 2, 4 and 8 hidden layers whose widths are chosen so that every network has
about the parameters of one hidden layer of 128 units; without and with batch
norm. Measured: test accuracy after a fixed number of epochs and the first epoch
whose development accuracy reaches a target.
"""

import math

import nlayer as nl

from . import figures
from .runner import Result, final, mlp, test_accuracy, train
from .verdicts import Claim, epochs_to

DEPTHS = (1, 2, 4, 8)
BASE_WIDTH = 128
MARGIN = 0.005  # a deeper net must gain at least this much test accuracy


def width_for(depth, n_in, n_out, budget):
    """The hidden width w whose depth-layer MLP has about ``budget`` parameters.

    Parameters: n_in w + w + (depth - 1)(w^2 + w) + w n_out + n_out = budget.
    """
    a, b, c = depth - 1, n_in + 1 + (depth - 1) + n_out, n_out - budget
    w = -c / b if a == 0 else (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    return max(1, round(w))


def n_params(depth, width, n_in, n_out):
    return n_in * width + width + (depth - 1) * (width * width + width) + width * n_out + n_out


def deeper_wins(accuracies):
    """accuracies: {depth: test accuracy}; True when the best deeper net gains >= MARGIN."""
    if any(v is None for v in accuracies.values()):
        return None
    return max(v for d, v in accuracies.items() if d > 1) - accuracies[1] >= MARGIN


def run(ctx):
    data = ctx.data
    n_in, n_out = data.X.shape[1], int(data.y.max()) + 1
    budget = n_params(1, BASE_WIDTH, n_in, n_out)
    epochs = ctx.pick(4, 30, 15)
    target = ctx.pick(0.8, 0.95, 0.85)
    rows = []
    for seed in ctx.seeds:
        for bn in (False, True):
            for depth in DEPTHS:
                width = width_for(depth, n_in, n_out, budget)
                model = mlp((width,) * depth, batchnorm=bn, optimizer=nl.SGD(lr=0.05, momentum=0.9))
                r = train(model, data.X, data.y, epochs, seed, dev=(data.X_dev, data.y_dev))
                dev = r.curve.get("val_accuracy", [])
                rows.append({"seed": seed, "batchnorm": bn, "depth": depth, "width": width,
                             "params": model.count_params(),
                             "test_accuracy": None if r.diverged else test_accuracy(model, data),
                             "dev_accuracy": final(dev), "epochs_to_target": epochs_to(dev, target),
                             "diverged": bool(r.diverged),
                             "dev_curve": " ".join(f"{v:.4f}" for v in dev)})
    claims = []
    for bn in (False, True):
        claim = Claim(f"deeper beats wider at equal parameters ({'with' if bn else 'without'} "
                      "batch norm)",
                      f"best test accuracy of 2, 4 or 8 hidden layers exceeds 1 hidden layer's by "
                      f">= {MARGIN} after {epochs} epochs (about {budget:,} parameters each)")
        for seed in ctx.seeds:
            acc = {r["depth"]: r["test_accuracy"] for r in rows
                   if r["seed"] == seed and r["batchnorm"] == bn}
            claim.add(deeper_wins(acc), ", ".join(f"{d}: {fmt_acc(a)}" for d, a in acc.items()))
        claims.append(claim)
    table = _mean_table(rows, ctx.seeds)
    fig = _figure(rows, ctx, target)
    return Result("depth", "Depth against width at an equal parameter budget", claims, rows,
                  [fig], summary_rows=table,
                  notes=[f"Table: mean over seeds; epochs_to_target = first epoch with development "
                         f"accuracy >= {target} (mean over the seeds that reached it; 'reached' "
                         "counts them). SGD lr 0.05 momentum 0.9, batch 64."])


def fmt_acc(a):
    return "n/a" if a is None else f"{a:.4f}"


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _mean_table(rows, seeds):
    out = []
    for bn in (False, True):
        for depth in DEPTHS:
            rs = [r for r in rows if r["batchnorm"] == bn and r["depth"] == depth]
            out.append({"batchnorm": bn, "depth": depth, "width": rs[0]["width"],
                        "params": rs[0]["params"],
                        "test_accuracy": _mean([r["test_accuracy"] for r in rs]),
                        "epochs_to_target": _mean([r["epochs_to_target"] for r in rs]),
                        "reached": f"{sum(r['epochs_to_target'] is not None for r in rs)}/{len(rs)}"})
    return out


def _figure(rows, ctx, target):
    plt = figures.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, bn in zip(axes, (False, True)):
        for depth in DEPTHS:
            r = next(r for r in rows if (r["seed"], r["batchnorm"], r["depth"]) ==
                     (ctx.seeds[0], bn, depth))
            curve = [float(v) for v in r["dev_curve"].split()]
            ax.plot(range(1, len(curve) + 1), curve,
                    label=f"{depth} x {r['width']} ({r['params']:,} params)")
        ax.axhline(target, color="grey", linestyle=":", label=f"target {target}")
        ax.set(title=f"development accuracy, {'with' if bn else 'without'} batch norm",
               xlabel="epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return figures.save(fig, ctx.out / "depth.png")
