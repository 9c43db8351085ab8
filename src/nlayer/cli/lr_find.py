"""``nlayer lr-find``: the learning-rate range test on the training rows, plotted.

A thin layer over :func:`nlayer.lr_find`: the same data and network settings as
``nlayer train`` (so the rate found is for that recipe), then ``lr_find.png``
(the curve with the suggestion marked and a caption saying it is a heuristic)
and ``lr_find.json`` (every rate and loss) in the output directory.
"""


import nlayer as nl
from nlayer.runs import config, data, plots, rundir
from nlayer.runs.train import build_model, n_outputs

from . import report

CAPTION = ("The marked rate is a heuristic (steepest fall of the smoothed loss), not a "
           "measured optimum: read the curve, and pick a rate where the loss still falls "
           "steeply, well below where it blows up.")


def run(args, console):
    """The lr-find command; returns the exit code."""
    explicit = {k: v for k, v in vars(args).items() if k in config.CHECKS}
    cfg = config.resolve(explicit, args.config)
    name = config.source_name(cfg)
    out = rundir.choose(args.out, f"lr-find-{name}", args.overwrite)
    ds = data.load_for_training(cfg)
    model = build_model(cfg, ds.task, n_outputs(ds))
    result = nl.lr_find(model, ds.X_train, ds.y_train, start_lr=args.start_lr,
                        end_lr=args.end_lr, steps=args.steps, batch_size=cfg["batch_size"],
                        seed=cfg["seed"])
    rundir.make(out)
    title = (f"LR range test: {name}, {cfg['optimizer']}, hidden {cfg['hidden']}, "
             f"batch {cfg['batch_size']}")
    plots.lr_curve(out / "lr_find.png", result.rates, result.losses, result.raw_losses,
                   result.suggestion, title, CAPTION)
    summary = {**result.to_dict(), "config": cfg, "run_dir": str(out),
               "files": ["lr_find.png", "lr_find.json"]}
    rundir.write_json(out / "lr_find.json", summary)
    if args.json:
        report.print_json({k: v for k, v in summary.items()
                           if k not in ("rates", "losses", "raw_losses")})
        return 0
    console.print(f"suggested learning rate: {result.suggestion:.3g} (lowest smoothed loss at "
                  f"{result.min_loss_lr:.3g}; {len(result.rates)} batches"
                  f"{', stopped when the loss blew up' if result.diverged else ''})",
                  markup=False, soft_wrap=True)
    if not args.quiet:
        console.print(CAPTION, markup=False, soft_wrap=True)
        console.print(f"curve: {out / 'lr_find.png'}", markup=False, soft_wrap=True)
    return 0
