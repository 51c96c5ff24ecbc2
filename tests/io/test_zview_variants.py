"""ZView/ZPlot .z variants written by other programs (issue 13), constructed here."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.io.registry import read_spectra

F = np.logspace(5, 0, 8)
Z = 20 + 500 / (1 + 1j * F / 2e3)


def rows(sep: str) -> str:
    return "\n".join(sep.join([f"{f:.6E}", "1.0000E-02", "0.0000E+00", f"{i * 1.5:.6E}",
                               f"{z.real:.6E}", f"{z.imag:.6E}", "0.0000E+00", "0", "5"])
                     for i, (f, z) in enumerate(zip(F, Z, strict=True)))


TITLES = '"  Freq(Hz)    Ampl     Bias   Time(Sec)   Z\'(a)    Z\'\'(b)    GD   Err   Range"'


@pytest.mark.parametrize("declared", [8, 100, 0])  # the template's count may disagree
def test_ec_lab_zview_calculated_data_file(tmp_path, declared):
    text = ('"ZView Calculated Data File: Version 1.1"\n"Calculated Data"\n'
            '"Sweep Frequency: Control Voltage"\nDate: 01-02-2025    Time: 10:11:12\n'
            '"Open Circuit Potential (V):  0 "\n"Frequency"\n0,3,0,1,100000,1\n'
            f"{declared}\n{TITLES}\n{rows(', ')}\n")
    path = tmp_path / "eclab.z"
    path.write_text(text, encoding="latin-1")
    (ds,) = read_spectra(path)
    assert ds.attrs["source_format"] == "zplot-z"
    assert ds.attrs["instrument"] == "Scribner ZView 1.1"
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-6)
    assert ds.sizes["frequency"] == 8


def test_zplot2_minimal_header_tab_rows(tmp_path):
    text = ("ZPLOT2 ASCII\n  Measured Data, Software:    1.0.0\n"
            "  Freq(Hz)\tAmpl\tBias\tTime(Sec)\tZ'(a)\tZ''(b)\tGD\tErr\tRange\nEnd Comments\n"
            + rows("\t") + "\n")
    path = tmp_path / "min.z"
    path.write_text(text)
    (ds,) = read_spectra(path)
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-6)


def test_zplot2_with_data_points_larger_than_rows(tmp_path):
    text = ("ZPLOT2 ASCII\n  Measured Data, ZPlot:       3.2c\n  Data Points:  61\n"
            "  Freq(Hz)\tAmpl\tBias\tTime(Sec)\tZ'(a)\tZ''(b)\tGD\tErr\tRange\nEnd Comments\n"
            + rows("\t") + "\n")
    path = tmp_path / "short.z"
    path.write_text(text)
    (ds,) = read_spectra(path)
    assert ds.sizes["frequency"] == 8
    assert '"data_points_declared": 61' in ds.attrs["original_metadata"]
