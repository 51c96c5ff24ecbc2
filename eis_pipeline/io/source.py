"""One input file read once: its path, its bytes, and what is derived from them on demand.

:func:`eis_pipeline.io.registry.read_spectra` used to open a file three times (the sniff head
for detection, the whole file for the importer, again for the SHA-256). It now reads the
bytes once into a :class:`Source` and hands that to detection, hashing and the importer. The
importer also parses exactly the bytes that were hashed, so ``source_sha256`` always describes
the data behind the spectra, even when the file changes while it is being read.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from eis_pipeline.io.text import decode_cached


@dataclass(frozen=True, eq=False)
class Source:
    """A file's path and bytes; decoded text and SHA-256 computed lazily, at most once.

    Attributes
    ----------
    path : Path
        Where the bytes came from (for error messages and provenance).
    data : bytes
        The whole file.

    Examples
    --------
    >>> src = Source(Path("cell.txt"), b"f\\tZ'\\r\\n1\\t2\\r\\n")
    >>> src.lines()
    ["f\\tZ'", '1\\t2']
    >>> len(src.sha256)
    64
    """

    path: Path
    data: bytes

    @classmethod
    def of(cls, path_or_source: str | Path | Source) -> Source:
        """``path_or_source`` itself when it is a :class:`Source`, else the file read once.

        Importers call this first, so they accept either a path (the public ``read(path)``
        API, still used directly) or the registry's already-read source.
        """
        if isinstance(path_or_source, Source):
            return path_or_source
        path = Path(path_or_source)
        return cls(path, read_bytes(path))

    @cached_property
    def text(self) -> str:
        """The bytes decoded with :func:`eis_pipeline.io.text.decode` (BOMs, UTF-16, cp1252)."""
        return decode_cached(self.data)   # a small file: decoded once, for detection

    def lines(self) -> list[str]:
        """The decoded text split into lines, whatever the line endings; a fresh list."""
        return self.text.splitlines()

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of :attr:`data`, the file's provenance hash."""
        return hashlib.sha256(self.data).hexdigest()


def read_bytes(path: Path) -> bytes:
    """``path.read_bytes()`` through the file descriptor directly: no buffered file object
    (half the cost of opening a small export). Raises the same ``OSError``s."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        # One read of the size fstat reports (plus one byte, to see the end), then more
        # until the end, should the file be growing or fstat not know its size.
        chunks = [os.read(fd, os.fstat(fd).st_size + 1)]
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 20))
    finally:
        os.close(fd)
    return b"".join(chunks) if len(chunks) > 2 else chunks[0]
