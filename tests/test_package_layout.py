"""The package's shape: no import circle, arrows pointing down, small files, tests mirroring src.

Imports are read from the source (every ``import`` statement, function bodies included), as
Python runs them: importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first, so an
import of a module is also an import of the packages around it (those around the importer
itself aside: they are already running).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "nlayer"
MAX_LINES = 500
# the engine: what a model needs to train, save and load; it imports NumPy and itself only
ENGINE = ("activations", "initializers", "losses", "metrics", "preprocessing", "errors",
          "layers", "utils", "optimizers", "callbacks", "saving", "training", "model")
INTEGRATIONS = ("cli", "sweep", "compare", "experiments", "datasets", "sklearn", "plotting")


def _modules():
    mods = {}
    for path in SRC.rglob("*.py"):
        parts = ["nlayer", *path.relative_to(SRC).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _packages_of(name):
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imports(name, path, mods):
    """The nlayer modules that importing ``name`` runs, directly."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in mods else source
                       for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for target in (t for t in targets if t in mods):
            out.add(target)
            out.update(p for p in _packages_of(target) if p not in _packages_of(name))
    out.discard(name)
    return out


def _graph():
    mods = _modules()
    return {name: _imports(name, path, mods) for name, path in mods.items()}


def _cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _reach(graph, start):
    seen, todo = set(), [start]
    while todo:
        for w in graph[todo.pop()]:
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_the_graph_reader_sees_a_circle():
    """The checker itself: a two-module circle through a function-level import is found."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert _cycles(graph) == [["a", "b"]]
    source = "def f():\n    from .b import g\n"
    tree = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)]
    assert tree and tree[0].level == 1  # function bodies are walked too


def test_no_import_circle_anywhere_in_src():
    assert _cycles(_graph()) == []


def test_the_engine_imports_no_integration():
    graph = _graph()
    for name in graph:
        top = name.split(".")[1] if name.count(".") else None
        if top not in ENGINE:
            continue
        wrong = sorted(m for m in _reach(graph, name) if m.split(".")[1:2] and
                       m.split(".")[1] in INTEGRATIONS)
        assert not wrong, f"{name} reaches {wrong}"


def test_the_file_format_knows_nothing_of_the_model_or_training():
    graph = _graph()
    for name in (n for n in graph if n.startswith("nlayer.saving")):
        above = sorted(m for m in _reach(graph, name)
                       if m.startswith(("nlayer.model", "nlayer.training", "nlayer.callbacks")))
        assert not above, f"{name} reaches {above}"


@pytest.mark.parametrize("folder", ["src", "tests", "benchmarks", "examples"])
def test_no_file_over_500_lines(folder):
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / folder).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_tests_mirror_the_sub_packages():
    packages = {p.parent.name for p in SRC.glob("*/__init__.py")}
    missing = sorted(p for p in packages if not (ROOT / "tests" / p).is_dir())
    assert missing == []
