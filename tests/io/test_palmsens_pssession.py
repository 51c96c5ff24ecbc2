"""PalmSens .pssession importer: control spectrum, single sweep, multiplexer split."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import numpy as np
import pytest

from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.registry import read_spectra
from tests.io._helpers import control_expected


def _session(path: Path) -> dict:
    text = path.read_bytes().decode("utf-16-le").lstrip("\ufeff")
    return json.JSONDecoder().raw_decode(text)[0]


def test_matches_control(shared_formats: Path) -> None:
    f, z = control_expected(shared_formats)
    (ds,) = read_spectra(shared_formats / "pyimpspec" / "data.pssession")
    assert ds.attrs["source_format"] == "palmsens-pssession"
    assert ds.attrs["instrument"] == "PalmSens PS4A22B003671"
    np.testing.assert_allclose(ds.frequency.values, f, rtol=1e-5)
    np.testing.assert_allclose(ds.impedance.values, z, rtol=1e-5)


def test_single_five_point_sweep(shared_formats: Path) -> None:
    path = shared_formats / "palmsens" / "eis_5freq.pssession"
    (ds,) = read_spectra(path)
    # Independent reading of the JSON: ZIm holds -Z''.
    values = {v["Description"]: [p["V"] for p in v["DataValues"]]
              for v in _session(path)["Measurements"][0]["DataSet"]["Values"]}
    np.testing.assert_array_equal(ds.frequency.values, values["Frequency"])
    np.testing.assert_array_equal(ds.impedance.values.real, values["ZRe"])
    np.testing.assert_array_equal(ds.impedance.values.imag, -np.asarray(values["ZIm"]))
    np.testing.assert_allclose(ds.current.values, np.asarray(values["Idc"]) * 1e-6)  # µA -> A
    np.testing.assert_allclose(ds.potential.values, values["mEdc"])
    assert ds.attrs["channel"] == 7
    meta = json.loads(ds.attrs["original_metadata"])
    assert meta["start_utc"].startswith("2025-07-31T13:52")
    assert meta["method"]["N_FREQ"] == "5"


def test_multiplexer_split(shared_formats: Path) -> None:
    path = shared_formats / "palmsens" / "eis_3ch_4scan_5freq.pssession"
    spectra = read_spectra(path)
    assert len(spectra) == 12
    assert [ds.sizes["frequency"] for ds in spectra] == [5] * 12
    assert [(ds.attrs["channel"], ds.attrs["scan"]) for ds in spectra] == [
        (ch, scan) for ch in (3, 5, 8) for scan in range(4)]
    assert [ds.attrs["sweep"] for ds in spectra] == list(range(12))
    session = _session(path)["Measurements"][0]["EISDataList"]
    for ds in spectra:
        entry = session[[3, 5, 8].index(ds.attrs["channel"])]["SubScans"][ds.attrs["scan"]]
        zim = [p["V"] for v in entry["DataSet"]["Values"] if v["Description"] == "ZIm"
               for p in v["DataValues"]]
        np.testing.assert_array_equal(ds.impedance.values.imag, -np.asarray(zim))
        assert ds.attrs["scan_title"] == entry["Title"]
    # Sub-scans step the DC potential by 0.2 V; the measured potential follows.
    np.testing.assert_allclose([ds.potential.values.mean() for ds in spectra[:4]],
                               [0.0, 0.2, 0.4, 0.6], atol=0.01)


def _write(path: Path, obj: object, tail: bytes = codecs.BOM_UTF16_LE) -> Path:
    path.write_bytes(codecs.BOM_UTF16_LE + json.dumps(obj).encode("utf-16-le") + tail)
    return path


def _array(code: int, desc: str, values: list[float], unit: str = "PalmSens.Units.Hertz"):
    return {"ArrayType": code, "Description": desc, "Unit": {"Type": unit},
            "DataValues": [{"V": v} for v in values]}


def test_non_eis_session_and_damaged_tree(tmp_path: Path) -> None:
    base = {"Type": "PalmSens.DataFiles.SessionFile", "Measurements": [
        {"Title": "CV", "DataSet": {"Type": "PalmSens.Data.DataSet", "Values": []},
         "Curves": [], "EISDataList": []}]}
    with pytest.raises(FormatError, match="none is an impedance"):
        read_spectra(_write(tmp_path / "cv.pssession", base), format="palmsens-pssession")
    eis = {"Type": "PalmSens.DataFiles.SessionFile", "Measurements": [
        {"DataSet": {"Type": "PalmSens.Data.DataSetEIS", "Values": [
            _array(5, "Frequency", [1e3, 1e2]), _array(7, "ZRe", [1.0])]}}]}
    with pytest.raises(FormatError, match=r"Measurements\[0\]\.DataSet: no ZIm array"):
        read_spectra(_write(tmp_path / "a.pssession", eis))
    eis["Measurements"][0]["DataSet"]["Values"].append(_array(8, "ZIm", [1.0, 2.0]))
    with pytest.raises(FormatError, match="different lengths"):
        read_spectra(_write(tmp_path / "b.pssession", eis))


def test_truncated_json_names_line(tmp_path: Path, shared_formats: Path) -> None:
    data = (shared_formats / "palmsens" / "eis_5freq.pssession").read_bytes()
    path = tmp_path / "cut.pssession"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ParseError, match=r"cut\.pssession:\d+: invalid JSON"):
        read_spectra(path)
