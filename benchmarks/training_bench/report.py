"""The results as ``results.md`` (tables and targets) and ``epoch_times.png`` (chart)."""

from __future__ import annotations

import os

from .results import _fmt_ratio
from .settings import (CASES, LINEAR_TOLERANCE, LR, MIN_QUIET_PAIRS, MOMENTUM, QUIET, SEED,
                       SYSTEM_NAMES, SYSTEMS)


def _status(ok):
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def _fmt_s(s):
    return "n/a" if s is None else f"{s:.3f}"


def write_markdown(results, path):
    L = []
    meta = results["meta"]
    L.append("# nlayer training benchmark\n")
    L.append(f"**Machine:** {results['machine_line']}\n")
    L.append(f"**Data:** {results['data']['source']}; {results['data']['train_rows']:,} training "
             f"rows, {results['data']['test_rows']:,} test rows.\n")
    L.append(f"**Protocol:** mode `{meta['mode']}`; every system trains 1 warm-up epoch + "
             f"{meta['epochs']} timed epochs; seconds/epoch is the median of the timed epochs, "
             f"best of {meta.get('rounds', 1)} interleaved round(s) of every case; "
             f"SGD lr {LR}, momentum {MOMENTUM}, seed {SEED}; test accuracy on the "
             f"{results['data']['test_rows']:,} test rows after all {meta['epochs'] + 1} epochs. "
             f"Total benchmark time {meta['total_seconds']:.0f} s.\n")
    L.append("## Targets\n")
    L.append("| Target | Measured | Goal | Result |")
    L.append("|---|---|---|---|")
    for name, measured, goal, ok in results["targets"]:
        L.append(f"| {name} | {measured} | {goal} | {_status(ok)} |")
    L.append("")
    if results.get("paired"):
        L.append("## Floor ratio, paired\n")
        L.append("Floor and nlayer epochs alternate in one process; the ratio is the median of "
                 "the per-pair ratios, so a slow spell of the machine hits both sides alike. "
                 "Quiet pairs: before each pair a probe times 200 small two-thread GEMMs, each "
                 "followed by single-threaded work. A shared machine can turn slow at waking "
                 "the second BLAS thread (seen here for minutes at a time): that slows nlayer, "
                 "whose GEMMs alternate with element-wise work, far more than the back-to-back "
                 f"GEMMs of the floor. Pairs whose probe is within {QUIET:.0%} of the fastest "
                 "probe of the whole run are quiet, and the targets above use their median when there are at least "
                 f"{MIN_QUIET_PAIRS}.\n")
        L.append("| Case | nlayer / floor, all pairs | quiet pairs | each pair | floor s | nlayer s |")
        L.append("|---|---:|---:|---|---|---|")
        for key, res in results["paired"].items():
            if "ratio" not in res:
                L.append(f"| {key} | {res.get('error', 'n/a')} | | | | |")
                continue
            fmt = lambda xs: ", ".join(f"{x:.3f}" for x in xs)
            quiet = f"{res['quiet_ratio']:.2f}x ({res['quiet_pairs']})" if res.get("quiet_pairs") \
                else "none"
            L.append(f"| {key} | {res['ratio']:.2f}x | {quiet} | "
                     f"{', '.join(f'{r:.2f}' for r in res['ratios'])}"
                     f" | {fmt(res['floor_seconds'])} | {fmt(res['nlayer_seconds'])} |")
        L.append("")
    bn = results.get("paired_bn", {})
    if "ratio" in bn:
        fmt = lambda xs: ", ".join(f"{x:.3f}" for x in xs)
        L.append("## Batch norm + dropout against plain, paired\n")
        L.append("Plain and batch norm + dropout epochs (784-256-128-10, batch 128) alternate in "
                 "one process; the ratio is the median of the per-pair ratios (quiet pairs as "
                 "above).\n")
        L.append("| bn+dropout / plain, all pairs | quiet pairs | each pair | plain s | "
                 "bn+dropout s |")
        L.append("|---:|---:|---|---|---|")
        quiet = f"{bn['quiet_ratio']:.2f}x ({bn['quiet_pairs']})" if bn.get("quiet_pairs") \
            else "none"
        L.append(f"| {bn['ratio']:.2f}x | {quiet} | {', '.join(f'{r:.2f}' for r in bn['ratios'])} | "
                 f"{fmt(bn['plain_seconds'])} | {fmt(bn['bn_dropout_seconds'])} |")
        L.append("")
    L.append("## Seconds per epoch\n")
    L.append("| Case | System | s/epoch | spread | load | x floor | test acc | notes |")
    L.append("|---|---|---:|---:|---:|---:|---:|---|")
    for case in CASES:
        rows = results["cases"].get(case["key"], {})
        floor = rows.get("floor", {}).get("median_seconds")
        plain = results["cases"].get("b128", {}).get("nlayer", {}).get("median_seconds")
        for system in SYSTEMS:
            r = rows.get(system)
            if r is None:
                continue
            s = r.get("median_seconds")
            timed = r.get("epoch_seconds", [])[1:]
            spread = f"{(max(timed) - min(timed)) / s:.0%}" if s and len(timed) > 1 else ""
            acc = r.get("test_accuracy")
            notes = r.get("skipped") or r.get("error") or r.get("note", "")
            if case["key"] == "bn_dropout" and system == "nlayer" and s and plain:
                notes = f"{s / plain:.2f}x plain nlayer b128"
            load = max((v for v in (r.get("load_before"), r.get("load_after")) if v is not None),
                       default=None)
            load = "" if load is None else f"{load:.1f}"
            L.append(f"| {case['label']} | {SYSTEM_NAMES[system]} | {_fmt_s(s)} | {spread} | {load} | "
                     f"{_fmt_ratio(s / floor) if s and floor else 'n/a'} | "
                     f"{'' if acc is None else f'{acc:.4f}'} | {notes} |")
    L.append("")
    L.append(f"spread = (slowest - fastest timed epoch) / median; load = the larger 1-minute load "
             f"average before/after that system's process (the machine has {os.cpu_count()} "
             "cores; well above the benchmark's own ~1-2 means other jobs were running). "
             "Both are noise indicators.\n")
    sc = results["scaling"]
    L.append("## Scaling with rows (nlayer, 784-256-128-10, batch 128)\n")
    L.append("| Rows | s/epoch | us/row | vs largest |")
    L.append("|---:|---:|---:|---:|")
    devs = sc.get("deviations") or []
    ok_pts = [p for p in sc["points"] if p.get("median_seconds")]
    for i, p in enumerate(ok_pts):
        dev = f"{devs[i]:+.1%}" if i < len(devs) else ""
        L.append(f"| {p['rows']:,} | {p['median_seconds']:.3f} | "
                 f"{p['median_seconds'] / p['rows'] * 1e6:.2f} | {dev} |")
    for p in sc["points"]:
        if not p.get("median_seconds"):
            L.append(f"| {p['rows']:,} | {p.get('error') or p.get('skipped')} | | |")
    verdict = {True: "linear", False: "not linear", None: "n/a"}[sc.get("linear")]
    L.append(f"\nVerdict: **{verdict}** (time per row within +-{LINEAR_TOLERANCE:.0%} of the "
             "largest size's).\n")
    L.append("## Prediction throughput (10k test rows, median of repeats)\n")
    L.append("| System | rows/s | ms per pass |")
    L.append("|---|---:|---:|")
    for system, p in results["prediction"].items():
        if "rows_per_second" in p:
            L.append(f"| {SYSTEM_NAMES[system]} | {p['rows_per_second']:,.0f} | "
                     f"{p['median_seconds'] * 1e3:.1f} |")
        else:
            L.append(f"| {SYSTEM_NAMES[system]} | {p.get('error', 'n/a')} | |")
    L.append("")
    mem = results["memory"]
    L.append("## Memory of nlayer fit (784-256-128-10, batch 128, 3 epochs, child process)\n")
    if "peak_mb" in mem:
        L.append("| Quantity | MB |")
        L.append("|---|---:|")
        L.append(f"| RSS after loading the data, before fit | {mem['rss_loaded_mb']:.1f} |")
        L.append(f"| Training data (X + y) | {mem['train_data_mb']:.1f} |")
        L.append(f"| Peak RSS during fit ({'VmHWM, reset before fit' if mem['hwm_reset'] else 'VmHWM'}) "
                 f"| {mem['peak_mb']:.1f} |")
        L.append(f"| ru_maxrss | {mem['ru_maxrss_mb']:.1f} |")
        L.append(f"| Growth beyond the loaded data | {mem['growth_mb']:.1f} |")
        rss = ", ".join(f"{v:.1f}" for v in mem["rss_after_epoch_mb"])
        L.append(f"| RSS after epochs 1, 2, 3 | {rss} |")
        L.append("\nThe peak is VmHWM from /proc/self/status"
                 + (", reset through /proc/self/clear_refs after the data was loaded"
                    if mem["hwm_reset"] else "")
                 + ". ru_maxrss is shown for reference only: Linux carries it across exec, "
                 "so in a child of a large parent it can report the parent's size.")
    else:
        L.append(mem.get("error", "n/a"))
    L.append("")
    if results.get("chart"):
        L.append(f"![seconds per epoch]({results['chart']})\n")
    path.write_text("\n".join(L))
    return "\n".join(L)


