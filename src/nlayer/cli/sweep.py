"""``nlayer sweep``: many ``nlayer train`` runs on a dask cluster, a table and the best settings.

A thin layer over :mod:`nlayer.sweep`: the file's base settings pick the data (loaded
once, as ``nlayer train`` loads it), the trials run on a LocalCluster or on the
scheduler at ``--scheduler``, and progress is one live line (terminals) or one line
per finished trial (pipes). Each trial checkpoints every epoch but at most every
``--checkpoint-seconds`` (5 s) and its newest checkpoint is kept in ``--out``, so that
``--resume`` continues an interrupted or crashed sweep's trials where they were.
"""

import contextlib
import math
import signal
import threading
import time
from pathlib import Path

from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from nlayer import sweep as sweeps
from nlayer.runs import config, data, rundir, tracking
from nlayer.runs.errors import UserError
from nlayer.sweep import results, runner, shipping

from . import report
from .progress import LABELS

TOP = 10


def _fmt(value, digits=4):
    return "—" if value is None else f"{value:.{digits}f}"


def _duration(seconds):
    if seconds is None:
        return "…"
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _best_text(state, metric):
    best = state.best
    return "—" if best is None else f"{best['dev_mean']:.4f} ({best['point']})"


class Display:
    """Progress of the sweep: a live bar on terminals, plain lines otherwise."""

    def __init__(self, console, metric, total, finished=0, quiet=False):
        self.console, self.metric, self.quiet = console, metric, quiet
        self.bar = None
        if console.is_terminal and not quiet:
            self.bar = Progress(TextColumn("trials"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("running {task.fields[running]}  failed "
                                           "{task.fields[failed]}  best dev {task.fields[best]}"
                                           "  ETA {task.fields[eta]}"),
                                console=console, transient=True)
            self.task = self.bar.add_task("", total=total, completed=finished, running="…",
                                          failed=0, best="—", eta="…")

    def __enter__(self):
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False

    def __call__(self, state):
        rec = state.last
        dev = (rec.get("dev") or {}).get(self.metric)
        line = (f"[{state.finished:>{len(str(state.total))}}/{state.total}] {rec['trial']} "
                f"{rec['status']:<6} dev {self.metric} {_fmt(dev)}  ({rec['seconds'] or 0:.1f} s, "
                f"{rec['worker'] or '-'})" + _continued(rec)
                + (f"  {rec['error'][:100]}" if rec["error"] else ""))
        if self.bar is not None:
            self.bar.update(self.task, completed=state.finished, running=state.running,
                            failed=state.failed, best=_best_text(state, self.metric),
                            eta=_duration(state.eta))
            self.bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        elif not self.quiet:
            self.console.print(line + f"  best {_best_text(state, self.metric)}"
                               f"  ETA {_duration(state.eta)}", markup=False, highlight=False,
                               soft_wrap=True)
            self.console.file.flush()  # one line per trial, also through pipes and `tee`


def _continued(rec):
    if rec.get("resumed_from") is not None:
        return f"  continued from epoch {rec['resumed_from']}"
    return "  checkpoint refused, restarted" if rec.get("restart_reason") else ""


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def points_table(ranked, swept, metric, top=TOP):
    """The best ``top`` points: settings, dev metric mean ± std, test mean, seeds, epochs."""
    table = Table(title=f"Sweep: best {min(top, len(ranked))} of {len(ranked)} points "
                        f"by dev {metric} (mean over seeds)", box=box.SIMPLE_HEAD,
                  padding=(0, 1), collapse_padding=True, pad_edge=False)
    short = LABELS.get(metric, metric)
    for name in ("#", *swept, f"dev {short}", "std", f"test {short}", "seeds", "epochs",
                 "s/trial"):
        table.add_column(name, justify="left" if name in swept else "right", no_wrap=True)
    for rank, p in enumerate(ranked[:top], 1):
        table.add_row(str(rank), *(_cell(p["settings"].get(k)) for k in swept),
                      _fmt(p["dev_mean"]), _fmt(p["dev_std"]), _fmt(p["test_mean"]),
                      f"{p['ok']}/{p['seeds']}", _fmt(p["epochs_mean"], 1),
                      _fmt(p["seconds_mean"], 1))
    return table


@contextlib.contextmanager
def interruptible():
    """Ctrl-C raises KeyboardInterrupt while the sweep runs, even where the process was started
    with SIGINT ignored; the sweep turns it into a clean stop."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _out_dir(args, spec_path):
    if args.resume:
        if args.out is None:
            raise UserError("--resume needs --out DIR (the folder of the sweep to continue)")
        if not Path(args.out, "trials").is_dir():
            raise UserError(f"--resume: {args.out} holds no sweep (no trials folder); "
                           "run without --resume to start one")
        return Path(args.out)
    return rundir.choose(args.out, f"sweep-{Path(spec_path).stem}")


def run(args, console):
    """The sweep command; returns the exit code (130 when stopped by Ctrl-C)."""
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    seconds = args.checkpoint_seconds
    if seconds is not None and not (seconds >= 0 and math.isfinite(seconds)):
        raise UserError(f"--checkpoint-seconds must be a number of seconds >= 0, got {seconds:g}")
    if args.workers is not None and args.scheduler:
        raise UserError("--workers sizes the LocalCluster; a --scheduler's cluster has its own "
                       "workers (start more with 'dask worker ADDRESS')")
    tracking.check({"tensorboard": args.tensorboard})
    spec = sweeps.load(args.spec)
    out = _out_dir(args, args.spec)
    ds = data.load_for_training(config.resolve(spec.base))
    job = runner.Sweep(spec, ds, out, resume=args.resume,
                       checkpoint_seconds=shipping.SHIP_SECONDS if seconds is None else seconds,
                       tensorboard=args.tensorboard)
    verbose = not (args.quiet or args.json)
    if verbose:
        points = len({t.point_id for t in job.trials})
        waiting = sum(shipping.partial_checkpoint(out, t.id).is_file() for t in job.todo)
        console.print(f"nlayer sweep: {len(job.trials)} trials ({points} points x "
                      f"{len(spec.seeds)} seeds) on {ds.name}, ranked by dev {job.metric}"
                      + (f"; {len(job.records)} finished earlier" if job.records else "")
                      + (f"; {waiting} to continue from a checkpoint" if waiting else ""),
                      markup=False, highlight=False, soft_wrap=True)
    started = time.perf_counter()
    try:
        cluster = (runner.connect(scheduler=args.scheduler, workers=args.workers) if job.todo
                   else contextlib.nullcontext())  # nothing left to run: no cluster needed
        with cluster as client:
            if verbose and client is not None:
                console.print(f"cluster: {client.scheduler.address}, "
                              f"{sum(runner.host_threads(client).values())} worker threads",
                              markup=False, highlight=False)
            with Display(console, job.metric, len(job.trials), len(job.records),
                         quiet=not verbose) as display, interruptible():
                table, ranked = job.run(client, display)
    except ImportError as exc:
        raise UserError(str(exc)) from None
    summary = _summary(job, table, ranked, out, time.perf_counter() - started)
    if args.json:
        report.print_json(summary)
    else:
        console.print(points_table(ranked, spec.swept, job.metric))
        console.print(report.facts_table([
            ("trials", f"{summary['ok']} ok, {summary['failed']} failed, "
                       f"{summary['lost']} lost, {summary['not_run']} not run"),
            ("checkpoints", _checkpoints_line(summary)),
            ("wall time", f"{summary['wall_seconds']:.1f} s"),
            ("sweep directory", str(out)),
            ("best settings", str(out / "best.toml") if summary["best"] else "—")]))
    if job.interrupted:
        console.print(f"interrupted; continue with: nlayer sweep {args.spec} --out {out} "
                      "--resume (unfinished trials continue from their last checkpoint)",
                      markup=False, highlight=False, soft_wrap=True)
        return 130
    return 0


def _checkpoints_line(summary):
    """How many of this session's trials continued from a checkpoint, and how many could not."""
    line = f"{summary['continued']} trials continued from a checkpoint"
    if summary["restarted"]:
        line += f", {summary['restarted']} restarted from epoch 1 (checkpoint refused: see " \
                "restart_reason in sweep.csv)"
    return line


def _summary(job, table, ranked, out, seconds):
    statuses = [row["status"] for row in table]
    best = results.best(list(job.records.values()), job.metric)
    return {"out": str(out), "metric": job.metric, "trials": len(job.trials),
            "ok": statuses.count("ok"), "failed": statuses.count("failed"),
            "lost": statuses.count("lost"), "not_run": len(job.trials) - len(table),
            "continued": sum(r.get("resumed_from") is not None for r in job.ran),
            "restarted": sum(r.get("restart_reason") is not None for r in job.ran),
            "interrupted": job.interrupted, "wall_seconds": round(seconds, 3),
            "best": best, "points": ranked[:TOP]}
