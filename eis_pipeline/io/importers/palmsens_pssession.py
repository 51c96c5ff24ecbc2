"""PalmSens ``.pssession`` files (PSTrace / MethodSCRIPT session).

The file is UTF-16 (little-endian, with BOM) JSON followed by stray bytes (usually a second
BOM), so it is decoded and read with :meth:`json.JSONDecoder.raw_decode`, which stops at the
end of the object. The parts used here::

    {"Type": "PalmSens.DataFiles.SessionFile", "CoreVersion": ..., "Measurements": [
      {"Title", "TimeStamp", "UTCTimeStamp" (.NET ticks), "DeviceSerial", "DeviceFW",
       "DataSet": {"Values": [array, ...]},            <- the measurement's own record
       "Method": "<method text: KEY=VALUE lines>",
       "EISDataList": [                                <- plottable EIS curves
          {"Title": "CH 3: ...", "DataSet": {...}}                     one sweep, or
          {"Title": "CH 3: ...", "SubScans": [{"Title": "E=0.200 V", "DataSet": {...}}, ...]}
       ]}]}

An array is ``{"Description", "ArrayType", "Unit": {"Type", "S"}, "DataValues": [{"V": x}]}``;
ArrayType 5 is frequency (Hz), 7 Z' (ohm), 8 ZIm, which PalmSens stores as -Z'' (negated on
import), 0 time (s), 1 set potential (V), 33 measured DC potential (V), 2 DC current (scaled by
its unit, e.g. µA).

Which record holds the sweeps: a single-sweep measurement is read from the measurement's
``DataSet``. A multiplexer measurement or a scan over a second variable (``SubScans``) keeps
only its last channel in that record, so then every EIS entry and sub-scan becomes one sweep,
with ``channel``, ``scan`` and ``scan_title`` attributes.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.importers._common import split_pair
from eis_pipeline.io.registry import Importer
from eis_pipeline.io.source import Source

INSTRUMENT = "PalmSens"

_FILE_TYPE = "PalmSens.DataFiles.SessionFile"
#: ArrayType codes of the arrays read (language independent, unlike ``Description``).
FREQUENCY, Z_REAL, Z_IMAG_NEG, TIME, POTENTIAL_SET, CURRENT_DC, POTENTIAL_DC = 5, 7, 8, 0, 1, 2, 33
#: Scale from a PalmSens unit type to SI.
UNIT_SCALE = {
    "PalmSens.Units.Ampere": 1.0, "PalmSens.Units.MilliAmpere": 1e-3,
    "PalmSens.Units.MicroAmpere": 1e-6, "PalmSens.Units.NanoAmpere": 1e-9,
    "PalmSens.Units.PicoAmpere": 1e-12, "PalmSens.Units.Volt": 1.0,
    "PalmSens.Units.MilliVolt": 1e-3, "PalmSens.Units.Time": 1.0,
    "PalmSens.Units.Hertz": 1.0, "PalmSens.Units.ZRe": 1.0, "PalmSens.Units.ZIm": 1.0,
}
_DOTNET_EPOCH = dt.datetime(1, 1, 1)  # naive: "TimeStamp" is local time, "UTCTimeStamp" UTC


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF16_LE):
        data = data[2:]
    # An odd trailing byte is either the stray tail or a truncation: JSON decoding decides.
    return data[: len(data) // 2 * 2].decode("utf-16-le", errors="replace")


def sniff(path: Path, head: bytes) -> float:
    """Confidence that ``head`` starts a PalmSens session file."""
    if not head.startswith((codecs.BOM_UTF16_LE + b"{\x00", b"{\x00\"\x00")):
        return 0.0
    text = _decode(head)
    if _FILE_TYPE not in text[:200]:
        return 0.0
    return 1.0 if "DataSetEIS" in text or "EISDataList" in text else 0.6


class _Doc:
    """Typed access to the JSON tree; every failure names the file and the JSON path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, msg: str) -> FormatError:
        return FormatError(f"{self.path}: {where}: {msg}; the session file is damaged or was "
                           "written by an unsupported PSTrace version")

    def get(self, obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...],
            where: str) -> Any:
        if not isinstance(obj, Mapping):
            raise self.fail(where, f"expected a JSON object, found {type(obj).__name__}")
        if key not in obj:
            raise self.fail(where, f"missing key {key!r}")
        value = obj[key]
        if not isinstance(value, kind):
            raise self.fail(f"{where}.{key}",
                            f"expected {getattr(kind, '__name__', kind)}, found "
                            f"{type(value).__name__}")
        return value

    def arrays(self, dataset: Any, where: str) -> dict[int, tuple[np.ndarray, str]]:
        """ArrayType -> (values, unit type) of a ``DataSet``."""
        out: dict[int, tuple[np.ndarray, str]] = {}
        for i, arr in enumerate(self.get(dataset, "Values", list, where)):
            w = f"{where}.Values[{i}]"
            code = self.get(arr, "ArrayType", (int, str), w)
            try:
                code = int(code)
            except ValueError:
                raise self.fail(f"{w}.ArrayType", f"expected an integer, found {code!r}") from None
            unit = self.get(arr, "Unit", dict, w).get("Type", "")
            raw = self.get(arr, "DataValues", list, w)
            try:
                values = np.array([v["V"] for v in raw], dtype=np.float64)
            except (KeyError, TypeError, ValueError, OverflowError):
                raise self.fail(f"{w}.DataValues", "expected objects with a numeric 'V'") from None
            out.setdefault(code, (values, str(unit)))
        return out


