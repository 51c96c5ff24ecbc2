"""The importer registry: discovery, format detection by content, and ``read_spectra``.

Built-in importers are the modules of :mod:`eis_pipeline.io.importers`, each exposing
``IMPORTERS`` (a sequence of :class:`Importer`). Third-party packages add importers through
the entry-point group ``eis_pipeline.importers``, whose entries load an :class:`Importer`
(or a sequence of them).

Detection asks every importer's ``sniff`` for a confidence in [0, 1] from the file's first
bytes (at most :data:`SNIFF_BYTES`, so detection time is bounded whatever the file size);
the best wins, with a matching suffix breaking ties. ``sniff`` must not raise (one that does
scores 0, with a warning). Errors from ``read`` are never swallowed: anything that is not
already an :class:`~eis_pipeline.exceptions.EisError` becomes a ``ParseError`` naming the
file, and a plugin that fails to load is a warning, not a broken registry.

:func:`read_spectra` reads a file's bytes once (a :class:`~eis_pipeline.io.source.Source`)
and shares them between detection, the importer and the SHA-256.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import pkgutil
import stat
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import xarray as xr

from eis_pipeline.conventions import validate_spectrum
from eis_pipeline.exceptions import (
    EisError,
    EisWarning,
    FormatError,
    InputFileError,
    MissingFileError,
    ParseError,
    UnknownFormatError,
)
from eis_pipeline.io import importers as package
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
    max_score : float
        The highest score ``sniff`` ever returns (default 1). Detection asks the importers in
        decreasing ``max_score`` (plus the suffix bonus) and skips one that cannot beat the
        best score already found:
        a generic format whose sniffer is slow and scores low (generic CSV) is then sniffed
        only for files no vendor format claims. The choice is the same as sniffing all.
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    sniff: Callable[[Path, bytes], float]
    read: Callable[[Path], list[xr.Dataset]]
    read_source: Callable[[Source], list[xr.Dataset]] | None = None
    max_score: float = 1.0

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


def _plugin_importers(ep: EntryPoint) -> list[Importer]:
    """The importers of one entry point; a plugin that fails to load is a warning, not fatal.

    A broken third-party package (an import error, a wrong object) must not take every
    built-in format down with it: its formats are left out and the warning says why.
    """
    origin = f"importer plugin {ep.name!r} ({ep.value})"
    try:
        return _as_importers(ep.load(), origin)
    except Exception as exc:  # any failure inside third-party code
        warnings.warn(f"{origin} could not be loaded and is skipped: {type(exc).__name__}: "
                      f"{exc}. Fix or uninstall the package that provides it.", EisWarning,
                      stacklevel=3)
        return []


@cache
def _registry() -> dict[str, Importer]:

    found: dict[str, Importer] = {}
    for mod in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{mod.name}")
        for imp in _as_importers(module.IMPORTERS, module.__name__):
            if imp.name in found:
                raise RuntimeError(f"importer name {imp.name!r} of {module.__name__} is "
                                   "already taken")
            found[imp.name] = imp
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        for imp in _plugin_importers(ep):
            if imp.name in found:
                warnings.warn(f"importer plugin {ep.name!r} ({ep.value}) provides "
                              f"{imp.name!r}, a name already taken; that importer is skipped. "
                              "Rename it in the plugin.", EisWarning, stacklevel=2)
                continue
            found[imp.name] = imp
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
    check_input_file(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise InputFileError(f"cannot be read ({exc.strerror or exc})", path) from None
    return _detect(path, head)


def _detect(path: Path, head: bytes) -> Importer:
    """:func:`detect_format` on a head already read (at most :data:`SNIFF_BYTES` bytes)."""
    if not head:
        raise FormatError(f"{path}: file is empty; expected an impedance export")
    suffix = path.suffix.lower()
    scored = []
    best = 0.0
    for imp in _by_best_possible(suffix):
        bonus = 0.01 if suffix in imp.suffixes else 0.0
        if min(imp.max_score, 1.0) + bonus < best:
            continue   # cannot win, nor tie (ties go by name below)
        score = _sniff(imp, path, head)
        if score > 0:
            scored.append((score + bonus, imp.name))
            best = max(best, score + bonus)
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


def _by_best_possible(suffix: str) -> list[Importer]:
    """The importers in decreasing best possible score for a file with ``suffix``
    (:attr:`Importer.max_score` plus the suffix bonus): the order detection asks them.

    Asking first the importers that can score most lets detection skip the most: an
    ``.mpr`` is claimed by its binary sniffer before any text sniffer decodes 64 KiB of
    binary. The choice does not depend on the order (the best score wins, ties by name).
    """
    table = _registry()
    cached = _ORDER.get(suffix)
    # the same registry (and as many importers: one added in place is seen): the same order
    if cached is not None and cached[0] is table and len(cached[1]) == len(table):
        return cached[1]

    def best(imp: Importer) -> float:
        return min(imp.max_score, 1.0) + (0.01 if suffix in imp.suffixes else 0.0)
    order = sorted(table.values(), key=lambda imp: -best(imp))
    if len(_ORDER) < 64:   # bounded: suffixes are few, but a folder could hold any
        _ORDER[suffix] = (table, order)
    return order


#: suffix -> (the registry it was computed for, the importers in detection order): sorting
#: the importers per file was a fifth of detection's cost.
_ORDER: dict[str, tuple[dict[str, Importer], list[Importer]]] = {}


def _sniff(imp: Importer, path: Path, head: bytes) -> float:
    """``imp.sniff(path, head)`` as a score in [0, 1]; a sniffer that raises scores 0.

    A sniffer must not raise, but one that does (a plugin, or a bug met by odd input) must
    not stop detection for every other format: it is reported as a warning instead.
    """
    try:
        score = float(imp.sniff(path, head))
    except Exception as exc:  # a sniffer's bug, not the file's fault
        warnings.warn(f"{path}: the {imp.name!r} sniffer raised {type(exc).__name__}: {exc}; "
                      "treated as not matching (please report this file)", EisWarning,
                      stacklevel=3)
        return 0.0
    return min(score, 1.0) if score > 0 else 0.0  # NaN scores nothing


def check_input_file(path: Path) -> None:
    """Refuse, with a message that says why, a path that is not a readable regular file.

    A FIFO or a device would block or never end, a directory is a folder run, and a symlink
    loop or a permission problem is not "no such file".
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise InputFileError("is a broken symbolic link (its target does not exist)",
                                 path) from None
        raise MissingFileError("no such file; check the path (relative paths start in "
                               f"{Path.cwd()})", path) from None
    except OSError as exc:
        reason = ("is a symbolic link loop" if exc.errno == errno.ELOOP
                  else f"cannot be opened ({exc.strerror or exc})")
        raise InputFileError(reason, path) from None
    if stat.S_ISDIR(mode):
        raise InputFileError("is a directory, not a file; pass one export, or run the folder "
                             "with `eis-pipeline run DIR`", path)
    if not stat.S_ISREG(mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
                "a socket" if stat.S_ISSOCK(mode) else "a device")
        raise InputFileError(f"is {kind}, not a regular file; copy the export to a file "
                             "first", path)


def _read_source(path: Path) -> Source:
    try:
        return Source.of(path)
    except OSError as exc:
        raise InputFileError(f"cannot be read ({exc.strerror or exc})", path) from None


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
    MissingFileError
        If ``path`` does not exist (also a :class:`FileNotFoundError`).
    InputFileError
        If ``path`` is a directory, FIFO, device, symlink loop or cannot be read.
    FormatError
        If the content is not impedance data of the chosen format; the message names the
        file and, where it can, the line. Every other exception an importer raises is
        re-raised as a :class:`ParseError` naming the file, with the original chained.
    SpectrumError
        If a spectrum breaks the contract (:func:`~eis_pipeline.conventions.validate_spectrum`).
    """
    path = Path(path)
    check_input_file(path)
    importer = get_importer(format) if format is not None else None
    source = _read_source(path)  # the only read (unless a plugin lacks read_source)
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
    except EisError:
        raise
    except Exception as exc:
        # An importer bug or an input it did not foresee (IndexError, struct.error,
        # RecursionError, MemoryError...): still an EisError naming the file and the format,
        # with the original exception chained for the report.
        raise ParseError(f"could not read as {importer.name}: {type(exc).__name__}: {exc} "
                         "(an input the importer did not foresee; please report this file)",
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
