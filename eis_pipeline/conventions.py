"""Names, dimensions and units shared by every stage, and the spectrum contract.

A *spectrum* is an :class:`xarray.Dataset` with one dimension, ``frequency`` (Hz, positive,
acquisition order kept), a complex ``impedance`` variable in ohm with the physical sign
(capacitive Z'' < 0) and optional ``time``, ``potential``, ``current`` and ``temperature``
variables. See DESIGN.md section 4. Importers build spectra with :func:`make_spectrum`; every
stage may rely on :func:`validate_spectrum` having passed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray
from xarray.indexes import PandasIndex

from eis_pipeline.exceptions import SpectrumError

FREQUENCY = "frequency"
IMPEDANCE = "impedance"

#: Optional per-point variables and their units.
OPTIONAL_VARIABLES: dict[str, tuple[str, str]] = {
    "time": ("s", "time since start of the measurement"),
    "potential": ("V", "electrode potential"),
    "current": ("A", "current"),
    "temperature": ("K", "sample temperature"),
}

UNITS: dict[str, str] = {
    FREQUENCY: "Hz",
    IMPEDANCE: "ohm",
    **{name: unit for name, (unit, _) in OPTIONAL_VARIABLES.items()},
}

LONG_NAMES: dict[str, str] = {
    FREQUENCY: "frequency",
    IMPEDANCE: "complex impedance Z' + jZ''",
    **{name: long for name, (_, long) in OPTIONAL_VARIABLES.items()},
}

#: Attributes every imported spectrum carries.
REQUIRED_ATTRS = ("source", "source_sha256", "source_format", "instrument", "sweep",
                  "original_metadata")

#: 0 °C in kelvin (exact).
ZERO_CELSIUS_K = 273.15
#: 25 °C in kelvin: the temperature at which conductivities are reported (PHYSICS.md 6).
ROOM_TEMPERATURE_K = 298.15
#: Boltzmann constant in eV/K (CODATA 2018, exact; PHYSICS.md section 6).
BOLTZMANN_EV_PER_K = 8.617333262e-5
#: Vacuum permittivity ε₀ in F/cm (CODATA 2018; PHYSICS.md section 4).
VACUUM_PERMITTIVITY_F_PER_CM = 8.8541878128e-14


#: xarray's constructor from ready-made parts, which skips the merge and alignment passes of
#: ``xr.Dataset(...)`` (~3x faster for a spectrum, the main cost of importing a small file).
#: It is private API, so :func:`make_spectrum` falls back to the public constructor if a
#: future xarray drops it; tests/test_conventions.py checks both give identical datasets.
_CONSTRUCT_DIRECT = getattr(xr.Dataset, "_construct_direct", None)
#: ``json.dumps(..., default=str)`` without building an encoder per call (the same output).
_METADATA_JSON = json.JSONEncoder(default=str)


def make_spectrum(
    frequency: Any,
    impedance: Any,
    *,
    sweep: int = 0,
    instrument: str = "",
    metadata: Mapping[str, Any] | EncodedMetadata | None = None,
    attrs: Mapping[str, Any] | None = None,
    **variables: Any,
) -> xr.Dataset:
    """Build a canonical spectrum from arrays.

    Parameters
    ----------
    frequency : array_like
        Frequencies in Hz, in acquisition order.
    impedance : array_like of complex
        Impedance in ohm with the physical sign (capacitive imaginary part negative).
    sweep : int
        Index of this sweep within its source file.
    instrument : str
        Instrument or software that wrote the file, when known.
    metadata : mapping or EncodedMetadata, optional
        The file's header as parsed; stored as the JSON attribute ``original_metadata``.
        Sweeps of one file that share a header pass it encoded once (:func:`encode_metadata`).
    attrs : mapping, optional
        Extra dataset attributes (e.g. ``thickness_cm`` read from a header).
    **variables : array_like
        Optional per-point variables named in :data:`OPTIONAL_VARIABLES`, in their SI units
        (temperature in kelvin).

    Returns
    -------
    xarray.Dataset
        Not yet carrying ``source``/``source_sha256``/``source_format``: the registry adds them.

    Raises
    ------
    ValueError
        If an array is not 1-D or its length differs from that of ``frequency``.

    Examples
    --------
    >>> ds = make_spectrum([1e3, 1e2], [10 - 1j, 12 - 5j])
    >>> ds.impedance.attrs["units"]
    'ohm'
    """
    f = np.asarray(frequency, dtype=np.float64)
    # Variables built directly: xarray's tuple parsing costs ~half of a small file's import.
    # xr.Variable refuses arrays that are not 1-D. ``fastpath`` skips xarray's conversion of
    # the data, which for a plain float64/complex128 ndarray (np.asarray's result) returns
    # the array unchanged anyway: the same variable, 2.5x cheaper.
    data_vars: dict[str, xr.Variable] = {
        IMPEDANCE: xr.Variable((FREQUENCY,), np.asarray(impedance, dtype=np.complex128),
                               {"units": UNITS[IMPEDANCE], "long_name": LONG_NAMES[IMPEDANCE]},
                               fastpath=True),
    }
    for name, values in variables.items():
        if name not in OPTIONAL_VARIABLES:
            raise TypeError(f"unknown spectrum variable {name!r}; "
                            f"expected one of {sorted(OPTIONAL_VARIABLES)}")
        if values is None:
            continue
        data_vars[name] = xr.Variable((FREQUENCY,), np.asarray(values, dtype=np.float64),
                                      {"units": UNITS[name], "long_name": LONG_NAMES[name]},
                                      fastpath=True)
    coord = xr.Variable((FREQUENCY,), f, {
        "units": UNITS[FREQUENCY], "long_name": LONG_NAMES[FREQUENCY]}, fastpath=True)
    for name, var in data_vars.items():
        if var.shape != coord.shape:
            raise ValueError(f"spectrum variable {name!r} has {var.shape[0]} points but "
                             f"frequency has {coord.shape[0]}; they must be the same length")
    ds_attrs: dict[str, Any] = {
        "instrument": instrument,
        "sweep": int(sweep),
        "original_metadata": (str(metadata) if isinstance(metadata, EncodedMetadata)
                              else _METADATA_JSON.encode(dict(metadata or {}))),
        **(attrs or {}),
    }
    if _CONSTRUCT_DIRECT is None:
        return xr.Dataset(data_vars, coords={FREQUENCY: coord}, attrs=ds_attrs)
    # What xr.Dataset(...) builds, without its merge: the frequency index, its coordinate
    # variable (wrapping that index) and the data variables, whose dims were checked above.
    # The index is built straight from the float64 array (PandasIndex.from_variables on an
    # IndexVariable would cast the values to a pandas index twice), already named: what
    # PandasIndex(f, ...) makes of a float64 array (pd.Index(f), then a shallow copy to set
    # its name) in one step, a third of the cost.
    index = PandasIndex(pd.Index(f, name=FREQUENCY), FREQUENCY, coord_dtype=f.dtype,
                        fastpath=True)
    variables = {**data_vars, **index.create_variables({FREQUENCY: coord})}
    ds: xr.Dataset = _CONSTRUCT_DIRECT(variables, {FREQUENCY}, {FREQUENCY: coord.shape[0]},
                                       ds_attrs, {FREQUENCY: index})
    return ds


class EncodedMetadata(str):
    """A header already encoded for ``original_metadata`` (:func:`encode_metadata`)."""


def encode_metadata(metadata: Mapping[str, Any] | None) -> EncodedMetadata:
    """A header as :func:`make_spectrum` stores it (JSON; values JSON cannot hold written with
    ``str``), for the sweeps of one file that share it: encoded once, not once per sweep.

    Examples
    --------
    >>> encode_metadata({"points": 29, "date": None})
    '{"points": 29, "date": null}'
    >>> ds = make_spectrum([1.0], [1 - 1j], metadata=encode_metadata({"a": 1}))
    >>> ds.attrs["original_metadata"], type(ds.attrs["original_metadata"]).__name__
    ('{"a": 1}', 'str')
    """
    return EncodedMetadata(_METADATA_JSON.encode(dict(metadata or {})))


def with_spectrum_variable(ds: xr.Dataset, name: str, values: Any,
                           attrs: Mapping[str, Any]) -> xr.Dataset:
    """Spectrum ``ds`` with the per-point variable ``name`` added (or replaced).

    The same dataset as ``ds.assign({name: ("frequency", values, attrs)})``, built without
    its merge and alignment passes (~10x cheaper; a campaign adds the temperature to every
    spectrum). ``ds`` is not modified: the new dataset has its own variable objects, which
    share their arrays with ``ds`` as ``assign`` does.

    Examples
    --------
    >>> ds = make_spectrum([1e3, 1e2], [10 - 1j, 12 - 5j])
    >>> with_spectrum_variable(ds, "temperature", [300.0, 300.0], {"units": "K"}).temperature.values
    array([300., 300.])
    """
    var = xr.Variable((FREQUENCY,), np.asarray(values), dict(attrs))
    if var.shape[0] != ds.sizes[FREQUENCY]:
        raise ValueError(f"spectrum variable {name!r} has {var.shape[0]} points but "
                         f"frequency has {ds.sizes[FREQUENCY]}; they must be the same length")
    if _CONSTRUCT_DIRECT is None or name in ds.coords or set(ds.dims) != {FREQUENCY}:
        return ds.assign({name: var})
    variables = {key: v.copy(deep=False) for key, v in ds.variables.items()}
    variables[name] = var
    out: xr.Dataset = _CONSTRUCT_DIRECT(variables, set(ds.coords), dict(ds.sizes),
                                        dict(ds.attrs), dict(ds.xindexes),
                                        dict(ds.encoding))
    return out


#: Upper bound of a physical frequency (Hz): no impedance analyser reaches 1 THz; a larger
#: value is a damaged field (a lost exponent sign, ``1e308``), never a measurement.
MAX_FREQUENCY_HZ = 1e12


def check_spectrum_arrays(frequency: Any, impedance: Any, *, min_points: int = 1,
                          where: str = "<spectrum>", nonzero_impedance: bool = False
                          ) -> tuple[NDArray[np.float64], NDArray[np.complex128]]:
    """The spectrum rules on bare arrays: the one check every stage uses.

    Returns ``(frequency Hz, impedance ohm)`` as 1-D float64/complex128 arrays. Rules: equal
    length, at least ``min_points`` points, frequencies finite, in (0, :data:`MAX_FREQUENCY_HZ`)
    Hz and each present once, impedance finite (and non-zero with ``nonzero_impedance``, for
    the checks that divide by |Z|). :func:`validate_spectrum` applies the same rules to a
    dataset; :class:`~eis_pipeline.fitting.model.CircuitModel`, the Kramers-Kronig test and
    the DRT to the arrays they are given.

    Raises
    ------
    SpectrumError
        ``"<where>: ..."`` naming the rule, the point index and its frequency.
    """
    f = np.asarray(frequency, dtype=np.float64)
    z = np.asarray(impedance, dtype=np.complex128)
    if f.ndim != 1 or z.shape != f.shape:
        raise SpectrumError(f"{where}: frequency and impedance must be 1-D arrays of the same "
                            f"length, got shapes {f.shape} and {z.shape}")
    if f.size == 0:
        raise SpectrumError(f"{where}: spectrum has no points")
    if f.size < min_points:
        raise SpectrumError(f"{where}: spectrum has {f.size} point(s); at least {min_points} "
                            "are needed (pass a whole sweep)")
    # np.count_nonzero(mask) == size is mask.all() at a fifth of the call overhead: these
    # checks run on every spectrum read, where numpy's per-call cost dominates.
    good = np.isfinite(f) & (f > 0) & (f < MAX_FREQUENCY_HZ)
    if np.count_nonzero(good) != f.size:
        bad = int(np.flatnonzero(~good)[0])
        raise SpectrumError(f"{where}: frequency must be positive, finite and below "
                            f"{MAX_FREQUENCY_HZ:g} Hz; point {bad} is {float(f[bad])!r} Hz (a "
                            "damaged row or a DC point left in?)")
    if f.size > 1:
        order = f.argsort(kind="stable")
        ranked = f[order]
        repeated = ranked[1:] == ranked[:-1]
        if np.count_nonzero(repeated):
            same = np.flatnonzero(repeated)
            i, j = sorted((int(order[same[0]]), int(order[same[0] + 1])))
            raise SpectrumError(f"{where}: frequency {float(f[i])!r} Hz appears twice (points "
                                f"{i} and {j}); frequencies must be distinct: remove the "
                                "repeated row, average the points, or split the sweeps it "
                                "belongs to")
    good_z = np.isfinite(z)
    if nonzero_impedance:
        good_z &= z != 0
    if np.count_nonzero(good_z) != z.size:
        bad = int(np.flatnonzero(~good_z)[0])
        rule = "finite and non-zero" if nonzero_impedance else "finite"
        raise SpectrumError(f"{where}: impedance must be {rule}; point {bad} (at "
                            f"{float(f[bad])!r} Hz) is {complex(z[bad])!r}. Fix or remove that "
                            "row of the file.")
    return f, z


def validate_spectrum(ds: xr.Dataset, *, require_attrs: bool = False,
                      min_points: int = 1) -> xr.Dataset:
    """Check that ``ds`` satisfies the canonical spectrum contract; return it unchanged.

    The one place that refuses physically impossible spectra: frequencies must be finite,
    in (0, :data:`MAX_FREQUENCY_HZ`) Hz and each present once; impedance, time, potential and
    current finite; temperature positive (kelvin) or NaN where it was not recorded; at least
    ``min_points`` points. Importers
    check their rows first so that their errors name the file line; this is the contract
    every stage relies on, run on every spectrum :func:`~eis_pipeline.read_spectra` returns.

    Parameters
    ----------
    ds : xarray.Dataset
        The spectrum.
    require_attrs : bool
        Also require the provenance attributes :data:`REQUIRED_ATTRS`.
    min_points : int
        Fewest points accepted (1: a single-frequency measurement is a valid spectrum).

    Raises
    ------
    SpectrumError
        Naming what is wrong and where (the ``source`` attribute and ``sweep`` when present,
        the point index and its frequency), and how to fix it.

    Examples
    --------
    >>> validate_spectrum(make_spectrum([1.0], [1 - 1j])).sizes["frequency"]
    1
    >>> validate_spectrum(make_spectrum([10.0, 10.0], [1 - 1j, 2 - 1j]))
    Traceback (most recent call last):
    ...
    eis_pipeline.exceptions.SpectrumError: <spectrum>: frequency 10.0 Hz appears twice ...
    """
    if not isinstance(ds, xr.Dataset):
        raise SpectrumError(f"expected an xarray.Dataset, got {type(ds).__name__}")
    where = str(ds.attrs.get("source", "<spectrum>"))
    if "sweep" in ds.attrs and "source" in ds.attrs:
        where = f"{where} (sweep {ds.attrs['sweep']})"

    def fail(msg: str) -> SpectrumError:
        return SpectrumError(f"{where}: {msg}")

    # Checks read ``ds.variables`` (plain Variables): ``ds[name]`` builds a DataArray with
    # its coordinates each time, which cost most of this function's time.
    variables = ds.variables
    if FREQUENCY not in ds.coords or variables[FREQUENCY].dims != (FREQUENCY,):
        raise fail("missing 1-D coordinate 'frequency'")
    if IMPEDANCE not in ds.data_vars:
        raise fail("missing variable 'impedance'")
    f = variables[FREQUENCY].values
    z = variables[IMPEDANCE]
    if f.dtype != np.float64:
        raise fail(f"frequency must be float64, got {f.dtype}")
    if z.dims != (FREQUENCY,):
        raise fail(f"impedance must have dims ('frequency',), got {z.dims}")
    if z.dtype != np.complex128:
        raise fail(f"impedance must be complex128, got {z.dtype}")
    check_spectrum_arrays(f, z.values, min_points=min_points, where=where)
    for name in (FREQUENCY, *ds.data_vars):
        units = variables[name].attrs.get("units")
        if name in UNITS and units != UNITS[name]:
            raise fail(f"{name} must have units {UNITS[name]!r}, got {units!r}")
    for name in OPTIONAL_VARIABLES:   # impedance: checked with the frequencies above
        if name not in variables:
            continue
        values = variables[name].values
        finite = np.isfinite(values)
        if name == "temperature":
            # NaN marks a point whose temperature was not recorded (e.g. Gamry's "no
            # thermocouple" filler); the series stages report it. Infinity is damage.
            finite |= np.isnan(values)
        if np.count_nonzero(finite) != finite.size:
            bad = int(np.flatnonzero(~finite)[0])
            raise fail(f"{name} must be finite; point {bad} (at {float(f[bad])!r} Hz) is "
                       f"{values[bad]!r}. Fix or remove that row of the file.")
    if ("temperature" in variables
            and np.count_nonzero(variables["temperature"].values <= 0)):  # NaN: not <= 0
        raise fail("temperature must be in kelvin (positive)")
    if require_attrs:
        missing = [a for a in REQUIRED_ATTRS if a not in ds.attrs]
        if missing:
            raise fail(f"missing attributes {missing}")
    return ds


def celsius_to_kelvin(celsius: Any) -> Any:
    """Convert °C to K (exact offset 273.15)."""
    return np.asarray(celsius, dtype=np.float64) + ZERO_CELSIUS_K
