"""The documentation pages' Python examples run as written, as the README's do (tests/test_readme.py).

Every ``.md`` page under docs/ with ```python blocks is run page by page, its blocks in order in
one namespace, from a temporary folder. The guide's examples continue from Getting started's
(its digits and trained ``model``, as the pages say), so each page starts from a copy of the
namespace Getting started's example leaves, run once. A block guarded by
``if __name__ == "__main__":`` (the sweep's: its worker processes import the script again) runs as
a script of its own after Getting started's data loading, as a user would run it. A page whose
example needs an optional module that is not installed is skipped, naming it.
"""

import copy
import importlib.util
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import nlayer

DOCS = Path(__file__).resolve().parents[2] / "docs"
FIRST = "getting-started.md"
GUARD = 'if __name__ == "__main__":'
#: The source tree the tests import; a page's script must import the same one.
SRC = Path(nlayer.__file__).resolve().parents[1]
#: module -> what in a page's examples needs it
OPTIONAL = {"sklearn": "sklearn", "onnxruntime": "onnxruntime",
            "matplotlib": r"plot_layer_stats|LivePlot|history\.plot\(",
            "tensorboardX": r"nl\.TensorBoard", "mlflow": r"nl\.MLflowLogger",
            "distributed": r"nlayer\.sweep"}


def _blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


PAGES = {path.relative_to(DOCS).as_posix(): _blocks(path) for path in sorted(DOCS.rglob("*.md"))
         if "_build" not in path.parts and _blocks(path)}


def _files(folder):
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def _check_getting_started(ns, folder):
    assert ns["model"].evaluate(ns["X_test"], ns["y_test"])["accuracy"] > 0.9
    loaded = ns["nl"].load(folder / "model.nlayer")
    np.testing.assert_array_equal(loaded.predict(ns["X_test"]), ns["model"].predict(ns["X_test"]))


def _check_schedules(ns, folder):
    rates = ns["model"].history.history["lr"]  # the one-cycle model: its rate moves every epoch
    assert len(rates) == 20 and max(rates) > 2 * min(rates)
    assert ns["plateau"].history.history["val_accuracy"]


def _check_checkpoints(ns, folder):
    assert {"last.nlayer", "best.nlayer"} <= _files(folder)
    assert ns["nl"].load(folder / "last.nlayer").get_weights()


def _check_notebooks(ns, folder):
    assert len(ns["deep"].history.history["loss"]) == 5 and "live.png" in _files(folder)


def _check_monitoring(ns, folder):
    assert {"gradients.png", "activations.png", "logs/digits"} <= _files(folder)
    assert ns["model"].history.layer_stats


def _check_sklearn(ns, folder):
    assert ns["search"].score(ns["X_test"], ns["y_test"]) > 0.9


def _check_onnx(ns, folder):
    expected = ns["model"].predict(ns["X_test"])
    assert ns["probabilities"].shape == (len(ns["X_test"]), 10) and "model.onnx" in _files(folder)
    np.testing.assert_allclose(ns["probabilities"], expected, atol=1e-5)


def _check_sweeps(ns, folder):
    rows = (folder / "runs" / "sw" / "sweep.csv").read_text().splitlines()
    assert len(rows) == 1 + 4  # 2 rates x 2 seeds


CHECKS = {FIRST: _check_getting_started, "guide/schedules.md": _check_schedules,
          "guide/checkpoints.md": _check_checkpoints, "guide/notebooks.md": _check_notebooks,
          "guide/monitoring.md": _check_monitoring, "guide/sklearn.md": _check_sklearn,
          "guide/onnx.md": _check_onnx, "guide/sweeps.md": _check_sweeps}


def _skip_without_optional_modules(page):
    code = "\n".join(PAGES[page])
    for module, marker in OPTIONAL.items():
        if re.search(marker, code) and importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed ({page}'s example with {marker} needs it)")


def _run(blocks, name, namespace):
    for block in blocks:
        if GUARD not in block:
            exec(compile(block, str(DOCS / name), "exec"), namespace)


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """(namespace, folder) after Getting started's example, run once in a folder of its own."""
    _skip_without_optional_modules(FIRST)
    folder, cwd = tmp_path_factory.mktemp("getting-started"), os.getcwd()
    namespace = {"__name__": "docs_example"}
    os.chdir(folder)
    try:
        _run(PAGES[FIRST], FIRST, namespace)
    finally:
        os.chdir(cwd)
    return namespace, folder


def _copy(namespace):
    """The namespace with its values deep-copied (modules shared), so pages cannot touch each other."""
    values = {k: v for k, v in namespace.items()
              if k != "__builtins__" and not isinstance(v, types.ModuleType)}
    return {**namespace, **copy.deepcopy(values)}


def test_the_pages_have_the_examples_this_file_runs():
    assert set(CHECKS) <= set(PAGES)
    assert [b for b in PAGES["guide/sweeps.md"] if GUARD in b]
    assert "load_dataset" in PAGES[FIRST][0] and "model = nl.Sequential" in PAGES[FIRST][0]


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_page_examples_run_in_order(page, first, tmp_path, monkeypatch):
    _skip_without_optional_modules(page)
    namespace, folder = first
    if page != FIRST:
        namespace, folder = _copy(namespace), tmp_path
        monkeypatch.chdir(folder)
        _run(PAGES[page], page, namespace)
        data_loading = PAGES[FIRST][0].split("model = nl.Sequential")[0]
        for number, block in enumerate(b for b in PAGES[page] if GUARD in b):
            script = folder / f"script_{number}.py"
            script.write_text(data_loading + block, encoding="utf-8")
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
            done = subprocess.run([sys.executable, str(script)], cwd=folder, env=env,
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stderr[-2000:]
    if page in CHECKS:
        CHECKS[page](namespace, folder)
