import json

import numpy as np
import pytest

from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.importers.novocontrol_txt import NAME, sniff
from eis_pipeline.io.registry import read_spectra
from tests.io._helpers import (
    drop_column,
    lines_of,
    read_both,
    write,
)

pytestmark = pytest.mark.shared_formats
TITLE = 3  # 0-based line of the column titles in Example2a.txt


@pytest.fixture
def example(shared_formats):
    return shared_formats / "novocontrol" / "Example2a.txt"


def test_values_equal_an_independent_numpy_read(example):
    ds = read_both(example, NAME)[0]
    ref = np.loadtxt(example, skiprows=TITLE + 1)
    assert ds.sizes["frequency"] == ref.shape[0] == 51
    np.testing.assert_array_equal(ds.frequency.values, ref[:, 0])
    np.testing.assert_array_equal(ds.impedance.values, ref[:, 1] + 1j * ref[:, 2])
    assert np.all(ds.impedance.values.imag < 0)     # a capacitive pellet, physical sign kept
    assert ds.frequency.values[0] == 1e6 and ds.frequency.values[-1] == pytest.approx(0.3)


def test_geometry_and_header(example):
    ds = read_spectra(example)[0]
    assert ds.attrs["diameter_cm"] == 1.3
    assert ds.attrs["thickness_cm"] == 0.075   # not the 4 mm "Electrode Thickness"
    meta = json.loads(ds.attrs["original_metadata"])
    assert meta["sample"] == "s05751_25deg" and meta["date"] == "26.02.2025"
    assert meta["Electrode Thickness [mm]"] == 4.0
    assert meta["AC Volt [Vrms]"] == pytest.approx(7.1e-3)
    assert ds.attrs["instrument"] == "Novocontrol"
    assert "temperature" not in ds   # "25deg" in the sample name is a label, not a reading


def test_fixed_temperature_and_negated_column(example, tmp_path):
    lines = lines_of(example)
    lines[2] += "Temperature [°C]=2.5000e+01"
    lines[TITLE] = lines[TITLE].replace("Zs''[ohm]", "-Zs''[ohm]")
    ds = read_spectra(write(tmp_path, "t.txt", lines))[0]
    np.testing.assert_allclose(ds.temperature.values, 298.15)
    ref = read_spectra(example)[0]
    np.testing.assert_array_equal(ds.impedance.values, ref.impedance.values.conj())


def test_temperature_column_in_kelvin(example, tmp_path):
    lines = lines_of(example)
    lines[TITLE] += "\tT[K]"
    lines[TITLE + 1:] = [s + f"\t{300 + i}" for i, s in enumerate(lines[TITLE + 1:])]
    ds = read_spectra(write(tmp_path, "t.txt", lines))[0]
    np.testing.assert_array_equal(ds.temperature.values[:3], [300.0, 301.0, 302.0])


def test_removed_column(example, tmp_path):
    lines = lines_of(example)
    broken = drop_column(lines, range(TITLE, len(lines)), 2)
    assert sniff(tmp_path, "\n".join(broken).encode()) == 0.0
    with pytest.raises(ParseError, match=r"no\.txt:4: no Z'' \[ohm\] column"):
        read_spectra(write(tmp_path, "no.txt", broken), format=NAME)


def test_permittivity_export_is_not_impedance(tmp_path):
    text = "sample, 1.1.2025, 10:00\n     Freq.[Hz]\t Eps'\t Eps''\n 1e6\t 3.1\t 0.2\n"
    path = tmp_path / "eps.txt"
    path.write_text(text)
    assert sniff(path, text.encode()) == 0.0
    with pytest.raises(ParseError, match="no Z' \\[ohm\\] column"):
        read_spectra(path, format=NAME)
    with pytest.raises(FormatError):
        read_spectra(path)


def test_temperature_series_splits_into_sweeps(example, tmp_path):
    """Sweeps concatenated with a temperature column: one spectrum per temperature."""
    lines = lines_of(example)
    data = lines[TITLE + 1:]
    series = [f"{s}\t{t:.1f}" for t in (25.0, 50.0, 75.0) for s in data]
    variant = write(tmp_path, "series.txt", [*lines[:TITLE], lines[TITLE] + "\tTemp.[°C]",
                                             *series])
    spectra = read_spectra(variant)
    ref = read_spectra(example)[0]
    assert [ds.attrs["sweep"] for ds in spectra] == [0, 1, 2]
    for ds, t in zip(spectra, (298.15, 323.15, 348.15), strict=True):
        np.testing.assert_array_equal(ds.impedance.values, ref.impedance.values)
        np.testing.assert_allclose(ds.temperature.values, t)
        assert ds.attrs["thickness_cm"] == 0.075
