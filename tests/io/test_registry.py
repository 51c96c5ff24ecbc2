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


def _every_file(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_detection_skipping_low_scorers_chooses_as_sniffing_all(shared_formats: Path) -> None:
    """Importers whose best possible score cannot win are not sniffed (``max_score``): on every
    shared export and demo file the choice is the one sniffing every importer gives, and no
    sniffer scores above its declared ``max_score``."""
    roots = [shared_formats, Path(__file__).resolve().parents[2] / "sample_data"]
    files = [p for root in roots for p in _every_file(root)]
    assert len(files) > 50
    checked = 0
    for path in files:
        head = path.read_bytes()[:registry.SNIFF_BYTES]
        if not head:
            continue
        scores = {name: registry._sniff(imp, path, head)
                  for name, imp in registry.importers().items()}
        for name, score in scores.items():
            assert score <= registry.importers()[name].max_score, (path, name)
        suffix = path.suffix.lower()
        ranked = sorted(((s + (0.01 if suffix in registry.importers()[n].suffixes else 0.0), n)
                         for n, s in scores.items() if s > 0), reverse=True)
        if not ranked:
            with pytest.raises(UnknownFormatError):
                registry._detect(path, head)
            continue
        assert registry._detect(path, head).name == ranked[0][1], path
        checked += 1
    assert checked > 40
