"""The importer registry: discovery, format detection by content, and ``read_spectra``.

Built-in importers are the modules of :mod:`eis_pipeline.io.importers`, each exposing
``IMPORTERS`` (a sequence of :class:`Importer`). Third-party packages add importers through
the entry-point group ``eis_pipeline.importers``, whose entries load an :class:`Importer`
(or a sequence of them).

Detection asks every importer's ``sniff`` for a confidence in [0, 1] from the file's first
bytes; the best wins, with a matching suffix breaking ties. ``sniff`` must not raise, and
errors from ``read`` are never swallowed.

:func:`read_spectra` reads a file's bytes once (a :class:`~eis_pipeline.io.source.Source`)
and shares them between detection, the importer and the SHA-256.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

import xarray as xr

from eis_pipeline.conventions import validate_spectrum
from eis_pipeline.exceptions import FormatError, ParseError, UnknownFormatError
from eis_pipeline.io.source import Source

ENTRY_POINT_GROUP = "eis_pipeline.importers"
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class Importer:
    """One file format.

    Attributes
    ----------
    name : str
        Short lower-case id used as ``format=`` (e.g. ``"biologic-mpt"``).
    description : str
        One line for ``eis-pipeline formats``.
    suffixes : tuple of str
        Lower-case file suffixes, with the dot (e.g. ``(".mpt",)``).
    sniff : callable (path, head) -> float
        Confidence in [0, 1] that the file is this format, from its first bytes ``head``
        (up to 64 KiB). 0 means "certainly not"; must not raise.
    read : callable (path) -> list of xarray.Dataset
        One dataset per sweep, built with :func:`eis_pipeline.conventions.make_spectrum`.
        Raises :class:`FormatError`/:class:`ParseError` with file and line on bad content.
    read_source : callable (Source) -> list of xarray.Dataset, optional
        The same as ``read``, from a :class:`~eis_pipeline.io.source.Source` holding the
        bytes :func:`read_spectra` has already read. When given, :func:`read_spectra` calls it
        instead of ``read``, so the file is read from disk once; without it ``read`` gets the
        path and opens the file again. Built-in importers pass one function for both (it
        takes either, through :meth:`Source.of <eis_pipeline.io.source.Source.of>`).
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    sniff: Callable[[Path, bytes], float]
    read: Callable[[Path], list[xr.Dataset]]
    read_source: Callable[[Source], list[xr.Dataset]] | None = None

    def read_from(self, source: Source) -> list[xr.Dataset]:
        """Parse ``source``: with ``read_source`` when the importer has one, else ``read``."""
        if self.read_source is not None:
            return self.read_source(source)
        return self.read(source.path)


def _as_importers(obj: object, origin: str) -> list[Importer]:
    items = list(obj) if isinstance(obj, Sequence) else [obj]
    for item in items:
        if not isinstance(item, Importer):
            raise TypeError(f"{origin} provides {item!r}, not an eis_pipeline Importer")
    return items  # type: ignore[return-value]


@cache
def _registry() -> dict[str, Importer]:
    from eis_pipeline.io import importers as package

    found: dict[str, Importer] = {}

    def add(items: list[Importer], origin: str) -> None:
        for imp in items:
            if imp.name in found:
                raise RuntimeError(f"importer name {imp.name!r} from {origin} is already taken")
            found[imp.name] = imp

    for mod in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{mod.name}")
        add(_as_importers(module.IMPORTERS, module.__name__), module.__name__)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        add(_as_importers(ep.load(), f"entry point {ep.name!r}"), ep.value)
    return found


def importers() -> dict[str, Importer]:
    """All registered importers by name."""
    return dict(_registry())


def list_formats() -> list[dict[str, object]]:
    """Importer names, suffixes and descriptions, sorted by name.

    Examples
    --------
    >>> any(f["name"] == "biologic-mpt" for f in list_formats())
    True
    """
    return [{"name": imp.name, "suffixes": list(imp.suffixes), "description": imp.description}
            for imp in sorted(_registry().values(), key=lambda i: i.name)]


def get_importer(name: str) -> Importer:
    """The importer called ``name``; :class:`UnknownFormatError` lists the valid names."""
    try:
        return _registry()[name]
    except KeyError:
        raise UnknownFormatError(
            f"unknown format {name!r}; valid formats: {', '.join(sorted(_registry()))}"
        ) from None


