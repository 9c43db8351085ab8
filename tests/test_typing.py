"""Types: the package ships its annotations (PEP 561) and its public callables carry them.

mypy itself runs in CI (``python3 -m mypy src/nlayer``, configured in pyproject.toml); these
tests check what a type checker cannot: that ``py.typed`` is there and that every public
function and method has all its parameters and its return annotated.
"""

import importlib
import inspect
from pathlib import Path

import nlayer as nl

#: the modules whose ``__all__`` is the public API checked here (issue 24: every name in
#: ``nl.__all__``, the scikit-learn estimators, the datasets and the sweep functions)
MODULES = ("nlayer", "nlayer.sklearn", "nlayer.datasets", "nlayer.sweep")

#: public callables not annotated yet (issue 24); each entry must still lack an annotation,
#: so the list only shrinks: annotate one and remove it here (empty: everything is annotated)
NOT_YET: set[str] = set()
#: whole classes whose methods are not all annotated yet (same rule: the set only shrinks)
NOT_YET_CLASSES: set[str] = set()


def _public_callables():
    """(qualified name, function) for every public function and method in the ``__all__``
    of :data:`MODULES` (named as in ``nl.__all__``, else prefixed with the module's last
    part: ``sklearn.NLayerClassifier.fit``); modules and constants are skipped."""
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        prefix = "" if module_name == "nlayer" else module_name.rsplit(".", 1)[1] + "."
        for name, func in _callables_of(module):
            yield prefix + name, func


def _callables_of(module):
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.ismodule(obj) or not callable(obj):
            continue
        if inspect.isfunction(obj):
            yield name, obj
            continue
        for cls in obj.__mro__:
            if not cls.__module__.startswith("nlayer"):
                continue
            for attr, value in vars(cls).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                func = value.fget if isinstance(value, property) else \
                    getattr(value, "__func__", value)
                if inspect.isfunction(func):
                    yield f"{name}.{attr}", func


def _unannotated(func):
    # as written, not evaluated: names imported only for type checkers (``if TYPE_CHECKING:``,
    # e.g. matplotlib's Figure) are annotations too
    hints = inspect.get_annotations(func)
    params = [p.name for p in inspect.signature(func).parameters.values()
              if p.name not in ("self", "cls")]
    return [p for p in params if p not in hints] + ([] if "return" in hints else ["return"])


def _exempt(qualified):
    return qualified in NOT_YET or qualified.split(".")[0] in NOT_YET_CLASSES


def test_py_typed_marker_is_in_the_package():
    assert (Path(nl.__file__).parent / "py.typed").is_file()


def test_every_public_callable_is_fully_annotated():
    missing = {q: m for q, f in _public_callables() if (m := _unannotated(f)) and not _exempt(q)}
    assert missing == {}, "annotate these parameters/returns: " + repr(missing)


def test_the_not_yet_list_only_shrinks():
    found = dict(_public_callables())
    done = sorted(q for q in NOT_YET if q in found and not _unannotated(found[q]))
    gone = sorted(q for q in NOT_YET if q not in found)
    assert done == [] and gone == [], f"remove from NOT_YET: {done + gone}"
    for cls in NOT_YET_CLASSES:
        assert any(_unannotated(f) for q, f in found.items() if q.split(".")[0] == cls), \
            f"every method of {cls} is annotated: remove it from NOT_YET_CLASSES"


def test_the_checker_sees_a_missing_annotation():
    def partly(a: int, b) -> int:
        return a

    def fully(a: int) -> None:
        pass

    assert _unannotated(partly) == ["b"] and _unannotated(fully) == []
