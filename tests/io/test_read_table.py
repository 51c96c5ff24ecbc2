"""eis.read_table: long-form tables, one row per point or one row per spectrum (issue 13)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import eis_pipeline as eis
from eis_pipeline.exceptions import ParseError

F = np.logspace(5, 0, 6)
Z = {("A", 25.0): 10 + 1e3 / (1 + 1j * F / 1e3), ("B", 60.0): 5 + 4e2 / (1 + 1j * F / 3e3)}


def points() -> pd.DataFrame:
    rows = [{"sample": s, "T [°C]": t, "Freq (kHz)": f / 1e3, "Z' (Ohm)": z.real,
             "-Z'' (Ohm)": -z.imag}
            for (s, t), zz in Z.items() for f, z in zip(F, zz, strict=True)]
    return pd.DataFrame(rows)


def check(spectra) -> None:
    assert [(s.attrs["sample"], float(s.temperature[0])) for s in spectra] == [
        ("A", 298.15), ("B", 333.15)]
    for s, zz in zip(spectra, Z.values(), strict=True):
        np.testing.assert_allclose(s.frequency, F, rtol=1e-12)
        np.testing.assert_allclose(s.impedance, zz, rtol=1e-12)


def test_one_row_per_point_dataframe_and_csv(tmp_path):
    check(eis.read_table(points()))
    path = tmp_path / "long.csv"
    points().to_csv(path, index=False)
    check(eis.read_table(path))


def test_one_row_per_spectrum_with_list_cells(tmp_path):
    rows = [{"sample": s, "temperature_celsius": t, "frequency": json.dumps(F.tolist()),
             "Re(Z)/Ohm": json.dumps(zz.real.tolist()), "Im(Z)/Ohm": " ".join(repr(float(x))
                                                                for x in zz.imag)}
            for (s, t), zz in Z.items()]
    path = tmp_path / "wide.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    check(eis.read_table(path))
    frame = pd.DataFrame([{"sample": s, "T (K)": t + 273.15, "f": list(F), "|Z|": list(abs(zz)),
                           "phase": list(np.angle(zz, deg=True))} for (s, t), zz in Z.items()])
    check(eis.read_table(frame))


def test_bad_cells_name_the_row(tmp_path):
    frame = points().astype({"Z' (Ohm)": object})
    frame.loc[3, "Z' (Ohm)"] = "n/a"
    with pytest.raises(ParseError, match="not a number"):
        eis.read_table(frame)
    lists = pd.DataFrame({"f": ["[1, 2]", "[1, 2, 3]"], "Z'": ["[1, 2]", "[1, 2]"],
                          "Z''": ["[1, 2]", "[1, 2]"]})
    with pytest.raises(ParseError, match="differ in length") as info:
        eis.read_table(lists)
    assert info.value.line == 3
