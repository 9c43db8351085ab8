"""Two trainings at once: does each keep (near) its speed alone?

Runs ``nlayer train`` (digits, and a few epochs of Fashion-MNIST when its files
are found) once alone and then two at the same time, for each BLAS setting:

- ``auto``: nlayer's default (one BLAS thread for small products, BLAS's
  configured count for larger ones; never chosen from the load, since the count
  changes float32 results: see ``nlayer.training.threads``);
- a number N: ``NLAYER_BLAS_THREADS=N`` (``1`` is what docs/guide/reproducibility.md
  advises for several large trainings at once);
- ``off``: ``NLAYER_BLAS_THREADS=off``, BLAS left as configured.

Each row gives the wall time alone, the mean wall time of the pair, and their ratio
against its target where there is one: digits with ``auto`` <= 1.3x (small products
run on one thread by default), Fashion-MNIST with ``1`` <= 2.2x. Medians over
``--rounds`` rounds. The table is printed and written to
``benchmarks/results/concurrency.md``.

    python benchmarks/bench_concurrency.py                  # digits and fashion-mnist, 3 rounds
    python benchmarks/bench_concurrency.py --cases digits --rounds 5 --modes auto,off

Timings are only meaningful on an otherwise quiet machine: the load average at the
start and end is written next to the table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import _load1, machine_info  # noqa: E402

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
CASES = {
    "digits": ["--dataset", "digits"],
    "fashion-mnist": ["--dataset", "fashion-mnist", "--epochs", "{epochs}", "--patience", "0"],
}
TARGETS = {("digits", "auto"): 1.3, ("fashion-mnist", "1"): 2.2}  # (case, mode) -> ratio


def command(case, out, epochs):
    args = [a.format(epochs=epochs) for a in CASES[case]]
    return [sys.executable, "-m", "nlayer.cli", "train", *args, "--quiet", "--out", str(out),
            "--overwrite"]


def environment(mode):
    """The environment of a run: ``auto`` (the default choice), ``off``, or a thread count."""
    env = {k: v for k, v in os.environ.items() if k != "NLAYER_BLAS_THREADS"}
    if mode != "auto":
        env["NLAYER_BLAS_THREADS"] = mode
    return env


def run_at_once(commands, env):
    """Start every command together; returns each one's wall seconds."""
    starts, procs = [], []
    for cmd in commands:
        starts.append(time.perf_counter())
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True))
    seconds = [None] * len(procs)
    while any(s is None for s in seconds):
        for i, p in enumerate(procs):
            if seconds[i] is None and p.poll() is not None:
                seconds[i] = time.perf_counter() - starts[i]
                if p.returncode != 0:
                    raise RuntimeError(f"{' '.join(commands[i])} failed: {p.stderr.read()}")
        time.sleep(0.01)
    return seconds


def measure(case, mode, rounds, epochs, workdir):
    alone, pair = [], []
    env = environment(mode)
    for r in range(rounds):
        outs = [Path(workdir) / f"{case}-{mode}-{r}-{k}" for k in range(3)]
        alone += run_at_once([command(case, outs[0], epochs)], env)
        pair.append(statistics.mean(run_at_once([command(case, o, epochs) for o in outs[1:]],
                                                env)))
    return {"case": case, "mode": mode, "alone": statistics.median(alone),
            "pair": statistics.median(pair), "rounds": rounds}


def table(rows):
    """Markdown table of the measurements, with the ratio and its target."""
    lines = ["| case | BLAS threads | alone (s) | two at once, each (s) | ratio | target |",
             "|---|---|---:|---:|---:|---|"]
    for row in rows:
        ratio = row["pair"] / row["alone"]
        target = TARGETS.get((row["case"], row["mode"]))
        verdict = "" if target is None else f"<= {target}x: {'PASS' if ratio <= target else 'MISS'}"
        lines.append(f"| {row['case']} | {row['mode']} | {row['alone']:.2f} | {row['pair']:.2f} "
                     f"| {ratio:.2f}x | {verdict} |")
    return "\n".join(lines)


def report(rows, info, load_start, load_end, epochs):
    return "\n".join([
        "# Two trainings at once", "",
        f"{info['date']}, {info['cpu_model']}, {info['cpu_count']} CPUs, Python {info['python']}. "
        f"1-minute load average {load_start:.2f} at the start, {load_end:.2f} at the end "
        "(other jobs on the cores make every figure worse).", "",
        f"`nlayer train --quiet` with each dataset's defaults (Fashion-MNIST: {epochs} epochs); "
        "medians over the rounds. `auto`: nlayer's default (BLAS threads from the work, never "
        "from the load); a number N: `NLAYER_BLAS_THREADS=N`; `off`: BLAS as configured.", "",
        table(rows), ""])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="digits,fashion-mnist")
    parser.add_argument("--modes", default="auto,1")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fashion-epochs", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    if "fashion-mnist" in cases and not FASHION_DIR.is_dir() and not os.environ.get("NLAYER_DATA"):
        print(f"skipping fashion-mnist: {FASHION_DIR} not found", file=sys.stderr)
        cases.remove("fashion-mnist")
    info, load_start, rows = machine_info(), _load1() or 0.0, []
    with tempfile.TemporaryDirectory() as workdir:
        for case in cases:
            for mode in args.modes.split(","):
                rows.append(measure(case, mode, args.rounds, args.fashion_epochs, workdir))
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = report(rows, info, load_start, _load1() or 0.0, args.fashion_epochs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "concurrency.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
