"""``fit_spectra``: one circuit fitted to many spectra in one batch, as an xarray.Dataset.

The schema is fixed by docs/contracts.md ("fitting -> physics, pipeline").
:func:`fit_spectra_results` gives the same fit with the parameter table and the curves apart
(:class:`SpectraFitResults`), as the pipeline stores them (``/<sample>/fit`` and
``/<sample>/spectra``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from eis_pipeline.conventions import validate_spectrum
from eis_pipeline.exceptions import ConvergenceWarning, EisError, FitError, SpectrumError
from eis_pipeline.fitting.bounds import expand_bounds
from eis_pipeline.fitting.canonical import fit_canonical
from eis_pipeline.fitting.chain import chain_fits
from eis_pipeline.fitting.engine import WEIGHTINGS, BatchFit
from eis_pipeline.fitting.model import guess_vector, resolve_circuit
from eis_pipeline.fitting.solver import STATUS_MESSAGES, Status
from eis_pipeline.fitting.transforms import Bounds, ParameterSpace
from eis_pipeline.fitting.window import point_window

__all__ = ["SpectraFitResults", "fit_spectra", "fit_spectra_results"]

#: Spectra fitted together at most (bench/bench_batch.py: the throughput is flat from a few
#: hundred spectra per chunk up, the peak memory grows with the chunk).
FIT_CHUNK = 1024


def _structure_ok(ds: object) -> bool:
    """The cheap part of the spectrum contract: the two variables with the right dims."""
    if not isinstance(ds, xr.Dataset):
        return False
    v = ds.variables
    return ("frequency" in v and "impedance" in v and v["frequency"].dims == ("frequency",)
            and v["impedance"].dims == ("frequency",))


def _pack(spectra: Sequence[xr.Dataset], usable: Sequence[bool]
          ) -> tuple[NDArray[np.float64], NDArray[np.complex128], NDArray[np.int64]]:
    """NaN-padded (S, N) arrays; rows of unusable spectra stay NaN with 0 points."""
    lengths = np.array([ds.sizes["frequency"] if ok else 0
                        for ds, ok in zip(spectra, usable, strict=True)], dtype=np.int64)
    n = int(lengths.max(initial=0))
    f = np.full((len(spectra), n), np.nan)
    z = np.full((len(spectra), n), np.nan + 0j)
    for i, ds in enumerate(spectra):  # copying arrays, not fitting: cheap per spectrum
        if usable[i]:
            # Variable.values: no DataArray construction, ~10x cheaper than ds[name].values
            f[i, :lengths[i]] = ds.variables["frequency"].values
            z[i, :lengths[i]] = ds.variables["impedance"].values
    return f, z, lengths


def _temperature(ds: xr.Dataset) -> float:
    if not isinstance(ds, xr.Dataset) or "temperature" not in ds.variables:
        return float("nan")
    t = np.asarray(ds.variables["temperature"].values, dtype=np.float64)
    t = t[np.isfinite(t)]
    return float(t.mean()) if t.size else float("nan")


def _chained(fit: BatchFit, spectra: Sequence[xr.Dataset], f: NDArray[np.float64],
             z: NDArray[np.complex128], fit_from: Any) -> BatchFit:
    """``fit`` improved by warm starts along the temperatures of ``spectra``."""
    temps = np.array([_temperature(ds) for ds in spectra])
    if not np.isfinite(temps).all():
        bad = int(np.flatnonzero(~np.isfinite(temps))[0])
        where = spectra[bad].attrs.get("source") or f"spectrum {bad}"
        raise FitError(f"chain='temperature': {where} has no temperature; set its "
                       "'temperature' variable (K), or fit without chain")
    order = np.argsort(temps, kind="stable")
    return chain_fits(fit, order, lambda row, start: fit_from(f[row:row + 1],
                                                              z[row:row + 1], start))


def undetermined(value: NDArray[np.float64], stderr: NDArray[np.float64],
                 fixed: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Free parameters of finite value whose standard error is NaN or exceeds the value."""
    with np.errstate(invalid="ignore"):
        unknown = ~np.isfinite(stderr) | (stderr > np.abs(value))
    return unknown & np.isfinite(value) & ~fixed


#: The fitted curves of the fits dataset: (spectrum, point), NaN-padded.
CURVES = ("frequency", "impedance", "impedance_fit", "impedance_residual")


