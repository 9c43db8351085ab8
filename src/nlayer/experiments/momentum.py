"""Claim: momentum speeds up mini-batch gradient descent.

The same network from the same weights trained by plain SGD, SGD with momentum
0.9, Nesterov momentum 0.9 (all at the same learning rate) and Adam.
"""

import nlayer as nl

from . import figures
from .runner import Result, final, mlp, train
from .verdicts import Claim, epochs_to

LR = 0.01
OPTIMIZERS = {"sgd": lambda: nl.SGD(lr=LR),
              "momentum 0.9": lambda: nl.SGD(lr=LR, momentum=0.9),
              "nesterov 0.9": lambda: nl.SGD(lr=LR, momentum=0.9, nesterov=True),
              "adam": lambda: nl.Adam(lr=0.001)}


def reaches_sooner(curve, reference, epochs):
    """``curve`` reaches the reference run's final training loss before the last epoch."""
    if not curve or not reference:
        return None
    at = epochs_to(curve, reference[-1], higher_is_better=False)
    return at is not None and at < epochs


def run(ctx):
    data = ctx.data
    epochs = ctx.pick(4, 20, 10)
    hidden = ctx.pick((32,), (128, 128), (128, 128))
    rows, curves = [], {}
    for seed in ctx.seeds:
        for name, make in OPTIMIZERS.items():
            r = train(mlp(hidden, optimizer=make()), data.X, data.y, epochs, seed,
                      dev=(data.X_dev, data.y_dev))
            loss = r.curve.get("loss", [])
            curves[seed, name] = (loss, r.times)
            rows.append({"seed": seed, "optimizer": name, "diverged": bool(r.diverged),
                         "final_loss": final(loss), "final_dev_accuracy":
                         final(r.curve.get("val_accuracy")), "seconds": round(r.seconds, 3)})
    claims = []
    for name in ("momentum 0.9", "nesterov 0.9"):
        claim = Claim(f"{name} speeds up mini-batch SGD",
                      f"reaches plain SGD's training loss after {epochs} epochs (same lr {LR}) "
                      "in fewer epochs")
        for seed in ctx.seeds:
            curve, ref = curves[seed, name][0], curves[seed, "sgd"][0]
            at = epochs_to(curve, ref[-1], False) if ref else None
            claim.add(reaches_sooner(curve, ref, epochs), f"reached at epoch {at}")
        claims.append(claim)
    fig = _figure(curves, ctx)
    table = [r for r in rows if r["seed"] == ctx.seeds[0]]
    return Result("momentum", "Momentum, Nesterov and Adam against plain SGD", claims, rows,
                  [fig], summary_rows=table,
                  notes=[f"Table: seed {ctx.seeds[0]}; SGD variants at lr {LR}, Adam at lr 0.001; "
                         f"batch 64, hidden {hidden}. Seconds are wall time on a shared machine."])


def _figure(curves, ctx):
    plt = figures.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for k, name in enumerate(OPTIMIZERS):
        loss, times = curves[ctx.seeds[0], name]
        left.plot(range(1, len(loss) + 1), loss, color=f"C{k}", label=name)
        right.plot(times[:len(loss)], loss, color=f"C{k}", label=name)
    left.set(title="training loss per epoch", xlabel="epoch", ylabel="loss", yscale="log")
    right.set(title="training loss against wall time", xlabel="seconds")
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    return figures.save(fig, ctx.out / "momentum.png")
