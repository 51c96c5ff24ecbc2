"""Mutations of a real export: each takes the file's bytes and a random generator and returns
the damaged bytes and what a correct reader may do with them.

``expect`` is the oracle the runner applies when the read *succeeds* without a warning:

* ``"valid"``: only the contract (validate_spectrum, already run by ``read_spectra``).
* ``"same"``: the spectra must hold exactly the original points (re-encoding, line endings:
  the data did not change, so neither may the values).
* ``"subset"``: every point read must be an original point, and at most ``lost`` fewer (a line
  deleted or duplicated, a file truncated: values shifted into other fields, or rows lost
  beyond the damaged one, are silent value changes).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from eis_pipeline.io.text import decode


@dataclass(frozen=True)
class Mutant:
    kind: str
    data: bytes
    expect: str = "valid"
    lost: int | None = None  # "subset": most points the read may lose (None: any)


def _is_text(data: bytes) -> bool:
    head = data[:4096]
    return b"\x00" not in head or data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def truncate(data: bytes, rng: np.random.Generator) -> Mutant:
    cut = int(rng.integers(1, max(2, len(data))))
    # Cut at a row boundary the file reads as a shorter table: points lost, none invented,
    # except the row the cut went through (its last number may be shortened).
    return Mutant("truncate", data[:cut], "subset", None)


def byte_flips(data: bytes, rng: np.random.Generator) -> Mutant:
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        buf[int(rng.integers(0, len(buf)))] = int(rng.integers(0, 256))
    return Mutant("byte_flip", bytes(buf))


def delete_line(data: bytes, rng: np.random.Generator) -> Mutant | None:
    if not _is_text(data):
        return None  # a binary layout has no lines; truncation and byte flips cover it
    lines = _lines(data)
    k = int(rng.integers(0, len(lines)))
    return Mutant("delete_line", b"".join(lines[:k] + lines[k + 1:]), "subset", 1)


def duplicate_line(data: bytes, rng: np.random.Generator) -> Mutant | None:
    if not _is_text(data):
        return None
    lines = _lines(data)
    k = int(rng.integers(0, len(lines)))
    return Mutant("duplicate_line", b"".join(lines[:k + 1] + lines[k:]), "subset", 0)


def corrupt_header(data: bytes, rng: np.random.Generator) -> Mutant:
    lines = _lines(data)
    k = int(rng.integers(0, min(len(lines), 40)))
    junk = bytes(rng.integers(0, 256, int(rng.integers(1, 60)), dtype=np.uint8))
    return Mutant("corrupt_header", b"".join([*lines[:k], junk + b"\n", *lines[k + 1:]]))


_HUGE = (b"9", b" ", b"\t", b"a : ", b"1.0 ", b"1,5;", b"Freq ", b"<", b"=", b"\"")


def huge_line(data: bytes, rng: np.random.Generator) -> Mutant:
    lines = _lines(data)
    k = int(rng.integers(0, min(len(lines), 40) + 1))
    unit = _HUGE[int(rng.integers(0, len(_HUGE)))]
    line = unit * (int(rng.integers(10_000, 200_000)) // len(unit)) + b"\n"
    return Mutant("huge_line", b"".join([*lines[:k], line, *lines[k:]]))


_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252")


def reencode(data: bytes, rng: np.random.Generator) -> Mutant | None:
    if not _is_text(data):
        return None
    text = decode(data)
    enc = _ENCODINGS[int(rng.integers(0, len(_ENCODINGS)))]
    try:
        out = text.encode(enc)
    except UnicodeEncodeError:
        return None
    return Mutant(f"encoding_{enc}", out, "same")


_EOL = re.compile(rb"\r\n|\r|\n")


def line_endings(data: bytes, rng: np.random.Generator) -> Mutant | None:
    if b"\x00" in data[:4096]:
        return None
    eol = (b"\n", b"\r\n", b"\r")[int(rng.integers(0, 3))]
    return Mutant("eol_" + {b"\n": "LF", b"\r\n": "CRLF", b"\r": "CR"}[eol],
                  _EOL.sub(eol, data), "same")


_TOKEN = re.compile(rb"[+-]?\d+\.\d+(?:[eE][+-]?\d+)?")
_SPECIAL = (b"NaN", b"nan", b"inf", b"-inf", b"1e308", b"-1e308", b"0", b"-0.0", b"1e-320")


def special_number(data: bytes, rng: np.random.Generator) -> Mutant | None:
    tokens = [m.span() for m in _TOKEN.finditer(data)]
    if not tokens:
        return None
    a, b = tokens[int(rng.integers(0, len(tokens)))]
    value = _SPECIAL[int(rng.integers(0, len(_SPECIAL)))]
    return Mutant("special_number", data[:a] + value + data[b:])


def swap_fields(data: bytes, rng: np.random.Generator) -> Mutant | None:
    lines = _lines(data)
    k = int(rng.integers(0, len(lines)))
    sep = b"\t" if b"\t" in lines[k] else b","
    fields = lines[k].split(sep)
    if len(fields) < 3:
        return None
    i, j = sorted(rng.choice(len(fields) - 1, 2, replace=False).tolist())
    fields[i], fields[j] = fields[j], fields[i]
    return Mutant("swap_fields", b"".join([*lines[:k], sep.join(fields), *lines[k + 1:]]))


MUTATIONS: tuple[Callable[[bytes, np.random.Generator], Mutant | None], ...] = (
    truncate, byte_flips, delete_line, duplicate_line, corrupt_header, huge_line, reencode,
    line_endings, special_number, swap_fields)