@dataclass(frozen=True)
class SpectraFitResults:
    """A batch fit with the parameter table and the curves apart.

    Attributes
    ----------
    parameters : xarray.Dataset
        Everything of the fits dataset (docs/contracts.md) but the curves: values, errors,
        covariances, status and statistics over ``spectrum`` (and ``param``); what the
        physics stage and the results file's ``fit`` group take.
    curves : xarray.Dataset
        ``frequency``, ``impedance``, ``impedance_fit`` and ``impedance_residual`` over
        ``(spectrum, point)``, packed as the results file packs spectra (docs/results.md):
        row ``i`` holds spectrum ``i``'s ``n_points`` fitted points, NaN after them;
        :meth:`curve` gives one spectrum's points alone.
    """

    parameters: xr.Dataset
    curves: xr.Dataset

    def curve(self, spectrum: int) -> xr.Dataset:
        """The fitted points of one spectrum (over ``frequency``), without padding."""
        n = int(self.parameters["n_points"].values[spectrum])
        row = self.curves.isel(spectrum=spectrum, point=slice(0, n))
        return row.drop_vars("spectrum").swap_dims(point="frequency").set_coords("frequency")

    def to_dataset(self) -> xr.Dataset:
        """Parameters and curves in one dataset: what :func:`fit_spectra` returns."""
        return self.parameters.assign(
            {k: self.curves.variables[k] for k in CURVES}).assign_attrs(self.parameters.attrs)


