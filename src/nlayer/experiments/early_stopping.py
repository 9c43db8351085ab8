"""Claim: early stopping curbs over-fitting: the weights of the best development epoch score
better on new data than those of the last epoch.

A wide network trained long on a small training subset, once for all epochs (the
curves past the onset of over-fitting) and once with EarlyStopping(patience,
restore_best_weights=True) from the same seed.
"""

import nlayer as nl

from . import figures
from .runner import Result, mlp, test_accuracy, train
from .verdicts import Claim, patience_stop

RISE = 1.05  # over-fitting: the last dev loss is at least this multiple of the best


def overfits(dev_losses, patience):
    """The dev loss has its minimum before the last ``patience`` epochs and ends RISE above it."""
    if not dev_losses:
        return None
    best = min(dev_losses)
    return dev_losses.index(best) + 1 < len(dev_losses) - patience and dev_losses[-1] >= RISE * best


def restored_not_worse(restored_accuracy, last_accuracy):
    return restored_accuracy >= last_accuracy


def run(ctx):
    data = ctx.data
    epochs = ctx.pick(30, 150, 60)
    patience = ctx.pick(3, 10, 5)
    hidden = ctx.pick((64,), (256, 256), (256, 256))
    rows, curves = [], {}

    def fresh():
        return mlp(hidden, optimizer=nl.SGD(lr=0.05, momentum=0.9))

    for seed in ctx.seeds:
        full = train(fresh(), data.X_small, data.y_small, epochs, seed,
                     dev=(data.X_dev, data.y_dev), batch_size=32)
        stopper = nl.EarlyStopping(monitor="val_loss", patience=patience,
                                   restore_best_weights=True)
        stopped = train(fresh(), data.X_small, data.y_small, epochs, seed,
                        dev=(data.X_dev, data.y_dev), batch_size=32, callbacks=[stopper])
        dev_loss = full.curve.get("val_loss", [])
        best, stop = patience_stop(dev_loss, patience)
        curves[seed] = (full.curve.get("loss", []), dev_loss, best, stop)
        rows.append({"seed": seed, "epochs": len(dev_loss), "best_epoch": best,
                     "stop_epoch": stopper.stopped_epoch, "stop_epoch_from_curve": stop,
                     "restored_epoch": stopper.best_epoch,
                     "test_accuracy_last": test_accuracy(full.model, data),
                     "test_accuracy_restored": test_accuracy(stopped.model, data),
                     "dev_loss_best": min(dev_loss) if dev_loss else None,
                     "dev_loss_last": dev_loss[-1] if dev_loss else None})
    onset = Claim("training past the best epoch over-fits (development loss rises)",
                  f"the development loss is lowest before the last {patience} epochs and ends "
                  f">= {RISE}x its minimum")
    restore = Claim("early stopping's restored weights score at least as well as the last epoch's",
                    f"test accuracy with EarlyStopping(patience={patience}, "
                    "restore_best_weights=True) >= test accuracy after all epochs")
    for r in rows:
        onset.add(overfits(curves[r["seed"]][1], patience),
                  f"best epoch {r['best_epoch']} of {r['epochs']}, dev loss "
                  f"{r['dev_loss_best']:.4f} -> {r['dev_loss_last']:.4f}")
        restore.add(restored_not_worse(r["test_accuracy_restored"], r["test_accuracy_last"]),
                    f"restored (epoch {r['restored_epoch']}) {r['test_accuracy_restored']:.4f} "
                    f"vs last {r['test_accuracy_last']:.4f}")
    fig = _figure(curves, ctx, patience)
    return Result("early-stopping", "Early stopping past the onset of over-fitting",
                  [onset, restore], rows, [fig],
                  notes=[f"{len(data.y_small)} training rows, hidden {hidden}, SGD lr 0.05 "
                         f"momentum 0.9, batch 32, {epochs} epochs, patience {patience}. "
                         "stop_epoch is where the EarlyStopping run stopped; "
                         "stop_epoch_from_curve is where the full run's curve says it should "
                         "(the two runs see the same batches, so they agree)."])


def _figure(curves, ctx, patience):
    plt = figures.pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    train_loss, dev_loss, best, stop = curves[ctx.seeds[0]]
    epochs = range(1, len(dev_loss) + 1)
    ax.plot(epochs, train_loss, label="train loss")
    ax.plot(epochs, dev_loss, label="development loss")
    if best:
        ax.axvline(best, color="green", linestyle="--", label=f"best epoch {best}")
    if stop:
        ax.axvspan(best, stop, color="orange", alpha=0.2,
                   label=f"patience window ({patience} epochs), stop at {stop}")
    ax.set(title=f"seed {ctx.seeds[0]}: curves past the onset of over-fitting", xlabel="epoch",
           ylabel="loss", yscale="log")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return figures.save(fig, ctx.out / "early_stopping.png")
