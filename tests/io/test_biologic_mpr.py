"""BioLogic EC-Lab .mpr importer: every shared .mpr equals its .mpt; synthetic layouts; damage."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from eis_pipeline.exceptions import FormatError, ParseError, UnknownFormatError
from eis_pipeline.io.importers import biologic_mpr
from eis_pipeline.io.importers._biologic_mpr_columns import COLUMNS
from eis_pipeline.io.registry import detect_format, read_spectra

PAIRS = [
    "impedance_py/exampleDataBioLogic",
    "yadg/geis",
    "yadg/peis",
    "yadg/peis.issue_149",
    "yadg/peis.issue_225.no_ece",
    "yadg/peis.issue_225.with_ece",
    "yadg/vsp_peis_with",
    "yadg/zir",
]


# -- real files ---------------------------------------------------------------------------------

@pytest.mark.parametrize("stem", PAIRS)
def test_mpr_equals_its_mpt(shared_formats: Path, stem: str):
    mpr, mpt = shared_formats / f"{stem}.mpr", shared_formats / f"{stem}.mpt"
    assert detect_format(mpr).name == "biologic-mpr"
    binary = read_spectra(mpr)
    text = read_spectra(mpt)
    assert len(binary) == len(text) > 0
    for b, t in zip(binary, text, strict=True):
        assert b.sizes == t.sizes
        assert b.attrs["source_format"] == "biologic-mpr"
        # The .mpt holds the same float32 values printed with 8 significant digits.
        np.testing.assert_allclose(b.frequency.values, t.frequency.values, rtol=1e-6)
        np.testing.assert_allclose(b.impedance.values, t.impedance.values, rtol=1e-6)
        np.testing.assert_allclose(b.time.values, t.time.values, rtol=1e-12)
        np.testing.assert_allclose(b.potential.values, t.potential.values, rtol=1e-6)
        np.testing.assert_allclose(b.current.values, t.current.values, rtol=1e-6)
    assert len(read_spectra(mpr, format="biologic-mpr")) == len(binary)


def _mpt_table(path: Path) -> tuple[list[str], np.ndarray]:
    lines = path.read_bytes().decode("cp1252").splitlines()
    n = int(lines[1].split(":")[1])
    names = [name.strip() for name in lines[n - 1].split("\t")]
    values = np.array([[float(v) for v in row.split()] for row in lines[n:] if row.strip()])
    return names, values


@pytest.mark.parametrize("stem", PAIRS)
def test_every_column_id_matches_the_mpt_column_of_that_name(shared_formats: Path, stem: str):
    """The id table's evidence: each decoded column equals the .mpt column EC-Lab wrote."""
    data = (shared_formats / f"{stem}.mpr").read_bytes()
    modules = biologic_mpr.read_modules(data, Path(stem))
    (module,) = [m for m in modules if m.short_name == "VMP data"]
    body = data[module.offset:module.offset + module.length]
    ids, start = biologic_mpr._column_ids(body, module, Path(stem))
    dtype = biologic_mpr._record_dtype(ids, module, Path(stem))
    records = np.frombuffer(body, dtype=dtype, count=struct.unpack_from("<I", body)[0],
                            offset=start)
    names, table = _mpt_table(shared_formats / f"{stem}.mpt")
    for name in dtype.names:
        mpt = table[:, names.index(name)]
        mpr = records[name].astype(np.float64)
        # EC-Lab exports THD/NSD/NSR and harmonics as -1/0 for points it deems unreliable.
        valid = ~((mpt == -1) | (mpt == 0)) if ("h" in name or "%" in name) else slice(None)
        np.testing.assert_allclose(mpr[valid], mpt[valid], rtol=2e-7, err_msg=name)


def test_metadata_and_instrument(shared_formats: Path):
    (ds,) = read_spectra(shared_formats / "yadg/peis.mpr")
    assert ds.attrs["instrument"] == "BioLogic EC-Lab 11.33, SN 0200"
    meta = json.loads(ds.attrs["original_metadata"])
    assert meta["technique"] == "PEIS"
    assert meta["data_version"] == 3
    assert [m["name"] for m in meta["modules"]] == ["VMP settings", "VMP data", "VMP LOG"]
    geis = read_spectra(shared_formats / "yadg/geis.mpr")
    assert json.loads(geis[0].attrs["original_metadata"])["technique"] == "GEIS"