def fit_spectra(
    spectra: Sequence[xr.Dataset] | xr.Dataset,
    circuit: str = "bulk-gb-electrode",
    weighting: str = "modulus",
    initial_guess: Mapping[str, float] | Sequence[float] | None = None,
    constants: Mapping[str, float] | None = None,
    bounds: Bounds | None = None,
    errors: Literal["raise", "ignore"] = "raise",
    max_nfev: int | None = None,
    *,
    f_min_hz: float | None = None,
    f_max_hz: float | None = None,
    mask: Any = None,
    chain: Literal["temperature"] | None = None,
) -> xr.Dataset:
    """Fit one circuit to every spectrum, all in one batch.

    Parameters
    ----------
    spectra : list of xarray.Dataset (or one Dataset)
        Canonical spectra (DESIGN.md section 4), e.g. from :func:`eis_pipeline.read_spectra`.
        Different lengths and frequency grids are fine.
    circuit : str
        Preset name or impedance.py circuit string.
    weighting : {"modulus", "unit", "proportional"}
    initial_guess, constants, bounds
        As for :class:`~eis_pipeline.fitting.model.CircuitModel`; the same for every spectrum.
    errors : {"raise", "ignore"}
        With "ignore", a spectrum that cannot be fitted (invalid, too few points) gets NaN
        values, status 4 and the reason in ``message``, and the others are fitted.
    max_nfev : int, optional
        Residual evaluations allowed per start.
    f_min_hz, f_max_hz : float, optional
        Fit only the points inside this frequency window (Hz).
    mask : boolean array or sequence of them, optional
        Points to fit (True) per spectrum: one array for every spectrum, or one per
        spectrum. The fits dataset holds the points that were fitted.

    chain : {"temperature"}, optional
        After every spectrum is fitted from its own data, refit them in temperature order,
        each from its neighbour's fitted parameters, and keep the better fit of each
        (:mod:`~eis_pipeline.fitting.chain`): every spectrum reaches at least the optimum
        of its independent fit. Needs a finite temperature for every spectrum; ignored with
        ``initial_guess`` (one start for all).

    ``bounds`` may also name an element type (``{"R": (1e-3, 1e10), "CPE_1": (0.5, 1)}``),
    applying to every parameter of it; a per-parameter entry wins
    (:func:`~eis_pipeline.fitting.bounds.expand_bounds`).

    Returns
    -------
    xarray.Dataset
        The fits dataset of docs/contracts.md: the parameter table and the NaN-padded
        curves together (:func:`fit_spectra_results` keeps them apart).

    Warns
    -----
    ConvergenceWarning
        When some spectra did not reach a stationary point (their ``status`` > 0).

    Examples
    --------
    >>> from eis_pipeline.conventions import make_spectrum
    >>> from eis_pipeline.fitting.model import CircuitModel
    >>> f = np.logspace(6, 0, 31)
    >>> sim = CircuitModel("R0-p(R1,C1)").set_params_({"R0": 5.0, "R1": 50.0, "C1": 1e-6})
    >>> fits = fit_spectra([make_spectrum(f, sim.predict(f))], circuit="R0-p(R1,C1)")
    >>> np.round(fits["value"].sel(param="R1").values, 6).tolist()
    [50.0]
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = fit_spectra_results(spectra, circuit, weighting, initial_guess, constants,
                                      bounds, errors, max_nfev, f_min_hz=f_min_hz,
                                      f_max_hz=f_max_hz, mask=mask, chain=chain)
    for w in caught:   # said again from here, so that they point at this function's caller
        warnings.warn(w.message, w.category, stacklevel=2)
    return results.to_dataset()


def fit_spectra_results(
    spectra: Sequence[xr.Dataset] | xr.Dataset,
    circuit: str = "bulk-gb-electrode",
    weighting: str = "modulus",
    initial_guess: Mapping[str, float] | Sequence[float] | None = None,
    constants: Mapping[str, float] | None = None,
    bounds: Bounds | None = None,
    errors: Literal["raise", "ignore"] = "raise",
    max_nfev: int | None = None,
    *,
    f_min_hz: float | None = None,
    f_max_hz: float | None = None,
    mask: Any = None,
    chain: Literal["temperature"] | None = None,
) -> SpectraFitResults:
    """:func:`fit_spectra` with the parameter table and the curves apart
    (:class:`SpectraFitResults`); the same arguments, fits and warnings.

    Examples
    --------
    >>> from eis_pipeline.conventions import make_spectrum
    >>> from eis_pipeline.fitting.model import CircuitModel
    >>> f = np.logspace(6, 0, 31)
    >>> sim = CircuitModel("R0-p(R1,C1)").set_params_({"R0": 5.0, "R1": 50.0, "C1": 1e-6})
    >>> results = fit_spectra_results([make_spectrum(f, sim.predict(f))], circuit="R0-C1")
    >>> sorted(results.parameters.dims), results.curve(0).sizes["frequency"]
    (['param', 'param_j', 'spectrum'], 31)
    """
    if errors not in ("raise", "ignore"):
        raise FitError(f"errors must be 'raise' or 'ignore', got {errors!r}")
    if weighting not in WEIGHTINGS:
        raise FitError(f"unknown weighting {weighting!r}; expected one of {', '.join(WEIGHTINGS)}")
    if chain not in (None, "temperature"):
        raise FitError(f"chain must be None or 'temperature', got {chain!r}")
    if isinstance(spectra, xr.Dataset):
        spectra = [spectra]
    spectra = list(spectra)
    resolved = resolve_circuit(circuit)
    c = resolved.compiled
    names = tuple(c.param_names)
    space = ParameterSpace.build(names, c.param_kinds, constants, expand_bounds(names, bounds))
    guess = guess_vector(initial_guess, names, space)

    failed: dict[int, str] = {}

    def fail(i: int, err: EisError) -> None:
        if errors == "raise":
            raise err
        failed[i] = f"{STATUS_MESSAGES[Status.FAILED]}: {err}"

    # The full contract check (validate_spectrum) costs ~0.3 ms per spectrum in xarray
    # overhead; importers have already run it. Here: structure per spectrum, values
    # vectorised, and validate_spectrum only to word the error for a spectrum that fails.
    usable = [_structure_ok(ds) for ds in spectra]
    f_all, z_all, lengths = _pack(spectra, usable)
    f_all, z_all, lengths = point_window(f_all, z_all, lengths, f_min_hz, f_max_hz, mask)
    filled = np.arange(f_all.shape[1])[None, :] < lengths[:, None]
    bad_values = np.any(filled & ~((f_all > 0) & np.isfinite(f_all) & np.isfinite(z_all)),
                        axis=1)
    min_points = (space.free.size + 1) // 2
    for i in np.flatnonzero(~np.asarray(usable, dtype=bool) | bad_values
                            | (lengths < min_points)).tolist():
        ds = spectra[i]
        if not isinstance(ds, xr.Dataset):
            fail(i, SpectrumError(f"spectrum {i}: expected an xarray.Dataset, got "
                                  f"{type(ds).__name__}"))
            continue
        where = ds.attrs.get("source") or f"spectrum {i}"
        try:
            validate_spectrum(ds)
        except EisError as err:
            fail(i, err)
            continue
        fail(i, FitError(f"{where}: {int(lengths[i])} points, too few to fit "
                         f"{space.free.size} free parameters"))
    ok = np.array([i for i in range(len(spectra)) if i not in failed], dtype=np.int64)
    p = len(names)
    s = len(spectra)

    def full(shape: tuple[int, ...], fill: Any, dtype: Any = np.float64) -> NDArray[Any]:
        return np.full(shape, fill, dtype=dtype)

    value, stderr = full((s, p), np.nan), full((s, p), np.nan)
    at_bound = full((s, p), False, np.bool_)
    cov, corr = full((s, p, p), np.nan), full((s, p, p), np.nan)
    status = full((s,), Status.FAILED, np.int64)
    message = np.array([failed.get(i, "") for i in range(s)], dtype=object)
    scalars = {k: full((s,), np.nan) for k in ("cost", "chi_square", "reduced_chi_square",
                                                "aic", "bic")}
    n_points = lengths
    n_iter = full((s,), 0, np.int64)
    z_fit = full(z_all.shape, np.nan + 0j, np.complex128)
    # The solver's working set (Jacobians of every start, ~50 KB per spectrum) is needed
    # only while a chunk is fitted: chunks bound the peak memory, the results are small.
    # A chain runs over the whole temperature series: it is fitted as one chunk.
    chunk = max(int(ok.size), 1) if chain == "temperature" else FIT_CHUNK
    for first in range(0, ok.size, chunk):
        idx = ok[first:first + chunk]
        fit = fit_canonical(c, f_all[idx], z_all[idx], weighting=weighting, space=space,
                            initial_guess=guess, roles=resolved.start_roles,
                            bulk_from_intercept=resolved.start_intercept, max_nfev=max_nfev)
        if chain == "temperature" and guess is None and idx.size > 1:
            fit = _chained(fit, [spectra[i] for i in idx], f_all[idx], z_all[idx],
                           lambda f, z, start: fit_canonical(
                               c, f, z, weighting=weighting, space=space, initial_guess=start,
                               roles=resolved.start_roles,
                               bulk_from_intercept=resolved.start_intercept,
                               max_nfev=max_nfev))
        value[idx], stderr[idx] = fit.params, fit.stderr
        at_bound[idx] = fit.at_bound
        cov[idx], corr[idx] = fit.covariance, fit.correlation
        status[idx] = fit.status
        message[idx] = fit.messages
        for k, arr in scalars.items():
            arr[idx] = getattr(fit, k)
        n_iter[idx] = fit.n_iterations
        z_fit[idx] = fit.impedance_fit
        del fit
    bad = int(np.count_nonzero(status[ok] != Status.CONVERGED))
    if bad:
        warnings.warn(f"{bad} of {ok.size} fits of {circuit} did not converge; see the "
                      "'status' and 'message' variables", ConvergenceWarning, stacklevel=2)

    units = list(c.param_units)
    ds = xr.Dataset(
        {
            "param_units": ("param", np.array(units, dtype=object)),
            "value": (("spectrum", "param"), value),
            "stderr": (("spectrum", "param"), stderr),
            "covariance": (("spectrum", "param", "param_j"), cov),
            "correlation": (("spectrum", "param", "param_j"), corr),
            "fixed": ("param", space.fixed.copy()),
            # Not pinned down by the data: no finite standard error, or one larger than the
            # value itself (e.g. a parameter run to its floor or a spike's Q on 5 points).
            "undetermined": (("spectrum", "param"), undetermined(value, stderr,
                                                                 space.fixed)),
            # Pinned at a bound the solver used (the user's, or a safeguard such as the
            # resistance floor): the data pushed it there, so the fit is degenerate there.
            "at_bound": (("spectrum", "param"), at_bound),
            "status": ("spectrum", status),
            "converged": ("spectrum", status == Status.CONVERGED),
            "message": ("spectrum", message.astype(str)),
            **{k: ("spectrum", v) for k, v in scalars.items()},
            "n_points": ("spectrum", n_points),
            "n_iterations": ("spectrum", n_iter),
        },
        coords={
            "spectrum": np.arange(s),
            "param": list(names),
            "param_j": list(names),
            "source": ("spectrum", np.array([str(getattr(d, "attrs", {}).get("source", ""))
                                             for d in spectra],
                                            dtype=object).astype(str)),
            "sweep": ("spectrum", np.array([int(getattr(d, "attrs", {}).get("sweep", 0))
                                            for d in spectra],
                                           dtype=np.int64)),
            "temperature": ("spectrum", np.array([_temperature(d) for d in spectra]),
                            {"units": "K"}),
        },
        attrs={
            "circuit": c.circuit,
            "preset": resolved.preset,
            "roles": resolved.roles.to_json(),
            "bulk_from_intercept": int(resolved.bulk_from_intercept),
            "weighting": weighting,
            **({"chain": chain} if chain is not None and guess is None else {}),
            **({"f_min_hz": float(f_min_hz)} if f_min_hz is not None else {}),
            **({"f_max_hz": float(f_max_hz)} if f_max_hz is not None else {}),
        },
    )
    ds["value"].attrs["long_name"] = "fitted parameter value (units in param_units)"
    ds["cost"].attrs["long_name"] = "0.5 * sum of squared weighted residuals"
    curves = xr.Dataset(
        {
            "frequency": (("spectrum", "point"), f_all, {"units": "Hz"}),
            "impedance": (("spectrum", "point"), z_all, {"units": "ohm"}),
            "impedance_fit": (("spectrum", "point"), z_fit, {"units": "ohm"}),
            "impedance_residual": (("spectrum", "point"), z_all - z_fit,
                                   {"units": "ohm", "long_name": "Z_data - Z_fit"}),
        },
        coords={"spectrum": ds["spectrum"].values})
    return SpectraFitResults(ds, curves)
