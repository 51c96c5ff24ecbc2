"""BioLogic EC-Lab binary raw file (``.mpr``).

Layout (little-endian throughout; learned from the shared ``.mpr``/``.mpt`` pairs and public
descriptions of the format; the code is this project's own):

* 52-byte file header: ``BIO-LOGIC MODULAR FILE``, 0x1A, spaces to byte 48, four zero bytes.
* Then modules back to back, each ``MODULE`` + short name (10 bytes) + long name (25 bytes)
  + either ``length u32, version u32, date 8s`` (classic header), or, from EC-Lab 11.50,
  ``0xFFFFFFFF, length u32, version u32, format u32, date 8s`` (extended header) + body.
* ``VMP data``: ``n_points u32``, the column count and the column ids, zero padding to a fixed
  offset, then ``n_points`` packed records (columns in id order, see
  :mod:`._biologic_mpr_columns`). Count width and data offset depend on the version:

  ====================  ============  ===========  ===========
  header / version       count         ids at       data at
  ====================  ============  ===========  ===========
  classic, 0             u8 at 4       u8 at 5      100 (documented, no shared sample)
  classic, 2             u8 at 4       u16 at 5     405
  classic, 3             u8 at 4       u16 at 5     406
  extended               u16 at 4      u16 at 6     1007
  ====================  ============  ===========  ===========

* ``VMP Set`` (settings; first byte: technique code), ``VMP LOG`` (Pascal strings at fixed
  offsets: host, software and firmware versions, serial number), ``VMP loop`` (``u32`` count,
  then the row index where each loop starts).

Every size is checked against the module length, so an unknown column width or a truncated
file is an error naming the file, never misread data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.exceptions import ParseError
from eis_pipeline.io.importers._biologic_mpr_columns import COLUMNS, FREQUENCY_ID
from eis_pipeline.io.importers._biologic_spectra import build_spectra
from eis_pipeline.io.registry import Importer
from eis_pipeline.io.source import Source

MAGIC = b"BIO-LOGIC MODULAR FILE"
FILE_HEADER_SIZE = 52
MODULE_TAG = b"MODULE"
_NAMES = struct.Struct("<10s25s")
_CLASSIC = struct.Struct("<II8s")      # length, version, date
_EXTENDED = struct.Struct("<IIII8s")   # 0xFFFFFFFF, length, version, format, date

#: Technique codes (first byte of VMP settings) seen in the shared files, checked against the
#: technique named in the matching .mpt.
TECHNIQUES = {0x1D: "PEIS", 0x1E: "GEIS", 0x32: "ZIR"}
#: VMP LOG fields: Pascal strings at fixed offsets of the module body (same in every shared file).
_LOG_STRINGS = {"saved_as": 593, "host": 849, "address": 900, "software_version": 951,
                "firmware_version": 958, "interpreter_version": 965, "serial_number": 975}


@dataclass(frozen=True)
class Module:
    """One module of an ``.mpr`` file: header fields and where its body lies."""

    short_name: str
    long_name: str
    version: int
    date: str
    offset: int
    length: int
    extended: bool
    format_code: int | None = None

    @property
    def layout(self) -> str:
        """Version and header style, for messages."""
        if self.extended:
            return f"version {self.version}, EC-Lab >= 11.50 layout (format {self.format_code})"
        return f"version {self.version}"

    def describe(self) -> dict[str, Any]:
        return {"name": self.long_name, "version": self.version, "date": self.date,
                "length": self.length, "format": self.format_code}


def sniff(path: Path, head: bytes) -> float:
    """Confidence that ``head`` starts an EC-Lab ``.mpr`` file (by its magic)."""
    return 0.95 if head.startswith(MAGIC) else 0.0


def read_modules(data: bytes, path: Path) -> list[Module]:
    """Walk the module chain; a broken chain or a module past the end is a :class:`ParseError`."""
    if not data.startswith(MAGIC):
        raise ParseError(f"not an EC-Lab .mpr file: it does not start with {MAGIC.decode()!r}",
                         path)
    modules = []
    pos = FILE_HEADER_SIZE
    while pos < len(data):
        if data[pos:pos + len(MODULE_TAG)] != MODULE_TAG:
            raise ParseError(f"expected a module ('MODULE') at byte {pos}, found "
                             f"{data[pos:pos + 6]!r}: the file is damaged", path)
        pos += len(MODULE_TAG)
        try:
            short, long = (s.decode("latin-1").strip() for s in _NAMES.unpack_from(data, pos))
            pos += _NAMES.size
            extended = data[pos:pos + 4] == b"\xff\xff\xff\xff"
            fmt: int | None = None
            if extended:
                _, length, version, fmt, date = _EXTENDED.unpack_from(data, pos)
                pos += _EXTENDED.size
            else:
                length, version, date = _CLASSIC.unpack_from(data, pos)
                pos += _CLASSIC.size
        except struct.error:
            raise ParseError(f"file ends inside a module header at byte {pos}: the file is "
                             "truncated", path) from None
        if pos + length > len(data):
            raise ParseError(f"module {long!r} claims {length} bytes from byte {pos} but the "
                             f"file has {len(data)}: the file is truncated", path)
        modules.append(Module(short, long, version, date.decode("latin-1"), pos, length,
                              extended, fmt))
        pos += length
    return modules


def _column_ids(body: bytes, module: Module, path: Path) -> tuple[list[int], int]:
    """Column ids of the data module and the offset of its first record."""
    if module.extended:
        # Room for 500 u16 ids after a u16 count, one flag byte, then the records.
        (count,) = struct.unpack_from("<H", body, 4)
        return list(struct.unpack_from(f"<{count}H", body, 6)), 1007
    count = body[4]
    if module.version in (2, 3):
        # Room for 200 u16 ids after a u8 count; version 3 adds one flag byte.
        return list(struct.unpack_from(f"<{count}H", body, 5)), 403 + module.version
    if module.version == 0:
        return list(body[5:5 + count]), 100
    raise ParseError(f"VMP data module {module.layout} is not supported (known: versions 0, "
                     "2, 3 and the EC-Lab >= 11.50 layout); please report this file", path)


def _record_dtype(ids: list[int], module: Module, path: Path) -> np.dtype[Any]:
    unknown = [i for i in ids if i not in COLUMNS]
    if unknown:
        raise ParseError(
            f"unknown EC-Lab column id(s) {unknown} in the VMP data module ("
            f"{module.layout}; columns {ids}): their byte widths are not known, so the records "
            "cannot be decoded. Export the run as .mpt from EC-Lab, or report the file.", path)
    fields, seen = [], set()
    for i in ids:
        name, dtype = COLUMNS[i]
        while name in seen:  # EC-Lab may repeat a quantity; keep every copy
            name += "'"
        seen.add(name)
        fields.append((name, dtype))
    return np.dtype(fields)


def _pascal_string(body: bytes, offset: int) -> str | None:
    if offset >= len(body):
        return None
    size = body[offset]
    raw = body[offset + 1:offset + 1 + size]
    if size == 0 or len(raw) != size or not all(32 <= b < 127 or b >= 160 for b in raw):
        return None
    return raw.decode("latin-1").strip()


def _metadata(data: bytes, modules: list[Module]) -> dict[str, Any]:
    meta: dict[str, Any] = {"modules": [m.describe() for m in modules]}
    by_name = {m.short_name: m for m in modules}
    settings = by_name.get("VMP Set")
    if settings is not None and settings.length:
        code = data[settings.offset]
        meta["technique_code"] = code
        if code in TECHNIQUES:
            meta["technique"] = TECHNIQUES[code]
    log = by_name.get("VMP LOG")
    if log is not None:
        body = data[log.offset:log.offset + log.length]
        for key, offset in _LOG_STRINGS.items():
            value = _pascal_string(body, offset)
            if value:
                meta[key] = value
    return meta


def _loop_starts(data: bytes, modules: list[Module], n_points: int) -> np.ndarray | None:
    """Row index where each loop starts, from the ``VMP loop`` module; None if absent or
    inconsistent (not sorted, or past the last row): cycle numbers and frequency restarts
    then still split the loops."""
    loop = next((m for m in modules if m.short_name == "VMP loop"), None)
    if loop is None or loop.length < 4:
        return None
    (count,) = struct.unpack_from("<I", data, loop.offset)
    count = min(count, (loop.length - 4) // 4)
    starts = np.frombuffer(data, dtype="<u4", count=count, offset=loop.offset + 4)
    if starts.size == 0 or np.any(np.diff(starts.astype(np.int64)) < 0) or starts[-1] > n_points:
        return None
    return starts.astype(np.intp)


def read(path: Path | Source) -> list[xr.Dataset]:
    """Read every impedance sweep of an EC-Lab ``.mpr`` file (see the module docstring)."""
    source = Source.of(path)
    path = source.path
    data = source.data
    modules = read_modules(data, path)
    module = next((m for m in modules if m.short_name == "VMP data"), None)
    if module is None:
        raise ParseError(f"no 'VMP data' module (modules: {[m.long_name for m in modules]}): "
                         "the run recorded no data", path)
    body = memoryview(data)[module.offset:module.offset + module.length]
    try:
        (n_points,) = struct.unpack_from("<I", body, 0)
        ids, start = _column_ids(bytes(body[:8 + 2 * 1024]), module, path)
    except struct.error:
        raise ParseError(f"VMP data module too short ({module.length} bytes) for its header",
                         path) from None
    if FREQUENCY_ID not in ids:
        raise ParseError(f"not an impedance measurement: no frequency column (id "
                         f"{FREQUENCY_ID}, freq/Hz) among the column ids {ids}", path)
    dtype = _record_dtype(ids, module, path)
    expected = start + n_points * dtype.itemsize
    if expected != module.length:
        raise ParseError(
            f"VMP data module ({module.layout}) is {module.length} bytes, but "
            f"{n_points} records of {dtype.itemsize} bytes from offset {start} need {expected}: "
            "the file is truncated, or a column width in this reader is wrong", path)
    records = np.frombuffer(body, dtype=dtype, count=n_points, offset=start)
    columns = {name: records[name] for name in dtype.names or ()}
    metadata = _metadata(data, modules)
    metadata.update({"data_version": module.version, "column_ids": ids,
                     "columns": list(columns), "extended_headers": module.extended})
    instrument = "BioLogic EC-Lab"
    if "software_version" in metadata:
        instrument += f" {metadata['software_version']}"
    if "serial_number" in metadata:
        instrument += f", SN {metadata['serial_number']}"
    return build_spectra(columns, path=path, instrument=instrument, metadata=metadata,
                         loop_starts=_loop_starts(data, modules, n_points))


IMPORTERS = (
    Importer(
        name="biologic-mpr",
        description="BioLogic EC-Lab binary raw file (.mpr): PEIS/GEIS/ZIR, loops as sweeps",
        suffixes=(".mpr",),
        sniff=sniff,
        read=read,
        read_source=read,
        max_score=0.95,   # sniff's best: skipped when another format scored more
    ),
)
