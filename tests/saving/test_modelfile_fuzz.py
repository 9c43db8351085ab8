"""Fuzz test of ``nl.load``: every variant either loads a model that predicts finite values
(the saved model's exact predictions, for random damage) or raises ModelFileError.

Each variant is loaded in a forked child under an address-space limit (``RLIMIT_AS``) and
a per-variant time limit; children take variants in batches. ``NLAYER_FUZZ_N`` sets the
number of random mutations (default 800; 20000 for a long run), ``NLAYER_FUZZ_SEED`` their
seed (default 0); ``NLAYER_WRITE_RELIABILITY=1`` writes the outcome table to
``docs/reliability.md``.
"""

import collections
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nlayer as nl

import model_file_attacks as attacks
import model_file_structured as structured

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux",
                                reason="needs fork and RLIMIT_AS (Linux)")

MEMORY_BUDGET = 768 << 20  # bytes of address space a child may add to what it inherits
SECONDS_PER_VARIANT = 20
BATCH = 100
FAILURES = ("other exception", "non-finite predictions", "different predictions", "timeout",
            "crashed")
DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


class _Timeout(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


def _classify(path, base_rows, base_pred, resigned):
    """(outcome, detail) of loading one file, in the child."""
    try:
        model = nl.load(path)
        rows = base_rows if model.n_features == base_rows.shape[1] else \
            np.random.default_rng(0).normal(size=(5, model.n_features))
        pred = model.predict(rows)
        if not np.isfinite(pred).all():
            return "non-finite predictions", ""
        if not resigned and (pred.shape != base_pred.shape or not np.array_equal(pred, base_pred)):
            return "different predictions", ""
        return "loaded", ""
    except nl.ModelFileError as exc:
        return "ModelFileError", str(exc).split(": ", 1)[-1][:160]
    except _Timeout:
        return "timeout", ""
    except BaseException as exc:  # noqa: BLE001 - anything else is what the test looks for
        return "other exception", f"{type(exc).__name__}: {str(exc)[:300]}"


def _child(variants, start, stop, write_fd, workdir, expected):
    """Runs in the forked child: load variants[start:stop], one JSON line per result."""
    limit = _address_space() + MEMORY_BUDGET
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.signal(signal.SIGALRM, _on_alarm)
    out = os.fdopen(write_fd, "w")
    path = os.path.join(workdir, f"variant-{os.getpid()}.nlayer")
    for i in range(start, stop):
        cls, base, data, resigned = variants[i]
        with open(path, "wb") as fh:
            fh.write(data)
        rows, pred = expected[base]
        signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_VARIANT)
        started = time.perf_counter()
        try:
            outcome, detail = _classify(path, rows, pred, resigned)
        except _Timeout:
            outcome, detail = "timeout", ""
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        out.write(json.dumps({"i": i, "outcome": outcome, "detail": detail,
                              "seconds": time.perf_counter() - started}) + "\n")
        out.flush()
    out.close()


def _address_space():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def run_variants(variants, expected, workdir):
    """Outcome of every variant, loaded in forked children of BATCH variants each."""
    results, start = {}, 0
    while start < len(variants):
        stop = min(start + BATCH, len(variants))
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                os.close(read_fd)
                _child(variants, start, stop, write_fd, workdir, expected)
            except BaseException:  # noqa: BLE001
                code = 1
            finally:
                os._exit(code)
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            for line in pipe:
                r = json.loads(line)
                results[r["i"]] = (r["outcome"], r["detail"], r["seconds"])
        _, status = os.waitpid(pid, 0)
        done = [i for i in range(start, stop) if i in results]
        nxt = (max(done) + 1) if done else start
        if nxt < stop:  # the child died on variant nxt
            results[nxt] = ("crashed", f"child exit status {status}", float("nan"))
            nxt += 1
        start = nxt
    return [results[i] for i in range(len(variants))]


def all_variants(n_random, seed=0):
    bases = attacks.base_models()
    variants = list(attacks.random_mutations(bases, n_random, seed))
    variants += list(attacks.retyped_headers(bases, max(300, n_random // 4), seed + 1))
    variants += list(attacks.restructured_headers(bases, max(120, n_random // 10), seed + 2))
    variants += list(attacks.text_damage(bases, max(300, n_random // 4), seed + 3))
    variants += list(structured.structured_attacks(bases))
    variants += list(structured.one_off_attacks(bases))
    expected = {}
    for name, (data, rows) in bases.items():
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"nlayer-fuzz-base-{os.getpid()}.nlayer"
        path.write_bytes(data)
        expected[name] = (rows, nl.load(path).predict(rows))
        path.unlink()
    return variants, expected


def tabulate(variants, outcomes):
    """{class: Counter of outcomes}, and {class: slowest load in seconds}."""
    table, slowest = collections.OrderedDict(), {}
    for (cls, *_), (outcome, _, seconds) in zip(variants, outcomes):
        table.setdefault(cls, collections.Counter())[outcome] += 1
        slowest[cls] = max(slowest.get(cls, 0.0), seconds)
    return table, slowest


def test_every_variant_loads_or_raises_model_file_error(tmp_path):
    n_random = int(os.environ.get("NLAYER_FUZZ_N", "800"))
    variants, expected = all_variants(n_random, int(os.environ.get("NLAYER_FUZZ_SEED", "0")))
    assert len(variants) >= 1000
    started = time.perf_counter()
    outcomes = run_variants(variants, expected, str(tmp_path))
    seconds = time.perf_counter() - started
    assert not os.path.exists("/tmp/nlayer-fuzz-pickle-executed")
    table, slowest = tabulate(variants, outcomes)
    print(f"{len(variants)} variants in {seconds:.1f} s")
    for cls, counts in table.items():
        print(f"  {cls}: {dict(counts)}, slowest {slowest[cls]:.2f} s")
    if os.environ.get("NLAYER_WRITE_RELIABILITY") == "1":
        write_report(table, slowest, len(variants), n_random, seconds)
    bad = [(v[0], v[1], o[:2]) for v, o in zip(variants, outcomes) if o[0] in FAILURES]
    assert not bad, f"{len(bad)} variants escaped: " + "; ".join(map(str, bad[:10]))
    # every structured attack is refused; the valid variants among them load
    for cls, counts in table.items():
        if cls in attacks.VALID_CLASSES:
            assert counts == {"loaded": sum(counts.values())}, (cls, counts)
        elif cls not in attacks.MIXED_CLASSES:
            assert counts == {"ModelFileError": sum(counts.values())}, (cls, counts)


def write_report(table, slowest, n_variants, n_random, seconds):
    from reliability_doc import render
    DOC.parent.mkdir(exist_ok=True)
    previous = DOC.read_text() if DOC.exists() else ""
    DOC.write_text(render(table, slowest, n_variants, n_random, seconds, previous))
