"""The catalogue: every file in ../shared/formats/, its importer, sweeps and points per sweep.

The numbers were measured with ``read_spectra`` and checked against what
``../shared/formats/README.md`` and the reference JSONs say (e.g. VSP 32 loops x 70 points,
GEIS 61 loops, pyimpspec's multi-spectrum .mpt 3 x 29 and .csv 4 x 29, the PalmSens
multiplexer 3 channels x 4 sub-scans x 5 frequencies, Gamry drift correction as a second
sweep); :func:`test_catalogue_agrees_with_the_reference_jsons` re-checks the counts the JSONs
give. A file added to ../shared/formats/ without a row here fails
:func:`test_catalogue_lists_every_shared_file`, so the table stays complete.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import xarray as xr

from eis_pipeline.conventions import validate_spectrum
from eis_pipeline.exceptions import FormatError
from eis_pipeline.io.importers.generic_csv import PREAMBLE_SCORE
from eis_pipeline.io.registry import SNIFF_BYTES, detect_format, importers, read_spectra
from tests.io._helpers import (
    assert_matches,
    assert_same_spectra,
    control_expected,
    impedance_py_values,
)

pytestmark = pytest.mark.shared_formats

#: relative path -> (importer, number of sweeps, points per sweep: one int for all sweeps, or
#: a tuple with one count per sweep)
CATALOGUE: dict[str, tuple[str, int, int | tuple[int, ...]]] = {
    # impedance.py: one file per vendor (counts: EXPECTED_parsed_values.json "n")
    "impedance_py/Circuit1_EIS_1.z": ("zplot-z", 1, 48),
    "impedance_py/exampleData.csv": ("generic-csv", 1, 66),
    "impedance_py/exampleDataAutolab.txt": ("autolab-txt", 1, 41),
    "impedance_py/exampleDataBioLogic.mpr": ("biologic-mpr", 1, 43),
    "impedance_py/exampleDataBioLogic.mpt": ("biologic-mpt", 1, 43),
    "impedance_py/exampleDataCHInstruments.txt": ("chi-txt", 1, 73),
    "impedance_py/exampleDataGamry.DTA": ("gamry-dta", 1, 72),
    "impedance_py/exampleDataGamryABORT.DTA": ("gamry-dta", 1, 72),  # same points as above
    "impedance_py/exampleDataIvium.idf": ("ivium-idf", 1, 26),
    "impedance_py/exampleDataParstat.txt": ("parstat-txt", 1, 31),  # DC rows dropped
    "impedance_py/exampleDataPowersuite.txt": ("powersuite-txt", 1, 30),
    "impedance_py/exampleDataVersaStudio.par": ("versastudio-par", 1, 61),
    "impedance_py/exampleDataZPlot.z": ("zplot-z", 1, 21),
    "impedance_py/exampleDataZPlot_noComments.z": ("zplot-z", 1, 31),
    # Novocontrol pellet (51 points) and a headerless CSV with leading spaces
    "novocontrol/CSV_Example.csv": ("generic-csv", 1, 50),
    "novocontrol/Example2a.txt": ("novocontrol-txt", 1, 51),
    # PalmSens: a 5-frequency scan; the multiplexer file, 3 channels x 4 sub-scans x 5
    "palmsens/eis_3ch_4scan_5freq.pssession": ("palmsens-pssession", 12, 5),
    "palmsens/eis_5freq.pssession": ("palmsens-pssession", 1, 5),
    # pyimpspec: the 29-point control spectrum in every format; 3 loops in one .mpt, 4
    # spectra in one CSV; .ids = two data sets; drift-corrected Gamry = measured + corrected
    "pyimpspec/case-multiple-spectra.csv": ("generic-csv", 4, 29),
    "pyimpspec/case-multiple-spectra.mpt": ("biologic-mpt", 3, 29),  # cycle number stays 0
    "pyimpspec/case-negative-real-imaginary.csv": ("generic-csv", 1, 29),
    "pyimpspec/data-comma-decimal-separator.csv": ("generic-csv", 1, 29),
    "pyimpspec/data-header-variant-4.csv": ("generic-csv", 1, 29),
    "pyimpspec/data.P00": ("autolab-p00", 1, 29),
    "pyimpspec/data.dfr": ("autolab-dfr", 1, 29),
    "pyimpspec/data.dta": ("gamry-dta", 1, 29),
    "pyimpspec/data.i2b": ("elchemea-i2b", 1, 29),
    "pyimpspec/data.idf": ("ivium-idf", 1, 29),
    "pyimpspec/data.ids": ("ivium-idf", 2, 29),
    "pyimpspec/data.mpt": ("biologic-mpt", 1, 29),
    "pyimpspec/data.par": ("versastudio-par", 1, 29),
    "pyimpspec/data.pssession": ("palmsens-pssession", 1, 29),
    "pyimpspec/data.z": ("zplot-z", 1, 29),
    "pyimpspec/drift-corrected-data.dta": ("gamry-dta", 2, 55),
    # yadg: each .mpr holds the same data as its .mpt. GEIS: 61 loops, the last one 2 points
    # short; VSP: 32 loops x 70 points; ZIR: a single point.
    "yadg/geis.mpr": ("biologic-mpr", 61, (41,) * 60 + (39,)),
    "yadg/geis.mpt": ("biologic-mpt", 61, (41,) * 60 + (39,)),
    "yadg/peis.issue_149.mpr": ("biologic-mpr", 4, 21),
    "yadg/peis.issue_149.mpt": ("biologic-mpt", 4, 21),
    "yadg/peis.issue_225.no_ece.mpr": ("biologic-mpr", 1, 32),
    "yadg/peis.issue_225.no_ece.mpt": ("biologic-mpt", 1, 32),
    "yadg/peis.issue_225.with_ece.mpr": ("biologic-mpr", 1, 32),
    "yadg/peis.issue_225.with_ece.mpt": ("biologic-mpt", 1, 32),
    "yadg/peis.mpr": ("biologic-mpr", 1, 32),
    "yadg/peis.mpt": ("biologic-mpt", 1, 32),
    "yadg/vsp_peis_with.mpr": ("biologic-mpr", 32, 70),
    "yadg/vsp_peis_with.mpt": ("biologic-mpt", 32, 70),
    "yadg/zir.mpr": ("biologic-mpr", 1, 1),
    "yadg/zir.mpt": ("biologic-mpt", 1, 1),
    # Zahner: points kept after dropping the re-measured overlap before the reversal
    "zahner/000_mvdc.ism": ("zahner-ism", 1, 38),
    "zahner/500uR_measurement_pro.ism": ("zahner-ism", 1, 160),
    "zahner/li-ion-battery.ism": ("zahner-ism", 1, 128),
    "zahner/rc-data.ism": ("zahner-ism", 1, 55),
}

#: Files that must be rejected: relative path -> a fragment of the expected message. All four
#: are EC-Lab text exports: biologic-mpt recognises them, then refuses them.
REJECTED: dict[str, str] = {
    "impedance_py/exampleDataBioLogic_MissingFreq.mpt": "'freq/Hz'",
    "impedance_py/exampleDataBioLogic_NoImZ.mpt": "'-Im(Z)/Ohm'",
    "yadg/mb.issue_95.mpt": "not an impedance measurement",
    "yadg/mb.issue_95.de.mpt": "not an impedance measurement",
}
REJECTED_BY = "biologic-mpt"


#: Files whose values the source projects assert: relative path -> (reference, tolerances).
#: The reference is a file name in impedance.py's EXPECTED_parsed_values.json, or "control"
#: for pyimpspec's EXPECTED_control_data.json, which every sweep must reproduce.
REFERENCE: dict[str, tuple[str, dict[str, float]]] = {
    **{f"impedance_py/{name}": (name, {}) for name in (
        "exampleData.csv", "exampleDataBioLogic.mpt",
        "exampleDataCHInstruments.txt", "exampleDataGamry.DTA", "exampleDataGamryABORT.DTA",
        "exampleDataParstat.txt", "exampleDataPowersuite.txt", "exampleDataVersaStudio.par",
        "exampleDataZPlot.z", "exampleDataZPlot_noComments.z")},
    # The reference JSON keeps 8 decimals (-0.00026718 for -0.000267175834...).
    "impedance_py/exampleDataAutolab.txt": ("exampleDataAutolab.txt", {"atol": 5e-9}),
    # The .mpr holds the run of the .mpt.
    "impedance_py/exampleDataBioLogic.mpr": ("exampleDataBioLogic.mpt", {}),
    **{rel: ("control", {}) for rel in CATALOGUE
       if rel.startswith("pyimpspec/") and "drift" not in rel},
    # Reduced precision: four or five significant digits ("37.280e+01" for 372.759...).
    "pyimpspec/data.P00": ("control", {"f_rtol": 5e-4, "atol": 0.1}),
}


def _is_reference(rel: str) -> bool:
    """The folder's own documentation and expected values, not instrument exports."""
    name = rel.rsplit("/", 1)[-1]
    return rel == "README.md" or name.startswith("EXPECTED_") or "/expected/" in f"/{rel}"


