"""Detection across the text importers: each real file goes to its own importer, and no text
importer claims a file of another format."""

import pytest

from eis_pipeline.io.registry import SNIFF_BYTES, importers, read_spectra

pytestmark = pytest.mark.shared_formats

EXPECTED = {
    "impedance_py/exampleDataGamry.DTA": "gamry-dta",
    "impedance_py/exampleDataGamryABORT.DTA": "gamry-dta",
    "pyimpspec/data.dta": "gamry-dta",
    "pyimpspec/drift-corrected-data.dta": "gamry-dta",
    "impedance_py/exampleDataZPlot.z": "zplot-z",
    "impedance_py/exampleDataZPlot_noComments.z": "zplot-z",
    "impedance_py/Circuit1_EIS_1.z": "zplot-z",
    "pyimpspec/data.z": "zplot-z",
    "novocontrol/Example2a.txt": "novocontrol-txt",
    "impedance_py/exampleDataCHInstruments.txt": "chi-txt",
    "impedance_py/exampleDataPowersuite.txt": "powersuite-txt",
    "impedance_py/exampleDataParstat.txt": "parstat-txt",
    "impedance_py/exampleDataVersaStudio.par": "versastudio-par",
    "pyimpspec/data.par": "versastudio-par",
}
MINE = sorted(set(EXPECTED.values()))


@pytest.mark.parametrize("relpath", sorted(EXPECTED))
def test_detected_as_the_right_format(shared_formats, relpath):
    spectra = read_spectra(shared_formats / relpath)
    assert {ds.attrs["source_format"] for ds in spectra} == {EXPECTED[relpath]}


def test_no_text_importer_claims_another_file(shared_formats):
    registry = importers()
    claimed = {}
    for path in sorted(p for p in shared_formats.rglob("*") if p.is_file()):
        rel = path.relative_to(shared_formats).as_posix()
        head = path.open("rb").read(SNIFF_BYTES)
        for name in MINE:
            score = registry[name].sniff(path, head)
            assert 0.0 <= score <= 1.0
            if score > 0 and EXPECTED.get(rel) != name:
                claimed[rel] = name
    assert claimed == {}


@pytest.mark.parametrize("relpath", sorted(EXPECTED))
def test_random_damage_raises_only_eis_errors(shared_formats, tmp_path, rng, relpath):
    """Truncation anywhere and garbage anywhere: the importer itself (not the registry's
    safety net) either reads the file or raises an EisError; never a bare IndexError etc."""
    from eis_pipeline.conventions import validate_spectrum
    from eis_pipeline.exceptions import EisError

    data = (shared_formats / relpath).read_bytes()
    reader = importers()[EXPECTED[relpath]].read
    path = tmp_path / ("damaged" + (shared_formats / relpath).suffix)
    for _ in range(25):
        cut = int(rng.integers(1, len(data)))
        at = int(rng.integers(0, len(data)))
        junk = rng.integers(0, 256, size=int(rng.integers(1, 12)), dtype="u1").tobytes()
        for damaged in (data[:cut], data[:at] + junk + data[at:]):
            path.write_bytes(damaged)
            try:
                for ds in reader(path):
                    validate_spectrum(ds)
            except EisError as exc:
                assert str(path) in str(exc)
