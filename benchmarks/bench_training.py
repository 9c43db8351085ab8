"""Training-speed benchmark of nlayer against the GEMM floor, PyTorch, scikit-learn and Keras.

    python benchmarks/bench_training.py [--quick] [--out benchmarks/results]

Every measurement runs in its own child process (``--worker SPEC.json``) so that
the thread pools of NumPy/OpenBLAS, PyTorch and TensorFlow never share a
process. The parent loads the data once (Fashion-MNIST through
``nlayer.datasets`` when the IDX files are installed, random data of the same
shape otherwise), hands it to the workers as ``.npy`` files, collects their JSON
answers and writes ``results.md``, ``results.json`` and ``epoch_times.png``.

The parts live in the ``training`` package next to this script (settings, machine,
data, workers, peers, results, report); this module runs them: ``main``, the
``Runner`` that starts one worker process per measurement, and ``run_worker``, what
such a process does with its spec.

See ``benchmarks/README.md`` for what every number means.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from training_bench.data import prepare_data  # noqa: E402
from training_bench.machine import _load1, machine_info, machine_line  # noqa: E402
from training_bench.peers import worker_keras, worker_sklearn, worker_torch  # noqa: E402
from training_bench.report import write_chart, write_markdown  # noqa: E402
from training_bench.results import (_timed_median, best_round, evaluate, mark_quiet,  # noqa: E402
                              scaling_summary)
from training_bench.settings import (CASES, LR, MOMENTUM, PEER_MODULES, SEED,  # noqa: E402
                               SETTINGS, SYSTEM_NAMES, SYSTEMS, _case_defaults)
from training_bench.workers import (worker_floor, worker_memory, worker_nlayer,  # noqa: E402
                              worker_paired, worker_paired_bn)

# Other benchmarks use these as bench_training.<name> too (batch_breakdown, bench_monitor,
# bench_time_to_accuracy, bench_concurrency, bench_sweep, bench_sweep_checkpoints).
from training_bench.data import load_data  # noqa: E402,F401
from training_bench.machine import _state_probe  # noqa: E402,F401
from training_bench.peers import _torch_net  # noqa: E402,F401
from training_bench.settings import MAIN, MIN_QUIET_PAIRS, N_CLASSES, QUIET  # noqa: E402,F401
from training_bench.workers import _nlayer_model, floor_epoch  # noqa: E402,F401


WORKERS = {"floor": worker_floor, "nlayer": worker_nlayer, "paired": worker_paired,
           "paired_bn": worker_paired_bn, "torch": worker_torch,
           "sklearn": worker_sklearn, "keras": worker_keras, "memory": worker_memory}


def run_worker(spec_path):
    spec = json.loads(Path(spec_path).read_text())
    t0 = time.perf_counter()
    try:
        result = WORKERS[spec["system"]](spec)
    except ImportError as exc:
        result = {"skipped": f"not importable: {exc}"}
    result["worker_seconds"] = time.perf_counter() - t0
    Path(spec["result_path"]).write_text(json.dumps(result))


class Runner:
    def __init__(self, args, settings, tmp, n_features):
        self.args, self.settings, self.tmp, self.n_features = args, settings, tmp, n_features
        self.count = 0

    def run(self, system, case, rows=None, label=None):
        """Run one worker; returns its JSON answer (with ``error`` or ``skipped`` on failure)."""
        case = _case_defaults(case)
        if system in PEER_MODULES and importlib.util.find_spec(PEER_MODULES[system]) is None:
            res = {"skipped": f"{PEER_MODULES[system]} is not importable"}
            self._log(system, label or case["key"], res, 0.0)
            return res
        self.count += 1
        spec = {**case, "system": system, "hidden": list(case["hidden"]),
                "rows": rows or self.settings["rows"], "epochs": self.settings["epochs"],
                "predict_repeats": self.settings["predict_repeats"],
                "n_features": self.n_features, "data_dir": str(self.tmp),
                "result_path": str(self.tmp / f"result_{self.count}.json")}
        spec_path = self.tmp / f"spec_{self.count}.json"
        spec_path.write_text(json.dumps(spec))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
        load = _load1()
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker",
                                   str(spec_path)], capture_output=True, text=True, env=env,
                                  timeout=self.settings["timeout"])
            if proc.returncode == 0 and Path(spec["result_path"]).exists():
                res = json.loads(Path(spec["result_path"]).read_text())
            else:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                res = {"error": f"worker exited with {proc.returncode}: " + " | ".join(tail)}
        except subprocess.TimeoutExpired:
            res = {"error": f"timed out after {self.settings['timeout']} s"}
        wall = time.perf_counter() - t0
        res["process_seconds"] = wall
        res["load_before"], res["load_after"] = load, _load1()
        if "epoch_seconds" in res:
            res["median_seconds"] = _timed_median(res["epoch_seconds"])
        self._log(system, label or case["key"], res, wall)
        return res

    @staticmethod
    def _log(system, label, res, wall):
        if "median_seconds" in res:
            acc = res.get("test_accuracy")
            what = f"{res['median_seconds']:.3f} s/epoch" + (f", test acc {acc:.4f}" if acc else "")
        elif "ratio" in res:
            which = "bn+dropout / plain" if system == "paired_bn" else "nlayer / floor"
            what = f"{which} {res['ratio']:.2f} (pairs: " + \
                ", ".join(f"{r:.2f}" for r in res["ratios"]) + ")"
        elif "peak_mb" in res:
            what = f"peak {res['peak_mb']:.0f} MB, growth {res['growth_mb']:.0f} MB"
        else:
            what = res.get("skipped") or res.get("error") or "done"
        print(f"  [{label}] {SYSTEM_NAMES.get(system, system)}: {what}  ({wall:.1f} s)",
              flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help=f"{SETTINGS['quick']['rows']:,} rows and {SETTINGS['quick']['epochs']} "
                        "timed epochs (a few minutes) instead of the full run")
    p.add_argument("--out", default=str(HERE / "results"), help="output folder")
    p.add_argument("--epochs", type=int, help="timed epochs (after 1 warm-up)")
    p.add_argument("--rows", type=int, help="training rows")
    p.add_argument("--rounds", type=int, help="interleaved repeats of every case; the fastest "
                                             "round counts (default 2, quick 1)")
    p.add_argument("--data", choices=("auto", "fashion-mnist", "random"), default="auto",
                   help="auto: Fashion-MNIST when installed, random data otherwise")
    p.add_argument("--cases", help="comma-separated subset of " + ",".join(c["key"] for c in CASES))
    p.add_argument("--systems", help="comma-separated subset of " + ",".join(SYSTEMS))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return run_worker(args.worker)

    t_start = time.perf_counter()
    mode = "quick" if args.quick else "full"
    settings = dict(SETTINGS[mode])
    if args.epochs:
        settings["epochs"] = args.epochs
    if args.rows:
        settings["rows"] = args.rows
    settings["rounds"] = args.rounds or (1 if args.quick else 2)
    settings["pairs"] = 3 if args.quick else 9
    case_keys = args.cases.split(",") if args.cases else [c["key"] for c in CASES]
    systems = args.systems.split(",") if args.systems else SYSTEMS
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    info = machine_info()
    print(f"Machine: {machine_line(info)}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="nlayer-bench-"))
    try:
        data = prepare_data(args.data, settings["rows"], tmp)
        settings["rows"] = data["train_rows"]
        print(f"Data: {data['source']}; {data['train_rows']:,} training rows; mode {mode}: "
              f"1 warm-up + {settings['epochs']} timed epochs", flush=True)
        runner = Runner(args, settings, tmp, data["features"])
        results = {"meta": {"mode": mode, **settings, "seed": SEED, "lr": LR,
                            "momentum": MOMENTUM},
                   "machine": info, "machine_line": machine_line(info), "data": data,
                   "cases": {}, "paired": {}, "paired_bn": {}, "prediction": {}, "scaling": {},
                   "memory": {}}

        for case in CASES:
            if case["key"] not in case_keys:
                continue
            print(f"{case['label']}:", flush=True)
            rounds = {system: [] for system in systems}
            for _ in range(settings["rounds"]):  # interleaved, so a slow spell hits every system
                for system in systems:
                    rounds[system].append(runner.run(system, case))
            results["cases"][case["key"]] = {}
            for system, runs in rounds.items():
                res = best_round(runs)
                results["cases"][case["key"]][system] = res
                if "predict" in res:
                    results["prediction"][system] = res.pop("predict")

        if "nlayer" in systems and "floor" in systems:
            print("Floor ratio, floor and nlayer epochs alternating in one process:", flush=True)
            for case in CASES:
                if case["key"] in ("b32", "b128", "b512") and case["key"] in case_keys:
                    results["paired"][case["key"]] = runner.run(
                        "paired", {**case, "predict": False, "pairs": settings["pairs"]},
                        label=case["key"])
        if "nlayer" in systems and "bn_dropout" in case_keys:
            print("Batch norm + dropout against plain, epochs alternating in one process:",
                  flush=True)
            bn = next(c for c in CASES if c["key"] == "bn_dropout")
            results["paired_bn"] = runner.run(
                "paired_bn", {**bn, "predict": False, "pairs": settings["pairs"]},
                label="bn_dropout")

        if "nlayer" in systems:
            n = settings["rows"]
            sizes = [10000, 30000, 60000] if n >= 60000 else [n // 6, n // 2, n]
            print("Scaling (nlayer, batch 128):", flush=True)
            runs = []
            for rows in sizes:
                r = runner.run("nlayer", {**CASES[1], "predict": False}, rows=rows,
                               label=f"{rows} rows")
                runs.append({"rows": rows, **{k: r[k] for k in
                             ("median_seconds", "epoch_seconds", "error", "skipped") if k in r}})
            results["scaling"] = scaling_summary(runs)
            print("Memory (nlayer fit, batch 128, 3 epochs):", flush=True)
            results["memory"] = runner.run("memory", {**CASES[1], "predict": False},
                                           label="memory")

        results["meta"]["total_seconds"] = time.perf_counter() - t_start
        mark_quiet(results)
        results["targets"] = evaluate(results)
        results["chart"] = write_chart(results, out / "epoch_times.png")
        try:
            results["machine"]["load_average_end"] = os.getloadavg()
        except OSError:
            pass
        text = write_markdown(results, out / "results.md")
        (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(text)
    print(f"\nWrote {out / 'results.md'}, {out / 'results.json'}"
          + (f", {out / results['chart']}" if results.get("chart") else ""))
    print(f"Total time: {results['meta']['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
