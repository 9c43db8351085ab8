"""``nlayer train``: the settings from flags or ``--resume``, the run (:mod:`nlayer.runs.train`)
with a progress bar, and its summary printed."""

import shlex
import sys
import time
from pathlib import Path

from nlayer.runs import config, data, rundir, tracking
from nlayer.runs.errors import UserError
from nlayer.runs.train import build_model, n_outputs, train_and_write

from . import report
from .progress import EpochReporter


def describe_start(console, ds, cfg):
    """Two lines before training: the data, then the network and the recipe."""
    widths = " → ".join(map(str, [ds.n_features, *cfg["hidden"], n_outputs(ds)]))
    classes = f", {len(ds.class_names)} classes" if ds.class_names else ""
    extras = "".join([", batchnorm" if cfg["batchnorm"] else "",
                      f", dropout {cfg['dropout']:g}" if cfg["dropout"] else "",
                      f", augment {cfg['augment']}" if cfg.get("augment") else "",
                      f", adversarial {cfg['adversarial']:g}" if cfg.get("adversarial") else ""])
    opt = f"{cfg['optimizer']} lr={cfg['lr']:g}"
    if cfg["schedule"] != "constant":
        opt += f" ({cfg['schedule']})"
    if cfg["optimizer"] == "sgd":
        opt += f" momentum={cfg['momentum']:g}" + (" nesterov" if cfg["nesterov"] else "")
    if cfg["weight_decay"]:
        opt += f" weight_decay={cfg['weight_decay']:g}"
    for line in (f"nlayer train: {ds.name} ({ds.task}: {len(ds.y_train)} train+dev rows, "
                 f"{len(ds.y_test)} test rows, {ds.n_features} features{classes})",
                 f"network {widths} ({cfg['activation']}, {cfg['init']}{extras}); {opt}, "
                 f"l2={cfg['l2']:g}, batch {cfg['batch_size']}, up to {cfg['epochs']} epochs, "
                 f"patience {cfg['patience']}, dev split {cfg['dev_split']:g}"
                 + (f"; an ensemble of {cfg['ensemble']} such networks (seeds {cfg['seed']}-"
                    f"{cfg['seed'] + cfg['ensemble'] - 1}), averaged" if cfg.get("ensemble", 1) > 1
                    else "")):
        console.print(line, markup=False, soft_wrap=True)


def settings(args):
    """(config, run directory, resuming?) from the flags, or from the run that --resume names."""
    explicit = {k: v for k, v in vars(args).items() if k in config.CHECKS}
    if getattr(args, "resume", None) is None:
        cfg = config.resolve(explicit, args.config)
        out = rundir.choose(args.out, config.source_name(cfg), args.overwrite)
        return cfg, out, False
    given = sorted(set(explicit) | {k for k in ("config", "out", "overwrite") if getattr(args, k)})
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise UserError(f"--resume continues a run with its own settings; drop {flags} "
                       "(start a new run to change them)")
    out = Path(args.resume)
    if not (out / "config.toml").is_file():
        raise UserError(f"cannot resume {out}: it has no config.toml; is it an nlayer run "
                        "directory?")
    cfg = config.resolve({}, out / "config.toml")
    if not (out / rundir.CHECKPOINT).is_file():
        why = ("it was trained with --checkpoint-every 0" if not cfg["checkpoint_every"] else
               f"the run stopped before its first checkpoint (every {cfg['checkpoint_every']} "
               "epoch(s)); start it again with the same settings: nlayer train --config "
               f"{shlex.quote(str(out / 'config.toml'))} --out {shlex.quote(str(out))} --overwrite")
        raise UserError(f"cannot resume {out}: it has no {rundir.CHECKPOINT}: {why}")
    return cfg, out, True


def resume_command(out):
    return f"nlayer train --resume {shlex.quote(str(out))}"


def tell_how_to_resume(cfg, out, what):
    if cfg["checkpoint_every"]:
        message = f"nlayer: {what}; continue with: {resume_command(out)}"
    else:
        message = f"nlayer: {what}; checkpoints were off (--checkpoint-every 0), so it cannot resume"
    print(message, file=sys.stderr)


def run(args, console):
    """The train command; returns the exit code (130 when Ctrl-C stopped it).

    Nothing is written until the data are loaded and the model is built; a run replacing
    an earlier one (``--overwrite``) leaves it whole until the new one has its results
    (:func:`nlayer.runs.rundir.staged`), and a directory in use by another run is refused.
    """
    started = time.perf_counter()
    cfg, out, resume = settings(args)
    tracking.check(cfg)
    replacing = not resume and rundir.has_run_files(out)
    ds = data.load_for_training(cfg)
    if ds.task == "regression" and cfg["class_weight"] != "none":
        raise UserError("--class-weight is for classification, and this run is a regression")
    model = build_model(cfg, ds.task, n_outputs(ds))
    verbose = not (args.quiet or args.json)
    with rundir.claimed(out), rundir.staged(out, replacing) as target:
        rundir.write_config(target / "config.toml", cfg)
        if verbose:
            describe_start(console, ds, cfg)
            if resume:
                console.print(f"resuming from {out / rundir.CHECKPOINT}", markup=False,
                              soft_wrap=True)
        summary = _train(model, ds, cfg, out, target, console if verbose else None, started,
                         resume)
    if args.json:
        report.print_json(summary)
    else:
        report.print_summary(console, summary)
        report.print_gradient_flags(console, summary)
    if summary["interrupted"]:
        tell_how_to_resume(cfg, out, "interrupted; the run directory holds the best weights so far")
        return 130
    return 0


def _train(model, ds, cfg, out, target, console, started, resume):
    """The run with its progress bar; a second Ctrl-C says where the run stands."""
    reporter = EpochReporter(console) if console is not None else None
    try:
        return train_and_write(model, ds, cfg, target, reporter, started, checkpoints=True,
                               resume=resume, shown_as=out)
    except KeyboardInterrupt:  # the second Ctrl-C: no model, but say where the run stands
        if reporter is not None:
            reporter.close()  # the bar goes before the message (close is idempotent)
        if target != out:
            print(f"nlayer: aborted; the earlier run in {out} is unchanged", file=sys.stderr)
            raise
        rundir.write_json(out / "summary.json", {
            "status": "aborted", "run_dir": str(out), "config": cfg,
            "resume": resume_command(out) if cfg["checkpoint_every"] else None})
        tell_how_to_resume(cfg, out, "aborted; the last checkpoint is the last completed epoch")
        raise
    finally:  # the bar also goes when fit fails (on_train_end is not called then)
        if reporter is not None:
            reporter.close()
