"""Damaged input to the PalmSens, Ivium, Zahner, Autolab and Elchemea importers.

Whatever the damage (truncation, flipped bytes, garbage), an importer either returns valid
spectra or raises an :class:`EisError` naming the file; no struct.error, IndexError,
UnicodeDecodeError or JSONDecodeError may escape. Importers are called directly, not through
``read_spectra``, whose safety net would hide such leaks.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eis_pipeline.conventions import validate_spectrum
from eis_pipeline.exceptions import EisError, ParseError
from eis_pipeline.io.importers import (
    autolab,
    elchemea_i2b,
    ivium_idf,
    palmsens_pssession,
    zahner_ism,
)
from eis_pipeline.io.registry import Importer

MODULES = (autolab, elchemea_i2b, ivium_idf, palmsens_pssession, zahner_ism)
IMPORTERS = {imp.name: imp for m in MODULES for imp in m.IMPORTERS}

#: The real file each importer is exercised on, and the files each must recognise.
FILES = {
    "autolab-txt": ["impedance_py/exampleDataAutolab.txt"],
    "autolab-dfr": ["pyimpspec/data.dfr"],
    "autolab-p00": ["pyimpspec/data.P00"],
    "elchemea-i2b": ["pyimpspec/data.i2b"],
    "ivium-idf": ["pyimpspec/data.idf", "pyimpspec/data.ids",
                  "impedance_py/exampleDataIvium.idf"],
    "palmsens-pssession": ["palmsens/eis_5freq.pssession", "pyimpspec/data.pssession",
                           "palmsens/eis_3ch_4scan_5freq.pssession"],
    "zahner-ism": ["zahner/rc-data.ism", "zahner/000_mvdc.ism", "zahner/li-ion-battery.ism",
                   "zahner/500uR_measurement_pro.ism"],
}
TEXT_FORMATS = {"autolab-txt", "autolab-dfr", "autolab-p00", "elchemea-i2b", "ivium-idf",
                "palmsens-pssession"}
CASES = [(name, files[0]) for name, files in FILES.items()]
HYPOTHESIS = settings(max_examples=30, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check(importer: Importer, data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"damaged{suffix}"
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                spectra = importer.read(path)
            except EisError as exc:
                assert "damaged" in str(exc), f"message does not name the file: {exc}"
                if isinstance(exc, ParseError) and importer.name in TEXT_FORMATS:
                    assert exc.line is not None, f"text format error without a line: {exc}"
                return
        for ds in spectra:
            validate_spectrum(ds)


@pytest.mark.parametrize(("name", "rel"), CASES)
@HYPOTHESIS
@given(cut=st.floats(0.0, 1.0, exclude_max=True))
def test_truncation(shared_formats: Path, name: str, rel: str, cut: float) -> None:
    data = (shared_formats / rel).read_bytes()
    _check(IMPORTERS[name], data[: int(cut * len(data))], Path(rel).suffix)


@pytest.mark.parametrize(("name", "rel"), CASES)
@HYPOTHESIS
@given(flips=st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True),
                                st.integers(0, 255)), min_size=1, max_size=8))
def test_byte_flips(shared_formats: Path, name: str, rel: str,
                    flips: list[tuple[float, int]]) -> None:
    data = bytearray((shared_formats / rel).read_bytes())
    for where, value in flips:
        data[int(where * len(data))] = value
    try:
        _check(IMPORTERS[name], bytes(data), Path(rel).suffix)
    except EisError as exc:  # validate_spectrum on a parsed but physically impossible value
        assert "frequency" in str(exc) or "impedance" in str(exc)


@pytest.mark.parametrize("name", sorted(IMPORTERS))
@HYPOTHESIS
@given(garbage=st.binary(min_size=0, max_size=2048))
def test_garbage(name: str, garbage: bytes) -> None:
    _check(IMPORTERS[name], garbage, IMPORTERS[name].suffixes[0])


def test_truncated_data_is_an_error(shared_formats: Path) -> None:
    """Cutting inside the data block must fail, not return a shorter spectrum."""
    for name, rel in CASES:
        data = (shared_formats / rel).read_bytes()
        # Mid-file is inside the data everywhere but in Ivium files, whose raw oscillograms
        # follow the impedance table.
        cut = data.find(b"primary_data") + 300 if name == "ivium-idf" else len(data) // 2
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"half{Path(rel).suffix}"
            path.write_bytes(data[:cut])
            with pytest.raises(EisError, match="half"):
                IMPORTERS[name].read(path)
