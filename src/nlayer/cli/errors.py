"""The one exception the CLI turns into ``nlayer: error: ...`` and exit code 2."""


class CLIError(Exception):
    """A user-facing problem: bad flags, files or data. The message is one line."""