def test_geis_zero_frequency_rows_dropped(shared_formats: Path):
    spectra = read_spectra(shared_formats / "yadg/geis.mpr")
    assert len(spectra) == 61
    assert sum(ds.sizes["frequency"] for ds in spectra) == 2528 - 29


def test_loop_module_agrees_with_cycle_numbers(shared_formats: Path):
    data = (shared_formats / "yadg/peis.issue_149.mpr").read_bytes()
    modules = biologic_mpr.read_modules(data, Path("x"))
    np.testing.assert_array_equal(biologic_mpr._loop_starts(data, modules, 84),
                                  [0, 21, 42, 63, 84])
    spectra = read_spectra(shared_formats / "yadg/peis.issue_149.mpr")
    assert [ds.attrs["cycle_number"] for ds in spectra] == [1, 2, 3, 4]


# -- synthetic files of each layout -------------------------------------------------------------

def _module(short: str, long: str, body: bytes, version: int, extended: bool) -> bytes:
    names = short.encode().ljust(10) + long.encode().ljust(25)
    if extended:
        header = struct.pack("<IIII8s", 0xFFFFFFFF, len(body), version, 11, b"11/21/26")
    else:
        header = struct.pack("<II8s", len(body), version, b"11/21/26")
    return b"MODULE" + names + header + body


def _mpr(columns: dict[int, np.ndarray], *, version: int = 3, extended: bool = False,
         n_points: int | None = None, loop: list[int] | None = None) -> bytes:
    ids = list(columns)
    dtype = np.dtype([(f"c{i}", COLUMNS[i][1]) for i in ids])
    n = len(next(iter(columns.values())))
    records = np.zeros(n, dtype=dtype)
    for i, values in columns.items():
        records[f"c{i}"] = values
    if extended:
        head = struct.pack("<IH", n if n_points is None else n_points, len(ids))
        head += struct.pack(f"<{len(ids)}H", *ids)
        start = 1007
    elif version == 0:
        head = struct.pack("<IB", n if n_points is None else n_points, len(ids)) + bytes(ids)
        start = 100
    else:
        head = struct.pack("<IB", n if n_points is None else n_points, len(ids))
        head += struct.pack(f"<{len(ids)}H", *ids)
        start = 403 + version
    body = head.ljust(start, b"\0") + records.tobytes()
    out = b"BIO-LOGIC MODULAR FILE\x1a".ljust(48) + b"\0" * 4
    out += _module("VMP Set", "VMP settings", b"\x1d" + b"\0" * 99, 0, extended)
    out += _module("VMP data", "VMP data", body, 0 if extended else version, extended)
    if loop is not None:
        out += _module("VMP loop", "VMP expt. loop indexes",
                       struct.pack(f"<I{len(loop)}I", len(loop), *loop), 0, extended)
    return out


def _columns(f, z, cycle=None) -> dict[int, np.ndarray]:
    cols = {32: np.asarray(f), 37: np.real(z), 38: -np.imag(z),
            4: np.arange(len(f), dtype=float) * 1.5, 77: np.full(len(f), 0.25),
            76: np.full(len(f), -2.0)}
    if cycle is not None:
        cols[24] = np.asarray(cycle, dtype=float)
    return cols


@pytest.mark.parametrize(("version", "extended"), [(0, False), (2, False), (3, False),
                                                   (0, True)])
def test_synthetic_layouts(tmp_path: Path, version: int, extended: bool):
    f = np.array([1e5, 1e3, 0.0, 10.0, 1e5, 1e3, 10.0])  # a DC row between points is dropped
    z = np.array([10 - 1j, 12 - 5j, 0, 20 - 8j, 10.5 - 1j, 12.5 - 5j, 21 - 8j])
    path = tmp_path / "s.mpr"
    path.write_bytes(_mpr(_columns(f, z), version=version, extended=extended))
    spectra = read_spectra(path)
    assert len(spectra) == 2  # split where the sweep restarts
    np.testing.assert_allclose(spectra[0].frequency.values, [1e5, 1e3, 10.0], rtol=1e-7)
    np.testing.assert_allclose(spectra[1].impedance.values, [10.5 - 1j, 12.5 - 5j, 21 - 8j],
                               rtol=1e-7)
    np.testing.assert_allclose(spectra[0].current.values, -2e-3, rtol=1e-7)  # mA -> A
    np.testing.assert_allclose(spectra[0].time.values, [0.0, 1.5, 4.5])


