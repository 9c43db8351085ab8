"""The machine: its description (CPU, BLAS, versions), its load and its state probe."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np


def _load1():
    """1-minute load average (None where unavailable): other jobs on the cores spoil timings."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _state_probe():
    """Seconds for 200 small two-thread GEMMs, each followed by single-threaded NumPy work.

    This shared machine has a slow state, lasting seconds to minutes, in which waking
    the second BLAS thread after single-threaded work gets expensive (the second vCPU
    seems contended). It slows nlayer, whose GEMMs alternate with element-wise work,
    up to 2.5x at batch 32, and the back-to-back GEMMs of the floor far less; a
    memory-bound probe does not see it. This probe does (+20 % in the slow state).
    """
    A, W = np.ones((32, 784), dtype=np.float32), np.ones((784, 256), dtype=np.float32)
    Z, B = np.empty((32, 256), dtype=np.float32), np.ones(235_146, dtype=np.float32)
    t0 = time.perf_counter()
    for _ in range(200):
        np.matmul(A, W, out=Z)
        B *= np.float32(0.9)
    return time.perf_counter() - t0


def machine_info():
    info = {"date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "python": platform.python_version(), "platform": platform.platform(),
            "cpu_count": os.cpu_count()}
    try:
        info["cpu_affinity"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    cpu = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "cpu family", "model", "stepping", "flags") and key not in cpu:
                cpu[key] = value.strip()
    except OSError:
        pass
    model = cpu.get("model name")
    if not model and shutil.which("lscpu"):
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((l.split(":", 1)[1].strip() for l in out.splitlines()
                      if l.startswith("Model name")), None)
    info["cpu_model"] = model or platform.processor() or "unknown"
    if "cpu family" in cpu:
        info["cpu_family_model_stepping"] = f"{cpu['cpu family']}/{cpu.get('model')}/{cpu.get('stepping')}"
    flags = cpu.get("flags", "").split()
    info["simd"] = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16") if f in flags]
    try:
        info["load_average_start"] = os.getloadavg()
    except OSError:
        pass
    versions = {}
    for dist in ("numpy", "nlayer", "torch", "tensorflow", "keras", "scikit-learn", "matplotlib",
                 "threadpoolctl"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    info["versions"] = versions
    blas = []
    try:
        import threadpoolctl

        for lib in threadpoolctl.threadpool_info():
            blas.append({k: lib.get(k) for k in ("user_api", "internal_api", "version",
                                                  "num_threads", "architecture", "prefix")})
    except ImportError:
        pass
    info["threadpools"] = blas
    try:
        cfg = np.show_config(mode="dicts")
        b = cfg["Build Dependencies"]["blas"]
        info["numpy_blas"] = f"{b.get('name')} {b.get('version')}"
    except Exception:  # older numpy: no dict mode
        info["numpy_blas"] = None
    return info


def machine_line(info):
    v = info["versions"]
    blas = info.get("numpy_blas") or "?"
    np_pool = next((p for p in info["threadpools"] if p["user_api"] == "blas"), None)
    if np_pool:
        blas += f" ({np_pool['internal_api']} {np_pool['version']}, {np_pool['architecture']}, " \
                f"{np_pool['num_threads']} threads)"
    peers = ", ".join(f"{k} {v[k]}" for k in ("torch", "tensorflow", "keras", "scikit-learn")
                      if v.get(k))
    cpu = info["cpu_model"]
    if info.get("cpu_family_model_stepping"):
        cpu += f" (family/model/stepping {info['cpu_family_model_stepping']})"
    simd = "+".join(info.get("simd", []))
    load = info.get("load_average_start")
    load_s = f"; load average at start {load[0]:.2f}" if load else ""
    return (f"{cpu}, {info['cpu_count']} logical cores{', ' + simd if simd else ''}; "
            f"Python {info['python']}, NumPy {v['numpy']} with {blas}; {peers}; "
            f"{info['platform']}; {info['date']}{load_s}")
