"""Claim: L2 regularisation curbs over-fitting; and the text's "L2 knocks out neurons".

A wide network trained long on a small training subset (where over-fitting
shows), with lambda over a decade grid. Measured: train/dev accuracy gap, the
kernels' norm, and how many weights actually end near zero.
"""

import numpy as np

import nlayer as nl

from . import figures
from .runner import Result, final, mlp, train
from .verdicts import Claim

LAMBDAS = (0.0, 0.01, 0.1, 1.0, 10.0)
GAP_GAIN = 0.01     # a lambda must narrow the gap by at least this much ...
DEV_LOSS = 0.005    # ... while losing at most this much development accuracy
ZERO = 1e-3         # |w| below this counts as knocked out
KNOCKED = 0.10      # the claim needs this share more weights near zero than lambda = 0


def weight_stats(model):
    """(sum of squared kernel entries, share of kernel entries with |w| < ZERO)."""
    w = np.concatenate([l.params["kernel"].ravel() for l in model.layers
                        if isinstance(l, nl.Dense)]).astype(np.float64)
    return float(w @ w), float(np.mean(np.abs(w) < ZERO))


def narrows_gap(by_lambda):
    """by_lambda: {lambda: (gap, dev accuracy)}; True if some lambda > 0 narrows the gap by
    GAP_GAIN or more while keeping dev accuracy within DEV_LOSS of lambda = 0."""
    gap0, dev0 = by_lambda[0.0]
    if gap0 is None or dev0 is None:
        return None
    return any(g is not None and g <= gap0 - GAP_GAIN and d >= dev0 - DEV_LOSS
               for lam, (g, d) in by_lambda.items() if lam > 0)


def knocks_out(zero_share_best, zero_share_none):
    """At the lambda with the best dev accuracy, KNOCKED more of the weights are near zero."""
    return zero_share_best - zero_share_none >= KNOCKED


def run(ctx):
    data = ctx.data
    epochs = ctx.pick(30, 150, 60)
    hidden = ctx.pick((64,), (256, 256), (256, 256))
    rows = []
    for seed in ctx.seeds:
        for lam in LAMBDAS:
            model = mlp(hidden, optimizer=nl.SGD(lr=0.05, momentum=0.9), l2=lam)
            r = train(model, data.X_small, data.y_small, epochs, seed,
                      dev=(data.X_dev, data.y_dev), batch_size=32)
            train_acc = final(r.curve.get("accuracy"))
            dev_acc = final(r.curve.get("val_accuracy"))
            sq, zero = weight_stats(model)
            rows.append({"seed": seed, "lambda": lam, "diverged": bool(r.diverged),
                         "train_accuracy": train_acc, "dev_accuracy": dev_acc,
                         "gap": None if dev_acc is None or train_acc is None else train_acc - dev_acc,
                         "weight_norm": sq ** 0.5, "near_zero_share": zero})
    gap = Claim("L2 narrows the train/dev gap without costing development accuracy",
                f"some lambda > 0 narrows the final accuracy gap by >= {GAP_GAIN} while losing "
                f"<= {DEV_LOSS} development accuracy against lambda = 0")
    knock = Claim("L2 knocks out neurons (drives weights to zero)",
                  f"at the lambda with the best development accuracy, the share of weights with "
                  f"|w| < {ZERO:g} exceeds lambda = 0's by >= {KNOCKED:.0%}")
    for seed in ctx.seeds:
        rs = {r["lambda"]: r for r in rows if r["seed"] == seed}
        gap.add(narrows_gap({lam: (r["gap"], r["dev_accuracy"]) for lam, r in rs.items()}),
                "gaps " + ", ".join(f"{lam:g}: {r['gap']:.3f}" for lam, r in rs.items()))
        best = max((r for lam, r in rs.items() if lam > 0), key=lambda r: r["dev_accuracy"] or 0)
        knock.add(knocks_out(best["near_zero_share"], rs[0.0]["near_zero_share"]),
                  f"best lambda {best['lambda']:g}: {best['near_zero_share']:.1%} near zero "
                  f"(lambda 0: {rs[0.0]['near_zero_share']:.1%})")
    fig = _figure(rows, ctx)
    table = [r for r in rows if r["seed"] == ctx.seeds[0]]
    return Result("l2", "L2 regularisation on a small training set", [gap, knock], rows, [fig],
                  summary_rows=table,
                  notes=[f"Table: seed {ctx.seeds[0]}; {len(data.y_small)} training rows, "
                         f"{epochs} epochs, hidden {hidden}, SGD lr 0.05 momentum 0.9, batch 32. "
                         "lambda enters J as lambda/(2m) sum ||W||^2 (m = rows in the batch). "
                         "L2 shrinks every weight in proportion (w <- (1 - lr lambda/m) w); "
                         "weights that no example pushes (e.g. always-blank pixels) decay "
                         "towards zero."])


def _figure(rows, ctx):
    plt = figures.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    xs = [lam if lam > 0 else LAMBDAS[1] / 10 for lam in LAMBDAS]
    for j, seed in enumerate(ctx.seeds):
        rs = [next(r for r in rows if r["seed"] == seed and r["lambda"] == lam) for lam in LAMBDAS]
        alpha = 1 if j == 0 else 0.35
        axes[0].plot(xs, [r["train_accuracy"] for r in rs], "o-", color="C0", alpha=alpha,
                     label="train" if j == 0 else None)
        axes[0].plot(xs, [r["dev_accuracy"] for r in rs], "o-", color="C1", alpha=alpha,
                     label="dev" if j == 0 else None)
        axes[1].plot(xs, [r["weight_norm"] for r in rs], "o-", color="C2", alpha=alpha)
        axes[2].plot(xs, [r["near_zero_share"] for r in rs], "o-", color="C3", alpha=alpha)
    titles = ("accuracy (leftmost point: lambda = 0)", "||W|| (all kernels)",
              f"share of weights with |w| < {ZERO:g}")
    for ax, title in zip(axes, titles):
        ax.set(xscale="log", xlabel="lambda", title=title)
        ax.grid(alpha=0.3)
    axes[0].legend()
    return figures.save(fig, ctx.out / "l2.png")
