"""``read_spectra`` reads a file from disk once, and importers taking only a path still work.

Opens are counted by wrapping :func:`io.open` (what :meth:`pathlib.Path.open`, hence
``Path.read_bytes``, calls), :func:`builtins.open` and :func:`os.open` (what
:func:`eis_pipeline.io.source.read_bytes` calls); only opens of the file under test count.
"""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import FormatError
from eis_pipeline.io import registry
from eis_pipeline.io.registry import Importer, get_importer, importers, read_spectra
from eis_pipeline.io.source import Source
from eis_pipeline.io.text import parse_table, read_lines

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted([*ROOT.glob("sample_data/*/*.mpt"), *ROOT.glob("sample_data/*/*.DTA")])[:4]


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], int]:
    """Start counting opens for reading; the returned function gives the count for a path."""
    counts: dict[Path, int] = {}

    def counting(real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(file: Any, *args: Any, **kwargs: Any) -> Any:
            mode = args[0] if args else kwargs.get("mode", "r")
            if isinstance(file, (str, Path)) and not set("wax+") & set(mode):
                key = Path(file).resolve()
                counts[key] = counts.get(key, 0) + 1
            return real(file, *args, **kwargs)
        return wrapper

    def counting_fd(real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(file: Any, flags: int, *args: Any, **kwargs: Any) -> Any:
            if (isinstance(file, (str, Path))
                    and not flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)):
                key = Path(file).resolve()
                counts[key] = counts.get(key, 0) + 1
            return real(file, flags, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(io, "open", counting(io.open))
    monkeypatch.setattr(builtins, "open", counting(builtins.open))
    # eis_pipeline.io.source.read_bytes opens through the descriptor (os.open).
    monkeypatch.setattr(os, "open", counting_fd(os.open))
    return lambda path: counts.get(Path(path).resolve(), 0)


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "cell.csv"
    path.write_text("f,Z',Z''\n1000,10.0,-2.0\n100,12.0,-5.0\n10,20.0,-8.0\n")
    return path


def test_the_counter_sees_reads(opens: Callable[[Path], int], tmp_path: Path) -> None:
    """Guards the tests below: without this, a counter blind to reads would make them pass."""
    path = _csv(tmp_path)
    path.read_bytes()
    read_lines(path)
    with path.open("rb"):
        pass
    Source.of(path)
    assert opens(path) == 4


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_a_sample_file_is_opened_once(opens: Callable[[Path], int], sample: Path) -> None:
    spectra = read_spectra(sample)
    assert spectra and opens(sample) == 1


@pytest.mark.parametrize("fmt", [None, "generic-csv"])
def test_detected_or_forced_format_opens_once(opens: Callable[[Path], int], tmp_path: Path,
                                              fmt: str | None) -> None:
    path = _csv(tmp_path)
    (ds,) = read_spectra(path, format=fmt)
    assert opens(path) == 1
    # The hash is still that of the file's bytes.
    assert ds.attrs["source_sha256"] == registry.sha256_file(path)


def test_forced_format_error_hint_reads_no_more(opens: Callable[[Path], int],
                                                tmp_path: Path) -> None:
    """The 'looks like another format' hint re-sniffs the bytes already read."""
    path = _csv(tmp_path)
    with pytest.raises(FormatError, match="looks like 'generic-csv'"):
        read_spectra(path, format="zplot-z")
    assert opens(path) == 1


def test_every_shared_file_is_opened_once(opens: Callable[[Path], int],
                                          shared_formats: Path) -> None:
    read = 0
    for path in sorted(p for p in shared_formats.rglob("*") if p.is_file()):
        before = opens(path)
        try:
            read_spectra(path)
        except Exception:  # README, reference JSONs, files meant to be rejected
            continue
        assert opens(path) - before == 1, path
        read += 1
    assert read >= 40


def test_builtin_importers_take_a_source_and_a_path(tmp_path: Path) -> None:
    """``read_source`` is set, and the same function reads from a path or a Source alike."""
    assert all(imp.read_source is not None for imp in importers().values())
    path = _csv(tmp_path)
    imp = get_importer("generic-csv")
    from_path, from_source = imp.read(path), imp.read_from(Source.of(path))
    assert len(from_path) == len(from_source) == 1
    xr.testing.assert_identical(from_path[0], from_source[0])


def test_source_reads_lazily_and_once(tmp_path: Path, opens: Callable[[Path], int]) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"\xef\xbb\xbfa\r\nb\rc\n")  # BOM, mixed line endings
    src = Source.of(path)
    assert Source.of(src) is src
    assert src.lines() == ["a", "b", "c"]
    assert src.text is src.text  # decoded once
    assert src.sha256 == registry.sha256_file(path)
    assert opens(path) == 2  # Source.of, then sha256_file: the Source itself read once


# A third-party importer written against the path API only (no read_source).
MAGIC = b"PATHONLY 1\n"
calls: list[object] = []


def _sniff(path: Path, head: bytes) -> float:
    return 0.9 if head.startswith(MAGIC) else 0.0


def _read(path: Path) -> list[xr.Dataset]:
    calls.append(path)
    lines = read_lines(path)
    table = parse_table(lines[1:], path=path, first_line=2, ncols=3)
    return [make_spectrum(table[:, 0], table[:, 1] + 1j * table[:, 2], instrument="P")]


PATH_ONLY = Importer(name="path-only", description="test plugin taking a path",
                     suffixes=(".po",), sniff=_sniff, read=_read)


@pytest.fixture
def path_only_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from importlib.metadata import EntryPoint

    ep = EntryPoint(name="po", value=f"{__name__}:PATH_ONLY", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points",
                        lambda *, group: [ep] if group == registry.ENTRY_POINT_GROUP else [])
    registry._registry.cache_clear()
    calls.clear()
    yield
    registry._registry.cache_clear()


@pytest.mark.usefixtures("path_only_plugin")
def test_a_plugin_taking_only_a_path_still_works(tmp_path: Path) -> None:
    path = tmp_path / "cell.po"
    path.write_bytes(MAGIC + b"1000 10 -2\n100 12 -5\n")
    (ds,) = read_spectra(path)
    assert calls == [path]  # given the path itself, not a Source
    assert isinstance(calls[0], Path)
    assert ds.attrs["source_format"] == "path-only"
    assert ds.attrs["source_sha256"] == registry.sha256_file(path)
    np.testing.assert_array_equal(ds.impedance.values, [10 - 2j, 12 - 5j])
    (forced,) = read_spectra(path, format="path-only")
    xr.testing.assert_identical(forced, ds)
