"""Sphinx configuration of nlayer's documentation site (``docs/build.sh`` builds it)."""

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
SRC = DOCS.parent / "src"
# Document this checkout's source, and let the kernels that execute the tutorials import it too.
sys.path.insert(0, str(SRC))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))

import myst_nb.core.render  # noqa: E402

import nlayer  # noqa: E402


def _join_streams(outputs, _merge=myst_nb.core.render.coalesce_streams):
    """A cell's stream messages joined as written, then myst-nb's merge (``nb_merge_streams``).

    myst-nb's merge ends every message with a newline, so the in-place redraws of ``fit``'s
    progress bar (each a message starting with a carriage return) became a line each; joined
    first, the merge keeps only what a terminal shows last: one bar.
    """
    joined, streams = [], {}
    for output in outputs:
        if output.get("output_type") != "stream":
            joined.append(output)
        elif output.get("name") in streams:  # also across figures a LivePlot redraws in between
            streams[output["name"]]["text"] += output["text"]
        else:
            streams[output.get("name")] = output
            joined.append(output)
    return _merge(joined)


myst_nb.core.render.coalesce_streams = _join_streams

project = "nlayer"
author = "the nlayer contributors"
copyright = "the nlayer contributors (MIT licence)"
release = version = nlayer.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]
# .rst first: autosummary writes its generated API pages (reStructuredText) with the first suffix
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "build.sh"]
root_doc = "index"

# -- MyST and the notebooks -----------------------------------------------------------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3                # README-style links to section headings (#speed)
nb_execution_mode = "force"             # notebooks are stored without outputs: run them at build
nb_execution_timeout = 600
nb_execution_raise_on_error = True      # a tutorial that fails fails the build
nb_execution_show_tb = True
nb_merge_streams = True                 # the progress bar's redraws become one output
nb_output_stderr = "remove"             # libraries' start-up chatter (TensorFlow) is not content

# -- API reference --------------------------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True}
templates_path = ["_templates"]  # class pages: autodoc's members only, no inherited method tables
autodoc_member_order = "bysource"
numpydoc_show_class_members = False     # autodoc lists the members; no duplicate stub tables
numpydoc_validation_checks = set()      # the docstrings are prose (see docs/about.md)
numpydoc_xref_param_type = False
nitpicky = False


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Members that scikit-learn puts on the estimators (``set_fit_request`` and the like) are
    documented by scikit-learn, whose docstrings refer to its own glossary."""
    module = getattr(obj, "__module__", None) or ""
    return True if module.split(".")[0] == "sklearn" else skip


def _escape_trailing_underscores(app, what, name, obj, options, lines):
    """In numpydoc ``name : type`` lines, ``n_features_in_`` would be a reStructuredText
    reference; escape the underscore so it stays text (the docstring should say ``n_features_in_``
    in backquotes)."""
    for i, line in enumerate(lines):
        head, sep, kind = line.partition(" : ")
        if sep:
            lines[i] = head + sep + re.sub(r"(\w)_(?=[^\w`]|$)", r"\1\\_", kind)


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
    app.connect("autodoc-process-docstring", _escape_trailing_underscores)

# -- HTML -----------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"nlayer {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "header_links_before_dropdown": 4,  # the rest of the top level under "More"
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_static_path = []
html_context = {"default_mode": "auto"}  # light or dark as the reader's system prefers
html_show_sourcelink = False
html_copy_source = False
