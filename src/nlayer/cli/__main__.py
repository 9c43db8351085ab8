"""``python -m nlayer.cli``: the same as the ``nlayer`` command."""

import sys

from .app import main

if __name__ == "__main__":
    sys.exit(main())
