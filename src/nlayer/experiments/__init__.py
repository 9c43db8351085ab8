"""``nlayer experiment NAME``: train the networks a claim of the method needs, measure, and
compute a verdict ("holds", "does not hold", "inconclusive" with the reason).

One module per claim; :mod:`.runner` holds what they share and :mod:`.verdicts` the
pure functions that turn numbers into verdicts. Each experiment writes its
figures, ``results.csv`` and ``report.md`` into its own directory.
"""

import time
from pathlib import Path

from nlayer.saving.atomic import write_text

from . import batchnorm, depth, early_stopping, init, l2, momentum, normalize
from .runner import Context, load, markdown_table, overall, write_report

__all__ = ["EXPERIMENTS", "NAMES", "run_experiment", "run_all"]

EXPERIMENTS = {"init": init, "depth": depth, "normalize": normalize, "batchnorm": batchnorm,
               "l2": l2, "early-stopping": early_stopping, "momentum": momentum}
NAMES = (*EXPERIMENTS, "all")


def _command(name, dataset, quick):
    return f"nlayer experiment {name} --dataset {dataset}" + (" --quick" if quick else "")


def run_experiment(name, out, dataset="digits", quick=False, data=None, data_dir=None):
    """Run one experiment into ``out`` (created); returns its Result."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(NAMES)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(data or load(dataset, quick, data_dir), out, quick)
    start, cpu = time.perf_counter(), time.process_time()
    result = EXPERIMENTS[name].run(ctx)
    result.seconds = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - cpu
    write_report(result, ctx, _command(name, dataset, quick))
    return result


def run_all(out, dataset="digits", quick=False, data_dir=None, progress=None):
    """Every experiment into ``out/NAME/`` and an index ``out/report.md``; returns the Results."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = load(dataset, quick, data_dir)
    results = []
    for name in EXPERIMENTS:
        if progress:
            progress(name)
        results.append(run_experiment(name, out / name, dataset, quick, data=data))
    rows = [{"experiment": f"[{r.name}]({r.name}/report.md)", "claim": c.text,
             "verdict": c.verdict, "reason": c.reason} for r in results for c in r.claims]
    seconds = sum(r.seconds for r in results)
    cpu = sum(r.cpu_seconds for r in results)
    text = ["# nlayer experiments: the method's claims, measured", "",
            f"Data: {data.note}. Ran in {seconds:.0f} s wall, {cpu:.0f} s CPU.", "",
            f"Reproduce: `{_command('all', dataset, quick)}`", "",
            "Every verdict is computed from the numbers in the experiment's report "
            "(3 seeds; 'inconclusive' says why).", "", markdown_table(rows), ""]
    write_text(out / "report.md", "\n".join(text))
    return results


def summary_verdict(result):
    return overall(result.verdicts)
