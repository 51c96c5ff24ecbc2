import os
from pathlib import Path

import pytest

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import (
    EisError,
    FormatError,
    InputFileError,
    MissingFileError,
    ParseError,
    UnknownFormatError,
)
from eis_pipeline.io import registry
from eis_pipeline.io.registry import Importer


def _fake(name, token, reader):
    return Importer(name=name, description=f"fake {name}", suffixes=(".fake",),
                    sniff=lambda path, head: 1.0 if head.startswith(token) else 0.0,
                    read=reader)


@pytest.fixture
def fake_registry(monkeypatch):
    good = _fake("good", b"GOOD", lambda p: [make_spectrum([1e3, 1.0], [1 - 1j, 2 - 3j])])
    buggy = _fake("buggy", b"BUGGY", lambda p: [][1])
    empty = _fake("empty", b"EMPTY", lambda p: [])
    table = {i.name: i for i in (good, buggy, empty)}
    monkeypatch.setattr(registry, "_registry", lambda: table)
    return table


def test_detects_by_content_and_sets_provenance(tmp_path: Path, fake_registry):
    path = tmp_path / "a.txt"
    path.write_bytes(b"GOOD data")
    (ds,) = registry.read_spectra(path)
    assert ds.attrs["source_format"] == "good"
    assert ds.attrs["source"] == str(path)
    assert len(ds.attrs["source_sha256"]) == 64


def test_unknown_content_names_file(tmp_path, fake_registry):
    path = tmp_path / "b.fake"
    path.write_bytes(b"nothing known")
    with pytest.raises(UnknownFormatError, match=r"b\.fake.*suffix '\.fake'"):
        registry.read_spectra(path)


def test_unknown_format_name_lists_choices(tmp_path, fake_registry):
    path = tmp_path / "c"
    path.write_bytes(b"GOOD")
    with pytest.raises(UnknownFormatError, match="valid formats: buggy, empty, good"):
        registry.read_spectra(path, format="nope")


def test_importer_bug_becomes_parse_error_naming_file(tmp_path, fake_registry):
    path = tmp_path / "d"
    path.write_bytes(b"BUGGY")
    with pytest.raises(ParseError, match="could not read as buggy: IndexError") as info:
        registry.read_spectra(path)
    assert info.value.path == str(path)
    assert isinstance(info.value.__cause__, IndexError)


def test_empty_result_and_empty_file_are_errors(tmp_path, fake_registry):
    path = tmp_path / "e"
    path.write_bytes(b"EMPTY")
    with pytest.raises(FormatError, match="no impedance data"):
        registry.read_spectra(path)
    blank = tmp_path / "f"
    blank.write_bytes(b"")
    with pytest.raises(FormatError, match="empty"):
        registry.read_spectra(blank)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.mpt: no such file") as info:
        registry.read_spectra(tmp_path / "missing.mpt")
    assert isinstance(info.value, MissingFileError) and isinstance(info.value, EisError)


def test_directory_fifo_and_symlink_loop_are_named_for_what_they_are(tmp_path):
    """Issue 10: these used to say "no such file" (and a FIFO could block the reader)."""
    with pytest.raises(InputFileError, match=r"is a directory.*eis-pipeline run DIR"):
        registry.read_spectra(tmp_path)
    fifo = tmp_path / "pipe.mpt"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="is a FIFO"):
        registry.read_spectra(fifo)
    loop = tmp_path / "loop.mpt"
    loop.symlink_to(loop)
    with pytest.raises(InputFileError, match="symbolic link loop"):
        registry.read_spectra(loop)
    dangling = tmp_path / "dangling.mpt"
    dangling.symlink_to(tmp_path / "gone.mpt")
    with pytest.raises(InputFileError, match="broken symbolic link"):
        registry.read_spectra(dangling)
    with pytest.raises(InputFileError, match="is a directory"):
        registry.detect_format(tmp_path)


def test_any_importer_exception_becomes_a_parse_error(tmp_path, monkeypatch):
    """RecursionError, MemoryError, TypeError... out of an importer are EisErrors too."""
    def deep(path):
        raise RecursionError("maximum recursion depth exceeded")

    table = {"deep": Importer(name="deep", description="", suffixes=(".x",),
                              sniff=lambda p, h: 1.0, read=deep)}
    monkeypatch.setattr(registry, "_registry", lambda: table)
    path = tmp_path / "a.x"
    path.write_bytes(b"x")
    with pytest.raises(ParseError, match=r"a\.x: could not read as deep: RecursionError"):
        registry.read_spectra(path)


def test_forced_wrong_format_hints_at_the_detected_one(tmp_path, fake_registry, monkeypatch):
    def refuse(path):
        raise ParseError("no table", path, 3)

    table = dict(fake_registry)
    table["empty"] = Importer(name="empty", description="", suffixes=(".fake",),
                              sniff=lambda p, h: 0.0, read=refuse)
    monkeypatch.setattr(registry, "_registry", lambda: table)
    path = tmp_path / "a.txt"
    path.write_bytes(b"GOOD data")
    with pytest.raises(ParseError, match="looks like 'good'") as info:
        registry.read_spectra(path, format="empty")
    assert info.value.line == 3