def write_chart(results, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    groups = [c for c in CASES if c["key"] in ("b32", "b128", "b512")]
    systems = [s for s in SYSTEMS if s != "floor"]
    colors = {"nlayer": "#1f77b4", "torch": "#ee4c2c", "sklearn": "#f7931e", "keras": "#7f7f7f"}
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(9, 5))
    for gi, case in enumerate(groups):
        rows = results["cases"].get(case["key"], {})
        for si, system in enumerate(systems):
            s = rows.get(system, {}).get("median_seconds")
            if not s:
                continue
            x = gi - 0.4 + width * (si + 0.5)
            ax.bar(x, s, width, color=colors[system], label=SYSTEM_NAMES[system])
            ax.text(x, s, f"{s:.2f}", ha="center", va="bottom", fontsize=7)
        floor = rows.get("floor", {}).get("median_seconds")
        if floor:
            ax.hlines(floor, gi - 0.45, gi + 0.45, colors="black", linestyles="--",
                      label="GEMM floor", zorder=3)
    handles, labels = ax.get_legend_handles_labels()
    seen = {}
    for h, l in zip(handles, labels):
        seen.setdefault(l, h)
    ax.legend(seen.values(), seen.keys(), fontsize=8)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"batch {c['batch']}" for c in groups])
    ax.set_ylabel("seconds per epoch (median, after warm-up)")
    vals = [r.get("median_seconds") for c in groups
            for r in results["cases"].get(c["key"], {}).values() if r.get("median_seconds")]
    if vals and max(vals) / min(vals) > 30:
        ax.set_yscale("log")
    ax.set_title(f"784-256-128-10 float32, {results['data']['train_rows']:,} rows "
                 f"({'Fashion-MNIST' if results['data']['fashion_mnist'] else 'random data'})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path.name
