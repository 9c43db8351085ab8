"""From the workers' answers to results: best rounds, quiet pairs, scaling, targets."""

from __future__ import annotations

from .settings import (EPOCH_GROWTH_TOLERANCE_MB, LINEAR_TOLERANCE, MEMORY_TOLERANCE_MB,
                       MIN_QUIET_PAIRS, QUIET)
from .workers import _median


def _timed_median(epoch_seconds):
    """Median of the epochs after the first (warm-up) one."""
    timed = epoch_seconds[1:] if len(epoch_seconds) > 1 else epoch_seconds
    return _median(timed)


def best_round(runs):
    """The round with the lowest median epoch time (other jobs only ever add time)."""
    timed = [r for r in runs if "median_seconds" in r]
    if not timed:
        return runs[0]
    best = dict(min(timed, key=lambda r: r["median_seconds"]))
    best["round_medians"] = [r["median_seconds"] for r in timed]
    return best


def mark_quiet(results):
    """Quiet pairs: probe within QUIET of the fastest probe of the whole run (any case).

    Judged across the run, because a case can spend all its pairs in a slow spell.
    """
    runs = [r for r in (*results["paired"].values(), results["paired_bn"])
            if r.get("probe_seconds")]
    if not runs:
        return
    fastest = min(t for r in runs for t in r["probe_seconds"])
    for r in runs:
        quiet = [x for x, t in zip(r["ratios"], r["probe_seconds"]) if t <= fastest * (1 + QUIET)]
        r["quiet_pairs"], r["quiet_ratio"] = len(quiet), _median(quiet) if quiet else None


def scaling_summary(runs):
    pts = [(r["rows"], r["median_seconds"]) for r in runs if r.get("median_seconds")]
    if len(pts) < 2:
        return {"points": runs, "linear": None, "max_deviation": None}
    ref = pts[-1][1] / pts[-1][0]
    devs = [(t / n) / ref - 1 for n, t in pts]
    worst = max(devs, key=abs)
    return {"points": runs, "reference_seconds_per_row": ref, "deviations": devs,
            "max_deviation": worst, "linear": abs(worst) <= LINEAR_TOLERANCE}


def evaluate(results):
    """Targets as (name, measured text, target text, ok or None)."""
    cases, out = results["cases"], []

    def med(case, system):
        return cases.get(case, {}).get(system, {}).get("median_seconds")

    def ratio(a, b):
        return a / b if a is not None and b else None

    paired = results.get("paired", {})
    for case, limit in (("b128", 1.25), ("b32", 1.6), ("b512", 1.15)):
        p = paired.get(case, {})
        if p.get("quiet_pairs", 0) >= MIN_QUIET_PAIRS:
            r, how = p["quiet_ratio"], f" (paired, {p['quiet_pairs']} quiet pairs)"
        elif p.get("ratio"):
            r, how = p["ratio"], " (paired, all pairs)"
        else:
            r, how = ratio(med(case, "nlayer"), med(case, "floor")), ""
        out.append((f"{case}: nlayer / GEMM floor{how}", _fmt_ratio(r), f"<= {limit}x",
                    None if r is None else r <= limit))
    r = ratio(med("b128", "nlayer"), med("b128", "torch"))
    out.append(("b128: nlayer / PyTorch epoch time", _fmt_ratio(r), "<= 0.75x",
                None if r is None else r <= 0.75))
    bn = results.get("paired_bn", {})
    if bn.get("quiet_pairs", 0) >= MIN_QUIET_PAIRS:
        r, how = bn["quiet_ratio"], f" (paired, {bn['quiet_pairs']} quiet pairs)"
    elif bn.get("ratio"):
        r, how = bn["ratio"], " (paired, all pairs)"
    else:
        r, how = ratio(med("bn_dropout", "nlayer"), med("b128", "nlayer")), ""
    out.append((f"batch norm + dropout / plain nlayer (b128){how}", _fmt_ratio(r), "<= 1.25x",
                None if r is None else r <= 1.25))
    pred = results.get("prediction", {})
    a, b = (pred.get(s, {}).get("rows_per_second") for s in ("nlayer", "torch"))
    out.append(("prediction: nlayer rows/s vs PyTorch",
                f"{a:,.0f} vs {b:,.0f} rows/s" if a and b else "n/a", ">= PyTorch",
                None if not (a and b) else a >= b))
    mem = results.get("memory", {})
    if "growth_mb" in mem:
        limit = mem["train_data_mb"] + MEMORY_TOLERANCE_MB
        out.append(("fit memory growth beyond loaded data", f"{mem['growth_mb']:.1f} MB",
                    f"<= {limit:.0f} MB (data {mem['train_data_mb']:.0f} + "
                    f"{MEMORY_TOLERANCE_MB:.0f})", mem["growth_mb"] <= limit))
        d = mem.get("epoch2_to_3_mb")
        out.append(("RSS growth epoch 2 -> 3", "n/a" if d is None else f"{d:+.1f} MB",
                    f"<= {EPOCH_GROWTH_TOLERANCE_MB:.0f} MB",
                    None if d is None else d <= EPOCH_GROWTH_TOLERANCE_MB))
    else:
        out.append(("fit memory growth beyond loaded data", mem.get("error", "n/a"),
                    f"<= data + {MEMORY_TOLERANCE_MB:.0f} MB", None))
    sc = results.get("scaling", {})
    if sc.get("max_deviation") is not None:
        out.append(("scaling: time per row vs largest size", f"max {sc['max_deviation']:+.1%}",
                    f"within +-{LINEAR_TOLERANCE:.0%}", sc["linear"]))
    return out


def _fmt_ratio(r):
    return "n/a" if r is None else f"{r:.2f}x"
