"""The version of nlayer, in one place (``nl.__version__``, ``nlayer --version``, files)."""

__version__ = "0.1.0"
