"""The ``nlayer`` command line: train, evaluate, predict, info, export, compare, sweep.

A thin layer over the library: flags become ``nl.MLP`` / ``compile`` / ``fit``
arguments, data comes from :mod:`nlayer.datasets`, and every run is written to
a run directory. ``main(argv)`` returns the exit code (0 ok, 2 user error,
130 aborted by a second Ctrl-C).
"""

from .app import build_parser, main

__all__ = ["main", "build_parser"]
