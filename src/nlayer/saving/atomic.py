"""Writing a file so that a crash at any moment leaves either the old file or the new one."""

import csv
import io
import os
import tempfile

__all__ = ["write_atomically", "write_bytes", "write_text", "csv_text", "write_csv",
           "save_figure"]

_TMP_SUFFIX = ".tmp"


def write_atomically(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, then put it in place.

    The sequence that survives a crash or power loss at any moment: write the
    temporary file, flush and ``fsync`` it, ``os.replace`` it over ``path`` and
    ``fsync`` the folder. Until the replace, ``path`` keeps its previous content.
    Temporary files that killed writes left behind are removed after a success.
    A failure (disk full, no permission) raises OSError saying the previous file
    is intact.
    """
    path = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(path)
    prefix = f".{name}."
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=_TMP_SUFFIX, dir=directory)
        os.fchmod(fd, 0o666 & ~_umask())  # the permissions open() would give, not mkstemp's 0600
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_directory(directory)
    except OSError as exc:
        intact = "the previous file is intact" if os.path.exists(path) else "nothing was written"
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}; {intact}") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    _remove_stale_temporaries(directory, prefix)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temporaries(directory, prefix):
    """Temporary files of ``path`` left by writes that were killed (one writer per path)."""
    for entry in os.scandir(directory):
        if entry.name.startswith(prefix) and entry.name.endswith(_TMP_SUFFIX) and entry.is_file():
            try:
                os.unlink(entry.path)
            except OSError:
                pass  # another cleanup got there first


def write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically (see :func:`write_atomically`)."""
    write_atomically(path, lambda fh: fh.write(data))


def write_text(path, text, encoding="utf-8"):
    """Write ``text`` to ``path`` atomically, as ``Path.write_text`` would (no newline
    translation: what is given is what is stored)."""
    write_bytes(path, text.encode(encoding))


def csv_text(header, rows, lineterminator="\r\n"):
    """CSV text in the csv module's dialect: the header row, then the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=lineterminator)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(path, header, rows, lineterminator="\r\n"):
    """A CSV file (the csv module's dialect) written atomically."""
    write_text(path, csv_text(header, rows, lineterminator))


def save_figure(fig, path, **options):
    """``fig.savefig(path, **options)`` atomically: the format follows the file's suffix."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=os.path.splitext(os.fspath(path))[1].lstrip(".") or None, **options)
    write_bytes(path, buffer.getvalue())