def _points(spec: int | tuple[int, ...], n_sweeps: int) -> list[int]:
    return [spec] * n_sweeps if isinstance(spec, int) else list(spec)


def _catalogue_gaps(root: Path) -> tuple[set[str], set[str]]:
    """(exports under ``root`` without a row, rows without a file under ``root``)."""
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    exports = {rel for rel in present if not _is_reference(rel)}
    listed = set(CATALOGUE) | set(REJECTED)
    return exports - listed, listed - present


def test_catalogue_lists_every_shared_file(shared_formats: Path) -> None:
    unlisted, stale = _catalogue_gaps(shared_formats)
    assert not unlisted, ("files in ../shared/formats/ missing from the catalogue; add a row "
                          f"for each: {sorted(unlisted)}")
    assert not stale, f"catalogue rows without a file: {sorted(stale)}"


def test_a_new_shared_file_is_reported(tmp_path: Path) -> None:
    """The completeness check fails on an export it has no row for (empty stand-ins here)."""
    for rel in [*CATALOGUE, *REJECTED, "README.md", "pyimpspec/EXPECTED_control_data.json",
                "zahner/expected/rc-data_fit_result.json"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).touch()
    assert _catalogue_gaps(tmp_path) == (set(), set())
    (tmp_path / "newvendor").mkdir()
    (tmp_path / "newvendor" / "run1.xyz").touch()
    (tmp_path / "yadg" / "peis.mpt").unlink()
    assert _catalogue_gaps(tmp_path) == ({"newvendor/run1.xyz"}, {"yadg/peis.mpt"})


