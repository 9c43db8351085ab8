"""Claim: batch normalisation speeds up training and tolerates larger learning rates.

A network of 4 hidden layers (ReLU, He init) trained by plain mini-batch SGD at
three learning rates, without and with batch norm.
"""

import math

import nlayer as nl

from . import figures
from .runner import Result, final, mlp, train
from .verdicts import Claim, epochs_to

RATES = (0.01, 0.1, 1.0)
UNSTABLE = 2.0  # final dev loss above this multiple of the run's best dev loss = unstable
COLLAPSED = 2.0  # final dev accuracy at most this multiple of chance (1 / classes) = unstable


def cost(reached, epochs):
    """Epochs to the target, counting a run that never reached it as epochs + 1."""
    return epochs + 1 if reached is None else reached


def bn_faster(plain, bn, epochs):
    """plain, bn: {lr: epochs to target or None}; True when BN's total is strictly smaller,
    None when no run reached the target (nothing to compare)."""
    if all(v is None for v in [*plain.values(), *bn.values()]):
        return None
    return sum(cost(bn[lr], epochs) for lr in bn) < sum(cost(plain[lr], epochs) for lr in plain)


def unstable(diverged, dev_losses, dev_accuracy, n_classes):
    """Diverged, the last development loss is UNSTABLE times its best, or training collapsed
    (final development accuracy at most COLLAPSED times chance)."""
    if diverged:
        return True
    finite = [v for v in dev_losses if math.isfinite(v)]
    return not finite or dev_losses[-1] > UNSTABLE * min(finite) or \
        dev_accuracy is None or dev_accuracy <= COLLAPSED / n_classes


def bn_stabler(plain_unstable, bn_unstable):
    """{lr: bool}: True when BN is unstable nowhere plain is stable and stable somewhere plain is
    not; None when neither is ever unstable (the rates did not test stability)."""
    if not any(plain_unstable.values()) and not any(bn_unstable.values()):
        return None
    worse = any(bn_unstable[lr] and not plain_unstable[lr] for lr in plain_unstable)
    better = any(plain_unstable[lr] and not bn_unstable[lr] for lr in plain_unstable)
    return better and not worse


def run(ctx):
    data = ctx.data
    epochs = ctx.pick(10, 20, 10)
    width = ctx.pick(32, 128, 128)
    # large: 0.85 was first tried and no run at 10 epochs of 10,000 rows reached it
    target = ctx.pick(0.6, 0.95, 0.8)
    n_classes = int(data.y.max()) + 1
    rows = []
    for seed in ctx.seeds:
        for bn in (False, True):
            for lr in RATES:
                model = mlp((width,) * 4, batchnorm=bn, optimizer=nl.SGD(lr=lr))
                r = train(model, data.X, data.y, epochs, seed, dev=(data.X_dev, data.y_dev))
                dev_acc, dev_loss = r.curve.get("val_accuracy", []), r.curve.get("val_loss", [])
                rows.append({"seed": seed, "batchnorm": bn, "lr": lr, "diverged": bool(r.diverged),
                             "epochs_to_target": epochs_to(dev_acc, target),
                             "final_dev_accuracy": final(dev_acc),
                             "unstable": unstable(bool(r.diverged), dev_loss, final(dev_acc),
                                                  n_classes),
                             "dev_curve": " ".join(f"{v:.4f}" for v in dev_acc)})
    speed = Claim("batch norm reaches the target accuracy in fewer epochs",
                  f"sum over learning rates {', '.join(map(str, RATES))} of the epochs to "
                  f"development accuracy {target} (not reached = {epochs + 1}) is smaller with "
                  "batch norm")
    stable = Claim("batch norm keeps training stable at learning rates where it is not without",
                   f"a run is unstable if it diverges or ends with a development loss above "
                   f"{UNSTABLE:g}x its best or at <= {COLLAPSED:g}x chance accuracy; batch norm must be stable at some rate where the "
                   "plain net is not, and unstable at none where the plain net is stable")
    for seed in ctx.seeds:
        get = {(r["batchnorm"], r["lr"]): r for r in rows if r["seed"] == seed}
        plain = {lr: get[False, lr]["epochs_to_target"] for lr in RATES}
        with_bn = {lr: get[True, lr]["epochs_to_target"] for lr in RATES}
        speed.add(bn_faster(plain, with_bn, epochs), f"epochs plain {plain}, batch norm {with_bn}")
        pu = {lr: get[False, lr]["unstable"] for lr in RATES}
        bu = {lr: get[True, lr]["unstable"] for lr in RATES}
        stable.add(bn_stabler(pu, bu), f"unstable plain {pu}, batch norm {bu}")
    fig = _figure(rows, ctx, target)
    table = [{k: v for k, v in r.items() if k != "dev_curve"} for r in rows
             if r["seed"] == ctx.seeds[0]]
    return Result("batchnorm", "Batch normalisation at three learning rates", [speed, stable],
                  rows, [fig], summary_rows=table,
                  notes=[f"Table: seed {ctx.seeds[0]}. Plain SGD (no momentum), batch 64, "
                         f"4 hidden layers of {width}, {epochs} epochs."])


def _figure(rows, ctx, target):
    plt = figures.pyplot()
    fig, axes = plt.subplots(1, len(RATES), figsize=(12, 4), sharey=True)
    for ax, lr in zip(axes, RATES):
        for bn in (False, True):
            r = next(r for r in rows if (r["seed"], r["batchnorm"], r["lr"]) ==
                     (ctx.seeds[0], bn, lr))
            curve = [float(v) for v in r["dev_curve"].split()]
            ax.plot(range(1, len(curve) + 1), curve, marker=".",
                    label=("batch norm" if bn else "plain") + (" (diverged)" if r["diverged"] else ""))
        ax.axhline(target, color="grey", linestyle=":")
        ax.set(title=f"lr {lr}: development accuracy", xlabel="epoch", ylim=(0, 1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return figures.save(fig, ctx.out / "batchnorm.png")