def test_synthetic_loop_index_splits_sweeps(tmp_path: Path):
    f = np.array([1e3, 1e2, 1e1, 1e0])  # monotonic: only the loop index says "two loops"
    path = tmp_path / "loop.mpr"
    path.write_bytes(_mpr(_columns(f, np.ones(4) - 1j), loop=[0, 2, 4]))
    assert [ds.sizes["frequency"] for ds in read_spectra(path)] == [2, 2]


def test_inconsistent_loop_index_is_ignored(tmp_path: Path):
    path = tmp_path / "badloop.mpr"
    path.write_bytes(_mpr(_columns([1e3, 1e2, 1e1], np.ones(3) - 1j), loop=[0, 2, 1, 99]))
    assert [ds.sizes["frequency"] for ds in read_spectra(path)] == [3]


def test_synthetic_temperature_column(tmp_path: Path):
    cols = _columns([1e3, 1e2], [1 - 1j, 2 - 2j])
    cols[29] = np.array([25.0, 80.0])
    path = tmp_path / "t.mpr"
    path.write_bytes(_mpr(cols))
    (ds,) = read_spectra(path)
    np.testing.assert_allclose(ds.temperature.values, [298.15, 353.15])


# -- damaged and foreign files ---------------------------------------------------------------

@pytest.mark.parametrize(("version", "extended", "layout"), [
    (3, False, "version 3"), (0, True, r"version 0, EC-Lab >= 11\.50 layout")])
def test_unknown_column_id_is_named(tmp_path: Path, version: int, extended: bool, layout: str):
    data = bytearray(_mpr(_columns([1e3, 1e2], [1 - 1j, 2 - 2j]), version=version,
                          extended=extended))
    at = data.index(struct.pack("<6H", 32, 37, 38, 4, 77, 76))
    data[at + 6:at + 8] = struct.pack("<H", 999)  # column 4 -> unknown id 999
    path = tmp_path / "u.mpr"
    path.write_bytes(bytes(data))
    with pytest.raises(ParseError, match=rf"unknown EC-Lab column id\(s\) \[999\].*{layout}") \
            as info:
        read_spectra(path)
    assert info.value.path == str(path)


def test_non_impedance_mpr(tmp_path: Path):
    cols = {4: np.arange(3.0), 77: np.ones(3), 76: np.ones(3)}
    path = tmp_path / "cp.mpr"
    path.write_bytes(_mpr(cols))
    assert detect_format(path).name == "biologic-mpr"
    with pytest.raises(ParseError, match="not an impedance measurement: no frequency column"):
        read_spectra(path)


def test_zero_rows(tmp_path: Path):
    path = tmp_path / "empty.mpr"
    path.write_bytes(_mpr({k: v[:0] for k, v in _columns([1.0], [1 - 1j]).items()}))
    assert biologic_mpr.read(path) == []
    with pytest.raises(FormatError, match="no impedance data points"):
        read_spectra(path)


def test_record_count_inconsistent_with_size(tmp_path: Path):
    path = tmp_path / "n.mpr"
    path.write_bytes(_mpr(_columns([1e3, 1e2], [1 - 1j, 2 - 2j]), n_points=3))
    with pytest.raises(ParseError, match="3 records of 28 bytes"):
        read_spectra(path)


@pytest.mark.parametrize("keep", [30, 60, 2000, 10_000])
def test_truncated_real_file(shared_formats: Path, tmp_path: Path, keep: int):
    path = tmp_path / "cut.mpr"
    path.write_bytes((shared_formats / "yadg/peis.mpr").read_bytes()[:keep])
    with pytest.raises(FormatError) as info:
        read_spectra(path, format="biologic-mpr")
    assert str(path) in str(info.value)


def test_garbage(tmp_path: Path, rng: np.random.Generator):
    path = tmp_path / "g.mpr"
    path.write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert biologic_mpr.sniff(path, path.read_bytes()) == 0.0
    with pytest.raises(UnknownFormatError):
        read_spectra(path)
    with pytest.raises(ParseError, match="BIO-LOGIC MODULAR FILE"):
        read_spectra(path, format="biologic-mpr")


def test_unsupported_data_version(tmp_path: Path):
    path = tmp_path / "v9.mpr"
    path.write_bytes(_mpr(_columns([1e3], [1 - 1j]), version=9))
    with pytest.raises(ParseError, match="version 9 is not supported"):
        read_spectra(path)
