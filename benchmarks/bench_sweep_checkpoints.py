"""What checkpointing costs a sweep: the 16 digits trials with checkpoints sent at most every
5 s (the default) against every epoch, on one LocalCluster, alternated.

    python benchmarks/bench_sweep_checkpoints.py [--trials 16] [--workers 2] [--repeats 2]

Each trial checkpoints into its worker's temporary run directory and sends the file to
the client, which writes the newest per trial into ``trials/<id>.partial/``. Reported
per setting (median over the repeats): wall time, the sum of the trials' own seconds,
the checkpoints the client wrote, and the scheduling overhead per trial as
``bench_sweep.py`` defines it. Results go to ``benchmarks/results/sweep_checkpoints.md``
with the load average before each run (above 1.5 on this 2-core machine: unreliable).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sweep import blas_environ, spec, summary  # noqa: E402
from bench_training import machine_info  # noqa: E402

from nlayer.runs import config, data  # noqa: E402
from nlayer.sweep import runner, shipping, task  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "sweep_checkpoints.md"


def one(client, sweep_spec, ds, seconds, workers):
    with tempfile.TemporaryDirectory() as out:
        job = runner.Sweep(sweep_spec, ds, out, checkpoint_seconds=seconds)
        start = time.perf_counter()
        job.run(client)
        wall = time.perf_counter() - start
        written = job.inbox.written
    row = summary(f"every {seconds:g} s", wall, list(job.records.values()), workers)
    return {**row, "written": written}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sweep_spec = spec(args.trials)
    ds = data.load_for_training(config.resolve(sweep_spec.base))
    settings = (shipping.SHIP_SECONDS, 0.0)
    runs = {s: [] for s in settings}
    loads = []
    with blas_environ(task.blas_share(args.workers)), \
            runner.connect(workers=args.workers) as client:
        one(client, sweep_spec, ds, settings[0], args.workers)  # warm-up: imports on workers
        for _ in range(args.repeats):
            for seconds in settings:
                loads.append(os.getloadavg()[0])
                runs[seconds].append(one(client, sweep_spec, ds, seconds, args.workers))
    text = report(runs, args, machine_info(), loads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


def report(runs, args, info, loads):
    lines = [f"# nlayer sweep: the cost of trial checkpoints ({args.trials} digits trials, "
             f"{args.workers} workers)", "",
             f"Machine: {info.get('cpu_model')}, {info.get('cpu_count')} cores, Python "
             f"{info.get('python')}; {info.get('date')}. Load average (1 min) before each run: "
             + ", ".join(f"{x:.1f}" for x in loads) + f". Median of {args.repeats} alternated "
             "runs on one LocalCluster, after a warm-up run.", "",
             "| Checkpoint at most | Wall s | Sum of trial s | Overhead s/trial | "
             "Checkpoints written | Trials ok |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for seconds, rows in runs.items():
        med = {k: statistics.median(r[k] for r in rows)
               for k in ("wall", "trial_seconds", "overhead", "written")}
        lines.append(f"| every {seconds:g} s | {med['wall']:.2f} | {med['trial_seconds']:.2f} | "
                     f"{med['overhead']:.3f} | {med['written']:.0f} | "
                     f"{rows[0]['ok']}/{rows[0]['n']} |")
    lines += ["", "Every trial writes its final checkpoint on its worker (it comes back with the "
              "result, not through the queue); with the default a digits trial (about a second) "
              "writes and sends nothing else. \"every 0 s\" checkpoints and sends every epoch "
              "but the last: the worst case.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
