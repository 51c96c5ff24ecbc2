"""Property tests: corrupting any real export gives a clear EisError or valid spectra.

Every readable file in ../shared/formats/ is truncated, has bytes flipped, or loses a column,
and ``read_spectra`` must then either raise an :class:`EisError` subclass whose message names
the file, or return spectra that pass the contract. Never an IndexError, struct.error,
UnicodeDecodeError or any other leak.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eis_pipeline.conventions import validate_spectrum
from eis_pipeline.exceptions import EisError
from eis_pipeline.io.registry import read_spectra
from tests.conftest import SHARED_FORMATS
from tests.io.test_shared_catalogue import REJECTED as CATALOGUE_REJECTED

#: files that are *meant* to be rejected; corrupting them is pointless
REJECTED = {Path(rel).name for rel in CATALOGUE_REJECTED}
#: large files get fewer examples to keep `make test` fast
LARGE = 256 * 1024


def _real_files() -> list[Path]:
    if not SHARED_FORMATS.is_dir():
        return []
    return sorted(p for p in SHARED_FORMATS.rglob("*")
                  if p.is_file() and p.suffix.lower() not in {".json", ".md"}
                  and p.name not in REJECTED)


FILES = _real_files()
PARAMS = [pytest.param(p, id=str(p.relative_to(SHARED_FORMATS))) for p in FILES] or [
    pytest.param(None, marks=pytest.mark.skip(reason=f"{SHARED_FORMATS} not found"))]


def _check(path: Path, original: Path) -> None:
    try:
        spectra = read_spectra(path)
    except EisError as exc:
        assert str(path) in str(exc) or path.name in str(exc), (
            f"error message does not name the file: {exc}")
        return
    for ds in spectra:
        validate_spectrum(ds, require_attrs=True)


def _settings(path: Path) -> settings:
    many = path.stat().st_size < LARGE
    return settings(max_examples=12 if many else 3, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("original", PARAMS)
def test_truncated_files(original: Path, tmp_path: Path) -> None:
    data = original.read_bytes()

    @_settings(original)
    @given(cut=st.floats(0.0, 0.999))
    def run(cut: float) -> None:
        path = tmp_path / original.name
        path.write_bytes(data[: int(len(data) * cut)])
        if path.stat().st_size == 0:
            with pytest.raises(EisError):
                read_spectra(path)
            return
        _check(path, original)

    run()


@pytest.mark.parametrize("original", PARAMS)
def test_byte_flips(original: Path, tmp_path: Path) -> None:
    data = original.read_bytes()

    @_settings(original)
    @given(flips=st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(0, 255)),
                          min_size=1, max_size=8))
    def run(flips: list[tuple[float, int]]) -> None:
        buf = bytearray(data)
        for where, value in flips:
            buf[int(len(buf) * where)] = value
        path = tmp_path / original.name
        path.write_bytes(bytes(buf))
        _check(path, original)

    run()


@pytest.mark.parametrize("original", PARAMS)
def test_removed_column(original: Path, tmp_path: Path) -> None:
    data = original.read_bytes()
    if b"\x00" in data[:4096]:
        pytest.skip("binary or UTF-16 file: no text columns to remove")
    text = data.decode("latin-1")
    lines = text.splitlines(keepends=True)
    sep = "\t" if text.count("\t") > len(lines) else ","

    @_settings(original)
    @given(column=st.integers(0, 3))
    def run(column: int) -> None:
        out = []
        for line in lines:
            fields = re.split(re.escape(sep), line.rstrip("\r\n"))
            if len(fields) > column + 1:
                del fields[column]
            out.append(sep.join(fields) + line[len(line.rstrip("\r\n")):])
        path = tmp_path / original.name
        path.write_bytes("".join(out).encode("latin-1"))
        _check(path, original)

    run()
