"""The import path ``nlayer.schedules`` (and ``nl.schedules``): learning-rate schedules live in
:mod:`nlayer.optimizers.schedules`, beside the optimisers that follow them."""

from .optimizers.schedules import *  # noqa: F401,F403  (the same objects, by their old path)
from .optimizers.schedules import CHOICES, NAMES, __all__, from_settings  # noqa: F401
