"""The tutorials executed once per session in quick mode, and the site built once from them."""

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nlayer

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.ipynb"))
#: The source tree the tests import; the kernels and the site build must import the same one.
SRC = Path(nlayer.__file__).resolve().parents[1]


@contextlib.contextmanager
def quick_environment():
    """PYTHONPATH at this nlayer and quick mode, for the kernels started inside (restored after)."""
    saved = dict(os.environ)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), saved.get("PYTHONPATH")]))
    os.environ["NLAYER_TUTORIAL_QUICK"] = "1"
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend draws the figures
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def executed():
    """{stem: executed notebook}; a last cell prints the path of the nlayer the kernel imported."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    notebooks = {}
    with quick_environment():
        for path in TUTORIALS:
            nb = nbformat.read(path, as_version=4)
            nb.cells.append(nbformat.v4.new_code_cell("import nlayer; print('imported', nlayer.__file__)"))
            nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                    resources={"metadata": {"path": str(path.parent)}}).execute()
            notebooks[path.stem] = nb
    return notebooks


@pytest.fixture(scope="session")
def built_site(executed, tmp_path_factory):
    """The site built with ``-W`` from a copy of docs/ holding the executed notebooks (not re-run)."""
    for module in ("sphinx", "myst_nb", "pydata_sphinx_theme", "numpydoc"):
        pytest.importorskip(module, reason=f'{module} is needed to build the site (pip install -e ".[docs]")')
    nbformat = pytest.importorskip("nbformat")
    work = tmp_path_factory.mktemp("site")
    shutil.copytree(DOCS, work / "docs", ignore=shutil.ignore_patterns("_build", "generated"))
    shutil.copytree(ROOT / "benchmarks" / "results", work / "benchmarks" / "results")
    shutil.copy(ROOT / "CHANGELOG.md", work / "CHANGELOG.md")
    for stem, nb in executed.items():
        copy = nbformat.from_dict(nb)
        copy.cells = copy.cells[:-1]  # without the test's own cell
        nbformat.write(copy, work / "docs" / "tutorials" / f"{stem}.ipynb")
    out = work / "html"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q", "-b", "html",
         "-D", "nb_execution_mode=off", str(work / "docs"), str(out)],
        capture_output=True, text=True, env=env, timeout=600)
    assert build.returncode == 0, f"the site build failed:\n{build.stderr[-4000:]}"
    return out
