"""Shared helpers for text exports: decoding, line splitting and numeric tables.

Instrument software writes latin-1/cp1252, UTF-8 with or without BOM and UTF-16; line endings
LF, CRLF, CR or a mix; decimal points or commas. Importers read text through these helpers so
those traps are handled once, and parse errors always name the file and the 1-based line.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from eis_pipeline.exceptions import ParseError


def decode(data: bytes) -> str:
    """Decode instrument text: BOMs first, then UTF-16 without BOM, UTF-8, cp1252/latin-1.

    Examples
    --------
    >>> decode("µ".encode("cp1252"))
    'µ'
    >>> decode(codecs.BOM_UTF8 + b"Freq")
    'Freq'
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    head = data[:4096]
    if len(head) >= 4 and head.count(0) > len(head) // 3:
        # ASCII text in UTF-16 without a BOM: every other byte is zero.
        le = head[1::2].count(0) > head[0::2].count(0)
        return data.decode("utf-16-le" if le else "utf-16-be", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # cp1252 where defined, latin-1 for its five undefined bytes: never fails. An error
        # handler keeps this in the C codec (a regex split first was ~8x slower on 1.6 MB).
        return data.decode("cp1252", errors=_LATIN1_FALLBACK)


#: Inputs up to this size (the registry's sniff head) are remembered by :func:`decode_cached`.
CACHED_DECODE_BYTES = 64 * 1024


def decode_cached(data: bytes) -> str:
    """:func:`decode`, remembered for the last few inputs of at most
    :data:`CACHED_DECODE_BYTES`: detection decodes a small file's bytes (its whole head) for
    the sniffers, and the importer then asks for the same text again."""
    if len(data) > CACHED_DECODE_BYTES:
        return decode(data)
    return _decode_small(data)


@lru_cache(maxsize=4)
def _decode_small(data: bytes) -> str:
    return decode(data)


def _latin1_for_undefined(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: decode the bytes cp1252 leaves undefined as latin-1."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start:exc.end].decode("latin-1"), exc.end


_LATIN1_FALLBACK = "eis_pipeline.latin1_fallback"
codecs.register_error(_LATIN1_FALLBACK, _latin1_for_undefined)


def read_text(path: str | Path) -> str:
    """Read and decode a whole text file."""
    return decode(Path(path).read_bytes())


def read_lines(path: str | Path) -> list[str]:
    """Read a text file as lines, whatever the line endings (LF, CRLF, CR or mixed)."""
    return read_text(path).splitlines()


_COMMA_DECIMAL = re.compile(r"^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$")


def looks_decimal_comma(token: str) -> bool:
    """True for a number written with a decimal comma, such as ``'1,5E+03'``."""
    return bool(_COMMA_DECIMAL.match(token.strip()))


def parse_float(token: str, *, path: str | Path | None = None, line: int | None = None,
                what: str = "a number") -> float:
    """Parse one number, accepting a decimal comma; raise :class:`ParseError` otherwise."""
    text = token.strip()
    if looks_decimal_comma(text):
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        raise ParseError(f"expected {what}, found {token.strip()!r}", path, line) from None


def parse_table(
    lines: Sequence[str],
    *,
    path: str | Path | None,
    first_line: int,
    delimiter: str | None = None,
    decimal: str = ".",
    ncols: int | None = None,
    exact: bool = False,
) -> np.ndarray:
    """Parse rows of numbers into a 2-D float64 array, vectorised, with exact error lines.

    numpy's C tokenizer (:func:`numpy.loadtxt`) converts the whole block at once (about 20x
    faster than a per-field loop on long tables). On anything it cannot read exactly (a short
    row, a bad field, a blank line it would skip) the block is parsed again row by row, whose
    :class:`ParseError` names the line and the field. Every importer's numeric table goes
    through here.

    Parameters
    ----------
    lines : sequence of str
        The data rows only.
    path : path or None
        File name for error messages.
    first_line : int
        1-based line number of ``lines[0]`` in the file, for error messages.
    delimiter : str or None
        Column separator; None splits on runs of whitespace.
    decimal : {'.', ','}
        Decimal separator.
    ncols : int, optional
        Expected number of columns; default: the number in the first row. Fields past
        ``ncols`` are ignored unless ``exact``.
    exact : bool
        Every row must have exactly ``ncols`` fields (a longer row is an error too).

    Raises
    ------
    ParseError
        On a short (or, with ``exact``, long) row or a field that is not a number, naming the
        line and the field.

    Examples
    --------
    >>> parse_table(["1,5;2", "3;4,25"], path=None, first_line=1, delimiter=";",
    ...             decimal=",")
    array([[1.5 , 2.  ],
           [3.  , 4.25]])
    """
    if not lines:
        return np.empty((0, ncols or 0))
    if ncols is None:
        ncols = len(_fields(lines[0], delimiter))
    # numpy cannot tell a decimal comma from a comma delimiter, and takes one-character
    # delimiters only: those cases take the row loop.
    if not (decimal == "," and delimiter == ",") and (delimiter is None or len(delimiter) == 1):
        block = [s.replace(",", ".") for s in lines] if decimal == "," else list(lines)
        try:
            table = np.loadtxt(block, dtype=np.float64, delimiter=delimiter, comments=None,
                               usecols=None if exact else range(ncols), ndmin=2,
                               encoding=None)
        except ValueError:
            pass
        else:
            if table.shape == (len(lines), ncols):
                return table
    return _parse_rows(lines, path=path, first_line=first_line, delimiter=delimiter,
                       decimal=decimal, ncols=ncols, exact=exact)


def _fields(raw: str, delimiter: str | None) -> list[str]:
    fields = raw.split(delimiter) if delimiter is not None else raw.split()
    if delimiter is not None and delimiter.strip() == "":
        fields = [f for f in fields if f.strip() != ""]
    return fields


def _parse_rows(lines: Sequence[str], *, path: str | Path | None, first_line: int,
                delimiter: str | None, decimal: str, ncols: int, exact: bool) -> np.ndarray:
    """The row-by-row parser behind :func:`parse_table`: slow, but names the bad field."""
    rows: list[list[float]] = []
    for i, raw in enumerate(lines):
        lineno = first_line + i
        fields = _fields(raw, delimiter)
        if len(fields) < ncols or (exact and len(fields) > ncols):
            raise ParseError(
                f"expected {ncols} columns, found {len(fields)} (truncated or malformed row)",
                path, lineno)
        row = []
        for j, field in enumerate(fields[:ncols]):
            text = field.strip()
            if decimal == ",":
                text = text.replace(",", ".")
            try:
                row.append(float(text))
            except ValueError:
                raise ParseError(f"expected a number in column {j + 1}, found {field.strip()!r}",
                                 path, lineno) from None
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), ncols)
