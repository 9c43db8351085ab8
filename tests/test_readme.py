"""The README is the front page: it starts with the two commands for a fresh machine, stays short
(the documentation pages hold the rest, see tests/docs/test_page_examples.py for their examples),
its Python example runs as written (in order, in one namespace, from a temporary folder) and its
links lead to files of this repository."""

import importlib.util
import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, re.S)
OPTIONAL = {"sklearn": "load_dataset"}  # the digits come from scikit-learn
LINK = re.compile(r"\]\(([^)\s]+)\)")
START = """# nlayer

```bash
pip install -e ".[cli]" && nlayer train
pip install -e ".[dev]" && python -m pytest -q
```
"""


def test_the_readme_starts_with_the_two_commands_and_stays_a_front_page():
    assert TEXT.startswith(START)
    assert len(TEXT) <= 10_000, "the README is a front page: details belong on the docs/ pages"
    assert "bash docs/build.sh" in TEXT


def test_the_readme_has_the_example_this_file_runs():
    assert len(BLOCKS) >= 1 and "load_dataset" in BLOCKS[0] and "check_gradients" in BLOCKS[0]


def test_the_readme_example_runs_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for module, marker in OPTIONAL.items():
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (the README's example with {marker} needs it)")
    namespace = {"__name__": "readme"}
    for block in BLOCKS:
        exec(compile(block, str(README), "exec"), namespace)
    nl, model, data = namespace["nl"], namespace["model"], namespace["data"]
    assert namespace["scores"]["accuracy"] > 0.9
    assert namespace["error"] < 1e-6
    loaded = nl.load(tmp_path / "model.nlayer")
    np.testing.assert_array_equal(loaded.predict(data.X_test), model.predict(data.X_test))


def _anchors(markdown):
    """GitHub's anchors of a Markdown file's headings (lower case, punctuation dropped, - for spaces)."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", markdown, flags=re.S), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_link_of_the_readme_leads_to_a_file_of_the_repository():
    links = [link for link in LINK.findall(TEXT) if not re.match(r"[a-z]+:", link)]
    assert len(links) >= 20  # the front page links into the documentation pages
    for link in links:
        path, _, anchor = unquote(link).partition("#")
        target = (ROOT / path).resolve() if path else README
        assert target.is_relative_to(ROOT) and target.exists(), link
        if anchor:
            assert anchor in _anchors(target.read_text(encoding="utf-8")), link
