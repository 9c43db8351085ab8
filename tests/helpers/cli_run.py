"""Running the ``nlayer`` command line in a subprocess, for the CLI tests."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

FAST = ["--hidden", "32", "--batch-size", "64"]
ENV = {**os.environ, "COLUMNS": "100", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def cli(*args, cwd=None, timeout=120, env=None):
    """Run ``python -m nlayer.cli ARGS`` (``env``: variables added to ENV); returns the
    CompletedProcess (text mode)."""
    return subprocess.run([sys.executable, "-m", "nlayer.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**ENV, **(env or {})})


def assert_one_line_error(result, *words):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nlayer: error: ")
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in lines[0], lines[0]


def read_csv_dicts(path_or_text):
    text = Path(path_or_text).read_text() if isinstance(path_or_text, Path) else path_or_text
    return list(csv.DictReader(text.splitlines()))


def write_classification_csv(path, n=240, seed=0):
    """Two numeric features and a colour; the class follows a simple rule."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["size", "weight", "colour", "kind"])
        for _ in range(n):
            size, weight = rng.normal(), rng.normal()
            colour = rng.choice(["red", "green", "blue"])
            score = size + weight + (1.5 if colour == "red" else -0.5)
            writer.writerow([f"{size:.4f}", f"{weight:.4f}", colour,
                             "big" if score > 0.3 else "small"])
