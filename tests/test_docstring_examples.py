"""Every example in nlayer's docstrings runs and prints what it says (doctest), from a
temporary folder; examples that need data or a long run are marked ``+SKIP`` in place."""

import doctest
import importlib
import pkgutil

import pytest

import nlayer

MODULES = sorted(m.name for m in pkgutil.walk_packages(nlayer.__path__, "nlayer.")
                 if not m.name.startswith(("nlayer.cli.__main__", "nlayer.compare.peers")))
WITH_EXAMPLES = ["nlayer.model.mlp", "nlayer.model.loading", "nlayer.gradcheck",
                 "nlayer.preprocessing", "nlayer.layers", "nlayer.optimizers.sgd",
                 "nlayer.optimizers.adam", "nlayer.callbacks.early_stopping",
                 "nlayer.callbacks.model_checkpoint"]


def examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError:  # an optional dependency's module (onnx, dask, ...)
        return None, []
    finder = doctest.DocTestFinder(exclude_empty=True)
    return module, [t for t in finder.find(module, name) if t.examples]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module, tests = examples(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"


def test_the_public_api_has_runnable_examples():
    """The examples above are real: each of these modules has examples that are not skipped."""
    for name in WITH_EXAMPLES:
        _, tests = examples(name)
        run = [e for t in tests for e in t.examples if not e.options.get(doctest.SKIP)]
        assert run, f"{name} has no runnable docstring example"
