"""Atomic replacement of a file: write to a temporary file beside it, rename over it.

Every file the project writes goes through here: :func:`replacing` for a file written in
one go (exports, figures, CSV, fit files), the pieces for the streaming results writer.

The temporary file is in the destination folder (so the rename stays on one file system) and
named after the destination and the writer's pid, so that the temporary files of writers that
were killed can be recognised and deleted by the next writer. ``os.replace`` is atomic on
POSIX and Windows: a crash or a kill during the write leaves the previous file untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["TMP_SUFFIX", "fsync", "fsync_dir", "remove_stale_temps", "replacing", "temp_path"]

TMP_SUFFIX = ".tmp"


def temp_path(path: Path) -> Path:
    """A new, empty temporary file beside ``path`` (``.<name>.<pid>.<random>.tmp``)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX,
                                dir=path.parent)
    os.close(fd)
    return Path(name)


def remove_stale_temps(path: Path) -> None:
    """Delete temporary files left by writers of ``path`` that were killed (pid gone)."""
    if os.name != "posix":   # os.kill(pid, 0) probes a process only on POSIX
        return
    for tmp in path.parent.glob(f".{path.name}.*{TMP_SUFFIX}"):
        try:
            pid = int(tmp.name[len(path.name) + 2:].split(".", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                tmp.unlink()
        except OSError:   # exists but not ours (PermissionError): leave it alone
            continue


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
