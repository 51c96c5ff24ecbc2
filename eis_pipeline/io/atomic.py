"""Atomic replacement of a file: write to a temporary file beside it, rename over it.

Every file the project writes goes through here: :func:`replacing` for a file written in
one go (exports, figures, CSV, fit files), the pieces for the streaming results writer.

The temporary file is in the destination folder (so the rename stays on one file system) and
named ``.<destination name>.~eis<host>-<pid>.<random>.tmp``: the next run recognises the
temporary files of writers that were killed (same host, process gone) and deletes them
(:func:`remove_stale_temps`). ``os.replace`` is atomic on POSIX and Windows: a crash or a kill
during the write leaves the previous file untouched.

Files are created with the permissions of any new file (``0o666`` less the umask: ``0644``
under the usual umask 022), not the owner-only ``0600`` of :func:`tempfile.mkstemp`, so that
a results folder shared with colleagues stays readable.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

__all__ = ["TMP_SUFFIX", "fsync", "fsync_dir", "is_temp", "remove_stale_temps", "replacing",
           "temp_path"]

TMP_SUFFIX = ".tmp"
#: the part of a destination name kept in its temporary file's name (a name has 255 bytes)
_NAME_CHARS = 80
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_TEMP = re.compile(r"\.~eis(?P<host>[0-9a-f]{8})-(?P<pid>\d+)\.[0-9a-f]+\.tmp$")


def temp_path(path: Path) -> Path:
    """A new, empty temporary file beside ``path``, created with the usual permissions."""
    stem = path.name[:_NAME_CHARS]
    for _ in range(100):
        tmp = path.parent / f".{stem}.~eis{_HOST}-{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}"
        try:
            # O_EXCL: never an existing file; mode 0o666 & ~umask, as open() gives any file
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{path.parent}: no free temporary file name")  # pragma: no cover


def is_temp(path: Path) -> bool:
    """Whether ``path`` is named as one of :func:`temp_path`'s temporary files."""
    return _TEMP.search(path.name) is not None


def remove_stale_temps(where: Path, *, recursive: bool = False) -> int:
    """Delete the temporary files left in folder ``where`` (or beside file ``where``) by
    writers on this host that were killed (process gone); returns how many.

    A live writer's files, and another host's (a shared network folder), are left alone.
    """
    folder = where if where.is_dir() else where.parent
    if os.name != "posix" or not folder.is_dir():   # os.kill(pid, 0) probes only on POSIX
        return 0
    removed = 0
    for tmp in folder.rglob("*.tmp") if recursive else folder.glob("*.tmp"):
        match = _TEMP.search(tmp.name)
        if match is None or match["host"] != _HOST or int(match["pid"]) == os.getpid():
            continue
        try:
            os.kill(int(match["pid"]), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed += 1
        except (OSError, OverflowError):   # alive but not ours, or not a pid: leave it
            continue
    return removed


def fsync(path: Path) -> None:
    """Flush ``path``'s content to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Flush ``folder``'s entries (a rename) to disk, where the OS allows it."""
    if os.name != "posix":   # directories cannot be opened for fsync on Windows
        return
    with contextlib.suppress(OSError):
        fsync(folder)


@contextlib.contextmanager
def replacing(path: str | Path, *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; on leaving the block normally it
    is renamed over ``path`` (flushed to disk first when ``durable``), on an exception it is
    deleted and ``path`` is untouched. The destination folder is created if missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        if durable:
            fsync(tmp)
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
