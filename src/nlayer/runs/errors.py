"""The one exception for a problem the user fixes; the command line prints it as
``nlayer: error: ...`` with exit code 2."""


class UserError(Exception):
    """A user-facing problem: bad flags, settings, files or data. The message is one line."""
