"""Verified downloads into a cache directory.

A file is streamed into a temporary file next to its final location, its
MD5 is checked, and only then is it renamed into place (``os.replace``),
so a partial or corrupt download never appears under the final name.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from .idx import DatasetError, DatasetNotFoundError

__all__ = ["DEFAULT_TIMEOUT", "md5_file", "download_file", "default_cache_root"]

#: Seconds to wait on a silent connection before giving up on a mirror.
DEFAULT_TIMEOUT = 30.0
_CHUNK = 1 << 16


class _DownloadFailed(Exception):
    """One mirror failed; the message is the human-readable reason."""


def default_cache_root() -> Path:
    """``$NLAYER_CACHE`` if set, else ``~/.cache/nlayer``."""
    env = os.environ.get("NLAYER_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nlayer"


def md5_file(path: str | os.PathLike) -> str:
    """Hex MD5 digest of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    filename: str,
    mirrors: list[str] | tuple[str, ...],
    dest_dir: str | os.PathLike,
    md5: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Download *filename* from the first working mirror into *dest_dir*.

    Each mirror is a base URL; the file URL is ``mirror + filename``.  If
    *md5* is given the download must match it.  Raises
    DatasetNotFoundError listing every URL tried and why it failed.
    """
    dest_dir = Path(dest_dir)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create cache directory {dest_dir}: {exc}") from exc
    target = dest_dir / filename
    failures = []
    for mirror in mirrors:
        url = _join(mirror, filename)
        try:
            _fetch_verified(url, target, md5, timeout)
            return target
        except _DownloadFailed as exc:
            failures.append(f"{url}: {exc}")
    tried = "; ".join(failures) or "no mirrors configured"
    raise DatasetNotFoundError(f"could not be downloaded ({filename}: {tried})")


def _join(mirror: str, filename: str) -> str:
    return mirror if mirror.endswith(filename) else mirror.rstrip("/") + "/" + filename


def _fetch_verified(url: str, target: Path, md5: str | None, timeout: float) -> None:
    """Download *url* to *target* atomically, or raise _DownloadFailed."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            got = _stream(url, out, timeout)
        if md5 is not None and got != md5.lower():
            raise _DownloadFailed(f"checksum mismatch: expected md5 {md5.lower()}, got {got}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _stream(url: str, out: BinaryIO, timeout: float) -> str:
    """Copy the body of *url* into *out*; return its MD5 hex digest."""
    digest = hashlib.md5()
    received = 0
    request = urllib.request.Request(url, headers={"User-Agent": "nlayer"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            for chunk in iter(lambda: resp.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
    except urllib.error.HTTPError as exc:
        raise _DownloadFailed(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _DownloadFailed(f"connection failed: {exc.reason}") from None
    except http.client.IncompleteRead:
        raise _DownloadFailed(f"truncated: connection closed after {received} bytes") from None
    except http.client.HTTPException as exc:
        raise _DownloadFailed(f"bad HTTP response: {exc!r}") from None
    except (socket.timeout, TimeoutError):
        raise _DownloadFailed(f"timed out after {timeout} s ({received} bytes received)") from None
    except OSError as exc:
        raise _DownloadFailed(f"I/O error: {exc}") from None
    if length is not None and length.isdigit() and received != int(length):
        raise _DownloadFailed(f"truncated: expected {length} bytes, got {received}")
    return digest.hexdigest()
