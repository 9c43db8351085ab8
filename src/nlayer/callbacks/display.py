"""Where output goes: a Jupyter kernel, a terminal, or a plain stream (a pipe, a file, a CI log).

Progress bars and live figures only make sense where something redraws them in place.
"""

import sys

__all__ = ["in_notebook", "is_terminal"]


def in_notebook():
    """True inside a Jupyter kernel, where IPython.display shows images and updates them.

    IPython is looked up in ``sys.modules`` rather than imported: a kernel has loaded it
    already, and a plain script should not pay for importing it.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def is_terminal(stream):
    """True when ``stream`` is an interactive terminal (where '\\r' rewrites a line)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):  # a closed or detached stream
        return False
