"""What the machine has free: memory available to this process, and sizes in words."""

import os

__all__ = ["available_bytes", "format_bytes"]

_GiB = 1024 ** 3


def available_bytes():
    """Memory the system can give this process now (Linux: MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n):
    for unit, size in (("TB", 1024 ** 4), ("GB", _GiB), ("MB", 1024 ** 2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"
