"""The README's Python examples run as written: in order, in one namespace, from a temporary
folder (the sweep's as a script of its own, as a user would run it)."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
SWEEP = [b for b in BLOCKS if "nlayer.sweep.run(" in b]
OPTIONAL = {"sklearn": "sklearn", "onnxruntime": "onnxruntime", "matplotlib": "nlayer.plot_layer_stats",
            "tensorboardX": "nl.TensorBoard", "mlflow": "nl.MLflowLogger"}


def test_the_readme_has_the_examples_this_file_runs():
    assert len(BLOCKS) >= 6 and len(SWEEP) == 1 and "load_dataset" in BLOCKS[0]


def test_the_readme_examples_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for module, marker in OPTIONAL.items():
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (the README's example with {marker} needs it)")
    namespace = {"__name__": "readme"}
    for block in BLOCKS:
        if block in SWEEP:
            continue
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["search"].score(namespace["X_test"], namespace["y_test"]) > 0.9
    assert namespace["probabilities"].shape == (len(namespace["X_test"]), 10)
    assert {"last.nlayer", "best.nlayer", "model.nlayer", "model.onnx"} <= \
        {p.name for p in tmp_path.iterdir()}


def test_the_readme_sweep_runs_as_a_script(tmp_path):
    pytest.importorskip("distributed")
    script = tmp_path / "sweep_script.py"
    script.write_text(BLOCKS[0].split("model = nl.Sequential")[0] + SWEEP[0], encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = (tmp_path / "runs" / "sw" / "sweep.csv").read_text().splitlines()
    assert len(rows) == 1 + 4  # 2 rates x 2 seeds
