"""Optional packages of the tracking callbacks, imported only when one is used: the core
package needs NumPy alone."""

import importlib

__all__ = ["require"]


def require(module, extra, user):
    """The module ``module``, or an ImportError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{user} needs the package {module.split('.')[0]!r}, which is not "
                          f'installed; install it with: pip install "nlayer[{extra}]"') from exc