def test_catalogue_agrees_with_the_reference_jsons(shared_formats: Path) -> None:
    expected = json.loads((shared_formats / "impedance_py" / "EXPECTED_parsed_values.json")
                          .read_text())["files"]
    assert {f"impedance_py/{name}" for name in expected} <= set(REFERENCE)
    for name, entry in expected.items():
        _, n_sweeps, points = CATALOGUE[f"impedance_py/{name}"]
        assert (n_sweeps, points) == (1, entry["n"]), name
    control = json.loads((shared_formats / "pyimpspec" / "EXPECTED_control_data.json")
                         .read_text())
    for rel, (_, _, points) in CATALOGUE.items():
        if rel.startswith("pyimpspec/") and "drift" not in rel:
            assert points == len(control["frequency"]), rel


def test_catalogue_covers_every_importer() -> None:
    assert {fmt for fmt, _, _ in CATALOGUE.values()} == set(importers())


def test_only_its_importer_claims_each_file(shared_formats: Path) -> None:
    """Every sniffer scores every shared file in [0, 1], and only the catalogued importer
    scores it above 0 (none for the reference files): no importer claims a file of another
    format, so detection never depends on the tie-breaking suffix. The one exception:
    generic-csv claims a named table under text (a vendor header is text over a table) at
    PREAMBLE_SCORE, below the vendor's own score."""
    wrong = {}
    for path in sorted(p for p in shared_formats.rglob("*") if p.is_file()):
        rel = path.relative_to(shared_formats).as_posix()
        head = path.read_bytes()[:SNIFF_BYTES]
        scores = {name: imp.sniff(path, head) for name, imp in importers().items()}
        assert all(0.0 <= s <= 1.0 for s in scores.values()), (rel, scores)
        claims = {name for name, s in scores.items() if s > 0}
        expected = ({CATALOGUE[rel][0]} if rel in CATALOGUE
                    else {REJECTED_BY} if rel in REJECTED else set())
        owner = max((scores[e] for e in expected), default=1.0)
        if scores["generic-csv"] == PREAMBLE_SCORE < owner and "generic-csv" not in expected:
            claims.discard("generic-csv")
        if claims != expected:
            wrong[rel] = sorted(claims)
    assert wrong == {}


@pytest.mark.parametrize("rel", sorted(CATALOGUE))
def test_reads_as_catalogued(shared_formats: Path, rel: str) -> None:
    fmt, n_sweeps, points = CATALOGUE[rel]
    path = shared_formats / rel
    assert detect_format(path).name == fmt
    spectra = read_spectra(path)  # format=None: detected by content
    assert len(spectra) == n_sweeps
    assert [ds.sizes["frequency"] for ds in spectra] == _points(points, n_sweeps)
    assert [ds.attrs["sweep"] for ds in spectra] == list(range(n_sweeps))
    for ds in spectra:
        assert ds.attrs["source_format"] == fmt
        validate_spectrum(ds, require_attrs=True)
        missing = [name for name, var in ds.variables.items() if not var.attrs.get("units")]
        assert not missing, f"variables without units: {missing}"
    assert_same_spectra(spectra, read_spectra(path, format=fmt))  # forced == detected
    with xr.open_dataset(path, engine="eis") as ds:
        xr.testing.assert_identical(ds, spectra[0])


@pytest.mark.parametrize("rel", sorted(REFERENCE))
def test_values_match_the_reference(shared_formats: Path, rel: str) -> None:
    name, tolerances = REFERENCE[rel]
    reference = (control_expected(shared_formats) if name == "control"
                 else impedance_py_values(shared_formats, name))
    assert reference is not None, f"{name} has no values in EXPECTED_parsed_values.json"
    for ds in read_spectra(shared_formats / rel):
        assert_matches(ds, *reference, **tolerances)


@pytest.mark.parametrize("rel", sorted(REJECTED))
def test_rejected_with_a_message_naming_the_file(shared_formats: Path, rel: str) -> None:
    path = shared_formats / rel
    with pytest.raises(FormatError, match=re.escape(REJECTED[rel])) as info:
        read_spectra(path)
    assert str(path) in str(info.value)
    with pytest.raises(FormatError):
        xr.open_dataset(path, engine="eis")
