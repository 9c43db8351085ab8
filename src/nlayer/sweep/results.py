"""The sweep's table: one row per trial, points ranked by the mean DEV metric over seeds.

The test metrics are recorded for every trial but never used to choose: ``best`` ranks
by the development set only, so the test score of the chosen point stays an honest
estimate.
"""

import csv
import io
import json
import math

import numpy as np

from nlayer.runs import rundir
from nlayer.saving.atomic import write_text

from .spec import DATA_KEYS, METRICS

#: The last columns of sweep.csv: ``resumed_from`` is the epochs of the checkpoint a
#: trial continued from (empty: it trained from epoch 1), ``restart_reason`` why a
#: checkpoint it was given was refused (it then trained from epoch 1).
TAIL = ("epochs", "best_epoch", "resumed_from", "seconds", "worker", "error", "restart_reason")


def rows(records, swept):
    """Flat rows in trial order: trial, point, status, swept settings, seed, dev_*, test_*, ..."""
    out = []
    for rec in sorted(records, key=lambda r: r["index"]):
        row = {"trial": rec["trial"], "point": rec["point"], "status": rec["status"]}
        row.update({key: rec["settings"].get(key) for key in swept})
        row["seed"] = rec["seed"]
        for split in ("dev", "test"):
            row.update({f"{split}_{k}": v for k, v in sorted((rec.get(split) or {}).items())})
        row.update({key: rec.get(key) for key in TAIL})
        out.append(row)
    columns = _columns(out)
    return [{c: row.get(c) for c in columns} for row in out]


def _columns(table):
    columns = []
    for row in table:
        columns += [c for c in row if c not in columns and c not in TAIL]
    return columns + list(TAIL)


def write_csv(path, table):
    if not table:
        write_text(path, "")
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(table[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in table)
    write_text(path, buffer.getvalue())


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return value


def points(records, metric):
    """Per point: settings, seeds ok/total, mean and std of the dev metric, mean test metric.

    Sorted best first by the dev metric (points with a failed seed after complete ones).
    """
    groups = {}
    for rec in sorted(records, key=lambda r: r["index"]):
        groups.setdefault(rec["point"], []).append(rec)
    better_high = METRICS[metric]
    table = []
    for pid, recs in groups.items():
        ok = [r for r in recs if r["status"] == "ok" and _finite((r["dev"] or {}).get(metric))]
        dev = np.array([r["dev"][metric] for r in ok], dtype=float)
        test = np.array([(r["test"] or {}).get(metric, math.nan) for r in ok], dtype=float)
        table.append({
            "point": pid, "settings": recs[0]["settings"], "index": recs[0]["index"],
            "seeds": len(recs), "ok": len(ok),
            "errors": sorted({r["error"] for r in recs if r["error"]}),
            "dev_mean": float(dev.mean()) if ok else None,
            "dev_std": float(dev.std()) if ok else None,
            "test_mean": float(np.nanmean(test)) if ok else None,
            "epochs_mean": float(np.mean([r["epochs"] for r in ok])) if ok else None,
            "seconds_mean": _mean([r["seconds"] for r in recs if r["seconds"] is not None]),
        })

    def rank(p):
        if p["dev_mean"] is None:
            return (2, 0.0, p["index"])
        value = -p["dev_mean"] if better_high else p["dev_mean"]
        return (0 if p["ok"] == p["seeds"] else 1, value, p["index"])
    return sorted(table, key=rank)


def best(records, metric):
    """The best point (see ``points``), or None when no trial finished."""
    ranked = points(records, metric)
    return ranked[0] if ranked and ranked[0]["dev_mean"] is not None else None


def best_toml(point, trials, metric, n_seeds, with_data=True):
    """TOML for ``nlayer train --config best.toml``: the best point's full settings.

    Without ``with_data`` the data settings are left out (the sweep ran on arrays).
    """
    cfg = next(t.cfg for t in trials if t.point_id == point["point"])
    if not with_data:
        cfg = {k: v for k, v in cfg.items() if k not in DATA_KEYS}
    test = point["test_mean"]
    header = [f"# nlayer sweep: the best point by mean dev {metric} over "
              f"{point['ok']} of {n_seeds} seeds: {point['dev_mean']:.4f} "
              f"(std {point['dev_std']:.4f}); chosen on the dev set only",
              f"# its mean test {metric} (not used to choose): "
              + ("n/a" if test is None or not math.isfinite(test) else f"{test:.4f}"),
              "# train it: nlayer train --config best.toml"]
    body = rundir.toml_text(cfg).split("\n", 1)[1]  # without the run file's own header line
    return "\n".join(header) + "\n" + body


def _mean(values):
    return float(np.mean(values)) if values else None  # None: every seed was lost


def _finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value)
