"""One input file read once: its path, its bytes, and what is derived from them on demand.

:func:`eis_pipeline.io.registry.read_spectra` used to open a file three times (the sniff head
for detection, the whole file for the importer, again for the SHA-256). It now reads the
bytes once into a :class:`Source` and hands that to detection, hashing and the importer. The
importer also parses exactly the bytes that were hashed, so ``source_sha256`` always describes
the data behind the spectra, even when the file changes while it is being read.
"""

from __future__ import annotations

import hashlib
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
        return cls(path, path.read_bytes())

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