def _ticks_to_iso(ticks: Any, utc: bool = False) -> str | None:
    """.NET ticks (100 ns since 0001-01-01) to ISO 8601, or None when not a tick count."""
    try:
        when = _DOTNET_EPOCH + dt.timedelta(microseconds=int(ticks) // 10)
        return (when.replace(tzinfo=dt.UTC) if utc else when).isoformat()
    except (TypeError, ValueError, OverflowError):
        return None


def _method_settings(method: str) -> dict[str, str]:
    pairs = (split_pair(line, "=") for line in method.splitlines()
             if not line.startswith("#"))
    return dict(p for p in pairs if p is not None)


def _spectrum(doc: _Doc, dataset: Any, where: str, *, sweep: int, instrument: str,
              metadata: dict[str, Any], attrs: dict[str, Any]) -> xr.Dataset:
    arrays = doc.arrays(dataset, where)
    missing = [name for code, name in ((FREQUENCY, "Frequency"), (Z_REAL, "ZRe"),
                                       (Z_IMAG_NEG, "ZIm")) if code not in arrays]
    if missing:
        raise doc.fail(where, f"no {', '.join(missing)} array: not an impedance data set")
    f = arrays[FREQUENCY][0]
    n = f.size
    if arrays[Z_REAL][0].size != n or arrays[Z_IMAG_NEG][0].size != n:
        raise doc.fail(where, f"Frequency, ZRe and ZIm have different lengths "
                              f"({n}, {arrays[Z_REAL][0].size}, {arrays[Z_IMAG_NEG][0].size})")
    if n == 0:
        raise doc.fail(where, "the EIS data set has no points (aborted measurement?)")
    bad = np.flatnonzero(~(np.isfinite(f) & (f > 0)))
    if bad.size:
        raise doc.fail(f"{where} point {int(bad[0])}",
                       f"frequency must be positive and finite, found {f[bad[0]]!r}")
    variables: dict[str, np.ndarray] = {}
    for name, codes in (("time", (TIME,)), ("potential", (POTENTIAL_DC, POTENTIAL_SET)),
                        ("current", (CURRENT_DC,))):
        for code in codes:
            values, unit = arrays.get(code, (np.empty(0), ""))
            # Arrays of another length belong to other points (e.g. an edited record);
            # all-zero times mean "not recorded". Unknown units are not guessed.
            if values.size == n and unit in UNIT_SCALE and not (name == "time"
                                                                and not np.any(values)):
                variables[name] = values * UNIT_SCALE[unit]
                break
    z = arrays[Z_REAL][0] - 1j * arrays[Z_IMAG_NEG][0]
    return make_spectrum(f, z, sweep=sweep, instrument=instrument, metadata=metadata,
                         attrs=attrs, **variables)


def _eis_sources(doc: _Doc, m: Mapping[str, Any], where: str
                 ) -> Iterator[tuple[Any, str, dict[str, Any]]]:
    """(DataSet, JSON path, attrs) for each sweep of one measurement."""
    eis_list = m.get("EISDataList") or []
    if not isinstance(eis_list, list):
        raise doc.fail(f"{where}.EISDataList", "expected a list")
    split = len(eis_list) > 1 or any(isinstance(e, Mapping) and e.get("SubScans")
                                     for e in eis_list)
    if not split:
        if "DataSet" in m:
            attrs: dict[str, Any] = {}
            if eis_list:
                attrs.update(_channel_attrs(eis_list[0]))
            yield m["DataSet"], f"{where}.DataSet", attrs
        elif eis_list:
            yield (doc.get(eis_list[0], "DataSet", dict, f"{where}.EISDataList[0]"),
                   f"{where}.EISDataList[0].DataSet", _channel_attrs(eis_list[0]))
        return
    for i, entry in enumerate(eis_list):
        w = f"{where}.EISDataList[{i}]"
        base = _channel_attrs(entry)
        subs = entry.get("SubScans") if isinstance(entry, Mapping) else None
        if subs:
            if not isinstance(subs, list):
                raise doc.fail(f"{w}.SubScans", "expected a list")
            for j, sub in enumerate(subs):
                title = sub.get("Title", "") if isinstance(sub, Mapping) else ""
                yield (doc.get(sub, "DataSet", dict, f"{w}.SubScans[{j}]"),
                       f"{w}.SubScans[{j}].DataSet",
                       {**base, "scan": j, "scan_title": str(title)})
        else:
            yield doc.get(entry, "DataSet", dict, w), f"{w}.DataSet", {**base, "scan": 0}


def _channel_attrs(entry: Any) -> dict[str, Any]:
    title = str(entry.get("Title", "")) if isinstance(entry, Mapping) else ""
    attrs: dict[str, Any] = {"curve_title": title}
    m = re.match(r"\s*CH\s*(\d+)", title)
    if m:
        attrs["channel"] = int(m.group(1))
    return attrs


def read(path: Path | Source) -> list[xr.Dataset]:
    """Read every EIS sweep of a PalmSens session file.

    Examples
    --------
    >>> from eis_pipeline.io.registry import get_importer
    >>> get_importer("palmsens-pssession").suffixes
    ('.pssession',)
    """
    source = Source.of(path)
    path = source.path
    text = _decode(source.data)
    try:
        root, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON ({exc.msg}, column {exc.colno}); the session file is "
                         "truncated or damaged", path, exc.lineno) from None
    except RecursionError:
        raise ParseError("JSON nested too deeply to be a PSTrace session (damaged file?)",
                         path) from None
    doc = _Doc(path)
    if not isinstance(root, dict) or root.get("Type") != _FILE_TYPE:
        raise FormatError(f"{path}: not a PalmSens session file (expected JSON with "
                          f"\"Type\": \"{_FILE_TYPE}\")")
    measurements = doc.get(root, "Measurements", list, "session")
    spectra: list[xr.Dataset] = []
    for k, m in enumerate(measurements):
        where = f"Measurements[{k}]"
        if not isinstance(m, Mapping):
            raise doc.fail(where, "expected a JSON object")
        if not m.get("EISDataList") and not _is_eis(m.get("DataSet")):
            continue  # a CV, chronoamperometry... in the same session: not impedance
        method = m.get("Method", "")
        meta: dict[str, Any] = {
            "title": m.get("Title"), "device_serial": m.get("DeviceSerial"),
            "device_firmware": m.get("DeviceFW"), "device_type": m.get("DeviceUsed"),
            "core_version": root.get("CoreVersion"), "measurement": k,
            "start_local": _ticks_to_iso(m.get("TimeStamp")),
            "start_utc": _ticks_to_iso(m.get("UTCTimeStamp"), utc=True),
            "method": _method_settings(method) if isinstance(method, str) else {},
        }
        serial = m.get("DeviceSerial")
        instrument = f"{INSTRUMENT} {serial}" if isinstance(serial, str) and serial else INSTRUMENT
        for dataset, w, attrs in _eis_sources(doc, m, where):
            spectra.append(_spectrum(doc, dataset, w, sweep=len(spectra), instrument=instrument,
                                     metadata={**meta, **attrs}, attrs={"measurement": k,
                                                                        **attrs}))
    if not spectra:
        raise FormatError(f"{path}: the session holds {len(measurements)} measurement(s) but "
                          "none is an impedance (EIS) measurement")
    return spectra


def _is_eis(dataset: Any) -> bool:
    return isinstance(dataset, Mapping) and "EIS" in str(dataset.get("Type", ""))


IMPORTERS = (
    Importer(name="palmsens-pssession",
             description="PalmSens PSTrace session, UTF-16 JSON (.pssession); multiplexer "
                         "channels and sub-scans split into sweeps",
             suffixes=(".pssession",), sniff=sniff, read=read, read_source=read),
)
