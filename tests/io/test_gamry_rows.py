"""Gamry ZCURVE rows as editors re-save them: no row may be lost silently (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.exceptions import ParseError
from eis_pipeline.io.registry import read_spectra

F = np.logspace(5, 0, 10)
Z = 100 + 1e4 / (1 + 1j * F / 1e3)


def gamry(rows: list[str]) -> str:
    head = ("EXPLAIN\nTAG\tEISPOT\nTITLE\tLABEL\tPotentiostatic EIS\tTest &Identifier\n"
            "ZCURVE\tTABLE\t10\n"
            "\tPt\tTime\tFreq\tZreal\tZimag\tZsig\tZmod\tZphz\tIdc\tVdc\tIERange\n"
            "\t#\ts\tHz\tohm\tohm\tV\tohm\t°\tA\tV\t#\n")
    return head + "\n".join(rows) + "\nEXPERIMENTABORTED\tLABEL\tno\tyes\n"


def row(k: int, sep: str = "\t") -> list[str]:
    z = Z[k]
    return [str(k), f"{k * 2.0}", f"{F[k]:.8e}", f"{z.real:.8e}", f"{z.imag:.8e}", "0.01",
            f"{abs(z):.8e}", f"{np.angle(z, deg=True):.6f}", "1e-9", "0.0", "5"]


@pytest.mark.parametrize("layout", ["spaces", "space-indent", "unindented"])
def test_rows_with_spaces_are_read(tmp_path, layout):
    lines = []
    for k in range(10):
        fields = row(k)
        if k in (3, 4, 7, 8) and layout == "spaces":
            lines.append("\t" + "  ".join(fields))      # fields separated by spaces
        elif k in (3, 4, 7, 8) and layout == "space-indent":
            lines.append("    " + "\t".join(fields))    # indented by spaces, not a tab
        elif k in (3, 4, 7, 8):
            lines.append(" ".join(fields))              # no indent at all
        else:
            lines.append("\t" + "\t".join(fields))
    path = tmp_path / "eis.DTA"
    path.write_text(gamry(lines), encoding="latin-1")
    (ds,) = read_spectra(path)
    assert ds.sizes["frequency"] == 10
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-7)


def test_a_row_that_cannot_be_read_is_an_error_naming_its_line(tmp_path):
    lines = ["\t" + "\t".join(row(k)) for k in range(10)]
    lines[5] = "\t" + "  ".join(row(5)[:6])  # too few fields
    path = tmp_path / "bad.DTA"
    path.write_text(gamry(lines), encoding="latin-1")
    with pytest.raises(ParseError, match=r"bad\.DTA:12"):
        read_spectra(path)


def test_undetected_gamry_file_gets_the_gamry_reason(tmp_path):
    """Issue 13: auto-detection on a non-EIS Gamry file carries the Gamry importer's reason."""
    from eis_pipeline.exceptions import UnknownFormatError

    path = tmp_path / "cv.DTA"
    path.write_text("EXPLAIN\nTAG\tCV\nTITLE\tLABEL\tCyclic Voltammetry\tTest &Identifier\n"
                    "CURVE1\tTABLE\t2\n\tPt\tT\tVf\tIm\n\t#\ts\tV\tA\n"
                    "\t0\t0.1\t0.5\t1e-6\n\t1\t0.2\t0.6\t2e-6\n", encoding="latin-1")
    with pytest.raises(UnknownFormatError, match=r"Closest: gamry-dta: .*TAG 'CV'.* no ZCURVE"):
        read_spectra(path)
