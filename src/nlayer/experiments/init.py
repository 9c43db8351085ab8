"""Claim: naive init makes deep sigmoid/tanh nets' gradients vanish and large init makes ReLU
explode; Xavier/Glorot (tanh, sigmoid) and He (ReLU) keep every layer in a workable range.

Depth 10, width 128 (quick: 32). For each activation x init, one LayerMonitor
sample at the very first step gives each layer's dZ RMS and spread of A; a few
epochs give the loss.
"""

import math

import nlayer as nl

from . import figures
from .runner import Result, final, mlp, train
from .verdicts import Claim, within

ACTIVATIONS = ("sigmoid", "tanh", "relu")
INITS = {"random_normal(1.0)": {"name": "random_normal", "stddev": 1.0},
         "random_normal(0.01)": {"name": "random_normal", "stddev": 0.01},
         "xavier": "xavier", "glorot_uniform": "glorot_uniform", "he_normal": "he_normal"}
DEPTH = 10
VANISH = 1e3   # last hidden dZ RMS over first layer's: at least this much = vanished
KEEP = 100     # Glorot/He: within this factor
EXPLODE = 1e3  # last hidden layer's A spread over the first's: at least this much = exploded


def dz_ratio(dz):
    """Last hidden layer's dZ RMS over the first layer's (dz: hidden layers in order)."""
    if not dz or not dz[0] or not all(math.isfinite(v) for v in dz):
        return None
    return dz[-1] / dz[0]


def vanishes(ratio):
    return None if ratio is None else ratio >= VANISH


def explodes(spread_ratio, diverged):
    """A's spread grows by EXPLODE from the first to the last hidden layer, or training diverged."""
    if diverged:
        return True
    return None if spread_ratio is None else spread_ratio >= EXPLODE


def kept(ratio):
    return None if ratio is None else within(ratio, KEEP)


def run(ctx):
    width = ctx.pick(32, 128, 128)
    epochs = ctx.pick(1, 3, 2)
    rows = []
    for seed in ctx.seeds:
        for act in ACTIVATIONS:
            for label, init in INITS.items():
                model = mlp((width,) * DEPTH, activation=act, init=init,
                            optimizer=nl.SGD(lr=0.01, momentum=0.9))
                monitor = nl.LayerMonitor(every_batches=10 ** 9)  # the first step only
                r = train(model, ctx.data.X, ctx.data.y, epochs, seed, callbacks=[monitor])
                stats = [s for s in (r.history.layer_stats if r.history else [])][:DEPTH]
                dz = [s["dz_rms"] for s in stats]
                spread = [s["a_std"] for s in stats]
                spread_ratio = spread[-1] / spread[0] if spread and spread[0] else None
                rows.append({"seed": seed, "activation": act, "init": label,
                             "dz_first": dz[0] if dz else None, "dz_last_hidden": dz[-1] if dz else None,
                             "dz_ratio": dz_ratio(dz), "a_std_first": spread[0] if spread else None,
                             "a_std_last_hidden": spread[-1] if spread else None,
                             "spread_ratio": spread_ratio,
                             "loss": final(r.curve.get("loss")), "diverged": bool(r.diverged),
                             "dz_per_layer": " ".join(f"{v:.3g}" for v in dz),
                             "a_std_per_layer": " ".join(f"{v:.3g}" for v in spread)})
    claims = _claims(rows, ctx.seeds)
    figs = [_figure(rows, ctx, "dz_per_layer", "dZ RMS at the first step", "init_gradients.png"),
            _figure(rows, ctx, "a_std_per_layer", "std of A at the first step",
                    "init_activations.png")]
    table = [{k: r[k] for k in ("activation", "init", "dz_ratio", "spread_ratio", "loss",
                                "diverged")} for r in rows if r["seed"] == ctx.seeds[0]]
    return Result("init", "Initialisation: vanishing and exploding gradients at depth 10",
                  claims, rows, figs, summary_rows=table,
                  notes=[f"Table: seed {ctx.seeds[0]}; dz_ratio = last hidden layer's dZ RMS "
                         "over the first layer's at the first step (1 = even), spread_ratio = "
                         "the same for the standard deviation of A; loss after "
                         f"{epochs} epoch(s) of SGD lr 0.01 momentum 0.9, width {width}."])


def _get(rows, seed, act, init):
    return next(r for r in rows if (r["seed"], r["activation"], r["init"]) == (seed, act, init))


def _claims(rows, seeds):
    naive = Claim("random_normal(0.01) makes gradients vanish in deep sigmoid and tanh nets",
                  f"dZ RMS of the last hidden layer >= {VANISH:g}x the first layer's, both "
                  "activations")
    big = Claim("random_normal(1.0) makes a deep ReLU net explode",
                f"std of A grows >= {EXPLODE:g}x from the first to the last hidden layer, or "
                "training diverges")
    keep = {name: Claim(f"{init} keeps {act} gradients in range",
                        f"dZ RMS of the last hidden and first layers within {KEEP}x")
            for name, act, init in (("tanh", "tanh", "glorot_uniform"),
                                    ("sigmoid", "sigmoid", "glorot_uniform"),
                                    ("relu", "relu", "he_normal"))}
    for s in seeds:
        ratios = [_get(rows, s, a, "random_normal(0.01)")["dz_ratio"] for a in ("sigmoid", "tanh")]
        outcomes = [vanishes(r) for r in ratios]
        naive.add(None if None in outcomes else all(outcomes),
                  "ratios " + ", ".join(f"{r:.3g}" if r else "n/a" for r in ratios))
        row = _get(rows, s, "relu", "random_normal(1.0)")
        big.add(explodes(row["spread_ratio"], row["diverged"]),
                "diverged" if row["diverged"] else f"spread ratio {row['spread_ratio']:.3g}")
        for name, act, init in (("tanh", "tanh", "glorot_uniform"),
                                ("sigmoid", "sigmoid", "glorot_uniform"),
                                ("relu", "relu", "he_normal")):
            r = _get(rows, s, act, init)["dz_ratio"]
            keep[name].add(kept(r), f"ratio {r:.3g}" if r else "n/a")
    return [naive, big, *keep.values()]


def _figure(rows, ctx, key, title, name):
    plt = figures.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharey=True)
    for ax, act in zip(axes, ACTIVATIONS):
        for label in INITS:
            r = _get(rows, ctx.seeds[0], act, label)
            values = [float(v) for v in r[key].split()] if r[key] else []
            values = [v if v > 0 and math.isfinite(v) else math.nan for v in values]
            ax.plot(range(1, len(values) + 1), values, marker=".", label=label)
        ax.set_yscale("log")
        ax.set(title=f"{act}: {title}", xlabel="hidden layer")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    return figures.save(fig, ctx.out / name)
