"""Third-party importers through the ``eis_pipeline.importers`` entry-point group.

The registry asks ``importlib.metadata.entry_points(group=...)`` (imported into
:mod:`eis_pipeline.io.registry` as ``entry_points``); here that function is replaced by one
returning real :class:`importlib.metadata.EntryPoint` objects that point at this module, as an
installed plugin's metadata would. The registry cache is cleared before and after, so no other
test sees the plugin.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import EisWarning, ParseError, UnknownFormatError
from eis_pipeline.io import registry
from eis_pipeline.io.registry import Importer, list_formats, read_spectra
from eis_pipeline.io.text import parse_table, read_lines

MAGIC = b"ACME-EIS 1\n"


def _sniff(path: Path, head: bytes) -> float:
    return 0.9 if head.startswith(MAGIC) else 0.0


def _read(path: Path) -> list[xr.Dataset]:
    """``ACME-EIS 1`` then rows ``f Z' -Z''`` (the made-up vendor writes -Z'')."""
    lines = read_lines(path)
    if not lines or lines[0] != MAGIC.decode().strip():
        raise ParseError("expected 'ACME-EIS 1' on the first line", path, 1)
    table = parse_table(lines[1:], path=path, first_line=2, ncols=3)
    return [make_spectrum(table[:, 0], table[:, 1] - 1j * table[:, 2], instrument="ACME",
                          metadata={"version": 1})]


#: What the plugin's entry point loads (an Importer, or a sequence of them).
ACME = Importer(name="acme-eis", description="ACME impedance file (.acme), a test plugin",
                suffixes=(".acme",), sniff=_sniff, read=_read)
ACME_ALL = (ACME,)
NOT_AN_IMPORTER = {"name": "acme-eis"}
#: A plugin may not take a built-in importer's name.
CLASHING = Importer(name="biologic-mpt", description="clash", suffixes=(".mpt",),
                    sniff=_sniff, read=_read)


def _install(monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    """Make ``target`` (``module:attribute``) the one installed entry point of the group."""
    ep = EntryPoint(name="acme", value=target, group=registry.ENTRY_POINT_GROUP)

    def entry_points(*, group: str) -> list[EntryPoint]:
        return [ep] if group == registry.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(registry, "entry_points", entry_points)


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    registry._registry.cache_clear()
    yield
    registry._registry.cache_clear()


@pytest.fixture
def acme_file(tmp_path: Path) -> Path:
    path = tmp_path / "cell.acme"
    path.write_bytes(MAGIC + b"1000 10.0 2.0\n100 12.0 5.0\n10 20.0 8.0\n")
    return path


def test_entry_point_importer_detects_and_reads(monkeypatch: pytest.MonkeyPatch,
                                                acme_file: Path) -> None:
    _install(monkeypatch, f"{__name__}:ACME")
    (ds,) = read_spectra(acme_file)  # detected by content, no format= given
    assert ds.attrs["source_format"] == "acme-eis"
    assert ds.attrs["instrument"] == "ACME"
    np.testing.assert_array_equal(ds.frequency.values, [1000.0, 100.0, 10.0])
    np.testing.assert_array_equal(ds.impedance.values, [10 - 2j, 12 - 5j, 20 - 8j])
    assert {"name": "acme-eis", "suffixes": [".acme"],
            "description": ACME.description} in list_formats()
    # Built-in importers are still there, and the plugin also works through xarray.
    assert any(f["name"] == "biologic-mpt" for f in list_formats())
    xr.testing.assert_identical(xr.open_dataset(acme_file, engine="eis"), ds)


def test_entry_point_may_provide_a_sequence(monkeypatch: pytest.MonkeyPatch,
                                            acme_file: Path) -> None:
    _install(monkeypatch, f"{__name__}:ACME_ALL")
    assert read_spectra(acme_file, format="acme-eis")[0].sizes["frequency"] == 3


def test_without_the_plugin_the_file_is_unknown(acme_file: Path) -> None:
    assert all(f["name"] != "acme-eis" for f in list_formats())
    with pytest.raises(UnknownFormatError, match="no importer recognises"):
        read_spectra(acme_file)


def test_entry_point_that_is_not_an_importer(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, f"{__name__}:NOT_AN_IMPORTER")
    with pytest.warns(EisWarning, match=r"plugin 'acme' .* skipped: TypeError: .* not an "
                                        "eis_pipeline Importer"):
        names = [f["name"] for f in list_formats()]
    assert "acme-eis" not in names and "biologic-mpt" in names


def test_entry_point_cannot_take_a_builtin_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, f"{__name__}:CLASHING")
    with pytest.warns(EisWarning, match=r"'biologic-mpt', a name already taken"):
        formats = list_formats()
    assert next(f for f in formats if f["name"] == "biologic-mpt")["description"] != "clash"


def test_a_plugin_that_raises_on_import_leaves_the_registry_working(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A broken third-party package is a warning naming it; every built-in still reads."""
    _install(monkeypatch, "eis_pipeline_no_such_plugin_module:IMPORTERS")
    with pytest.warns(EisWarning, match=r"plugin 'acme' .* could not be loaded .* "
                                        "ModuleNotFoundError"):
        names = [f["name"] for f in list_formats()]
    assert "biologic-mpt" in names


def _raising_sniff(path: Path, head: bytes) -> float:
    raise ValueError("sniffer bug")


RAISING_SNIFFER = Importer(name="acme-raising", description="sniffer raises",
                           suffixes=(".acme",), sniff=_raising_sniff, read=_read)


def test_a_sniffer_that_raises_scores_zero_with_a_warning(
        monkeypatch: pytest.MonkeyPatch, acme_file: Path) -> None:
    _install(monkeypatch, f"{__name__}:RAISING_SNIFFER")
    with pytest.warns(EisWarning, match="'acme-raising' sniffer raised ValueError"), \
            pytest.raises(UnknownFormatError):
        read_spectra(acme_file)