def detect_format(path: str | Path) -> Importer:
    """Choose the importer for ``path`` from its content (suffix only breaks ties)."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    return _detect(path, head)


def _detect(path: Path, head: bytes) -> Importer:
    """:func:`detect_format` on a head already read (at most :data:`SNIFF_BYTES` bytes)."""
    if not head:
        raise FormatError(f"{path}: file is empty; expected an impedance export")
    suffix = path.suffix.lower()
    scored = []
    for imp in _registry().values():
        score = float(imp.sniff(path, head))
        if score > 0:
            scored.append((score + (0.01 if suffix in imp.suffixes else 0.0), imp.name))
    if not scored:
        by_suffix = [i.name for i in _registry().values() if suffix in i.suffixes]
        hint = (f" Its suffix {suffix!r} suggests {', '.join(by_suffix)}, but the content does "
                "not match: is it an impedance export, complete and unmodified?"
                if by_suffix else " Pass format=... (CLI: --format) if you know the format.")
        raise UnknownFormatError(
            f"{path}: no importer recognises this file as impedance data.{hint} "
            "`eis-pipeline formats` lists the supported formats.")
    scored.sort(reverse=True)
    return _registry()[scored[0][1]]


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (streamed: for files not otherwise read whole)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _forced_format_hint(exc: FormatError, source: Source, forced: Importer) -> FormatError:
    """``exc`` with a hint when the content looks like another format than the forced one."""
    try:
        detected = _detect(source.path, source.data[:SNIFF_BYTES])
    except FormatError:
        return exc
    if detected.name == forced.name:
        return exc
    hint = (f" (format={forced.name!r} was forced, but the content looks like "
            f"{detected.name!r}: drop --format / format= to detect it)")
    if isinstance(exc, ParseError):
        return ParseError(exc.reason + hint, exc.path, exc.line)
    return type(exc)(f"{exc}{hint}")


def _closest_reason(source: Source) -> str | None:
    """Why the importer that got furthest into an undetected file refused it.

    Only importers claiming the file's suffix are tried (reading is their job, not the
    sniffer's, so this runs only when detection has already failed). The one that got
    furthest is the one whose error names the latest line; an error without a line (the
    format's own verdict on the whole file, e.g. Gamry's "no ZCURVE table") counts as read to
    the end.
    """
    suffix = source.path.suffix.lower()
    reasons: list[tuple[int, str]] = []
    for imp in _registry().values():
        if suffix not in imp.suffixes:
            continue
        try:
            imp.read_from(source)
        except FormatError as exc:
            line = exc.line if isinstance(exc, ParseError) and exc.line else 1 << 30
            reasons.append((line, f"{imp.name}: {str(exc).removeprefix(f'{source.path}: ')}"))
        except Exception:
            continue
    return max(reasons)[1] if reasons else None


def read_spectra(path: str | Path, format: str | None = None) -> list[xr.Dataset]:
    """Read every impedance sweep in ``path``.

    Parameters
    ----------
    path : str or Path
        An instrument export.
    format : str, optional
        Importer name (see :func:`list_formats`); detected from the content when None.

    Returns
    -------
    list of xarray.Dataset
        One canonical spectrum per sweep (DESIGN.md section 4), with attributes ``source``,
        ``source_sha256`` and ``source_format`` set.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    FormatError
        If the content is not impedance data of the chosen format; the message names the
        file and, where it can, the line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    importer = get_importer(format) if format is not None else None
    source = Source.of(path)  # the only read of the file (unless a plugin lacks read_source)
    if importer is None:
        try:
            importer = _detect(path, source.data[:SNIFF_BYTES])
        except UnknownFormatError as exc:
            closest = _closest_reason(source)
            if closest is None:
                raise
            raise UnknownFormatError(f"{exc} Closest: {closest}") from None
    try:
        spectra = importer.read_from(source)
    except FormatError as exc:
        if format is not None:
            raise _forced_format_hint(exc, source, importer) from exc
        raise
    except (IndexError, KeyError, UnicodeDecodeError, ValueError, OverflowError,
            struct.error) as exc:
        # An importer bug or an input it did not foresee: still name the file and the format.
        raise ParseError(f"could not read as {importer.name}: {type(exc).__name__}: {exc}",
                         path) from exc
    if not spectra:
        raise FormatError(f"{path}: read as {importer.name}, but it holds no impedance data "
                          "points (empty table, or an aborted measurement)")
    digest = source.sha256
    for ds in spectra:
        ds.attrs.update({"source": str(path), "source_sha256": digest,
                         "source_format": importer.name})
        validate_spectrum(ds, require_attrs=True)
    return spectra
