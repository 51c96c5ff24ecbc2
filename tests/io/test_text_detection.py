"""Random damage to the real exports of the text vendor importers (Gamry, ZPlot, Novocontrol,
CHI, PowerSuite, Parstat, VersaStudio). Which file goes to which importer, and that no importer
claims another format's file, is checked for every shared file in test_shared_catalogue.py."""

import pytest

from eis_pipeline.io.registry import importers
from tests.io.test_shared_catalogue import CATALOGUE

pytestmark = pytest.mark.shared_formats

TEXT_VENDORS = {"gamry-dta", "zplot-z", "novocontrol-txt", "chi-txt", "powersuite-txt",
                "parstat-txt", "versastudio-par"}
EXPECTED = {rel: fmt for rel, (fmt, _, _) in CATALOGUE.items() if fmt in TEXT_VENDORS}


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
