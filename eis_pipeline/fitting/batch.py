"""``fit_spectra``: one circuit fitted to many spectra in one batch, as an xarray.Dataset.

The schema is fixed by docs/contracts.md ("fitting -> physics, pipeline").
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from eis_pipeline.conventions import validate_spectrum
from eis_pipeline.exceptions import ConvergenceWarning, EisError, FitError, SpectrumError
from eis_pipeline.fitting.bounds import expand_bounds
from eis_pipeline.fitting.engine import WEIGHTINGS, BatchFit, fit_arrays
from eis_pipeline.fitting.model import guess_vector, resolve_circuit
from eis_pipeline.fitting.solver import STATUS_MESSAGES, Status
from eis_pipeline.fitting.transforms import Bounds, ParameterSpace
from eis_pipeline.fitting.window import point_window

__all__ = ["fit_spectra"]


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


def undetermined(value: NDArray[np.float64], stderr: NDArray[np.float64],
                 fixed: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Free parameters of finite value whose standard error is NaN or exceeds the value."""
    with np.errstate(invalid="ignore"):
        unknown = ~np.isfinite(stderr) | (stderr > np.abs(value))
    return unknown & np.isfinite(value) & ~fixed


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

    ``bounds`` may also name an element type (``{"R": (1e-3, 1e10), "CPE_1": (0.5, 1)}``),
    applying to every parameter of it; a per-parameter entry wins
    (:func:`~eis_pipeline.fitting.bounds.expand_bounds`).

    Returns
    -------
    xarray.Dataset
        The fits dataset of docs/contracts.md.

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
    if errors not in ("raise", "ignore"):
        raise FitError(f"errors must be 'raise' or 'ignore', got {errors!r}")
    if weighting not in WEIGHTINGS:
        raise FitError(f"unknown weighting {weighting!r}; expected one of {', '.join(WEIGHTINGS)}")
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
    ok = [i for i in range(len(spectra)) if i not in failed]
    p = len(names)
    s = len(spectra)
    fit: BatchFit | None = None
    if ok:
        fit = fit_arrays(c, f_all[ok], z_all[ok], weighting=weighting, space=space,
                         initial_guess=guess, roles=resolved.start_roles,
                         bulk_from_intercept=resolved.start_intercept, max_nfev=max_nfev)

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
    if fit is not None:
        idx = np.asarray(ok)
        value[idx], stderr[idx] = fit.params, fit.stderr
        at_bound[idx] = fit.at_bound
        cov[idx], corr[idx] = fit.covariance, fit.correlation
        status[idx] = fit.status
        message[idx] = fit.messages
        for k, arr in scalars.items():
            arr[idx] = getattr(fit, k)
        n_iter[idx] = fit.n_iterations
        z_fit[idx] = fit.impedance_fit
        bad = int(np.count_nonzero(fit.status != Status.CONVERGED))
        if bad:
            warnings.warn(f"{bad} of {len(ok)} fits of {circuit} did not converge; see the "
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
            "frequency": (("spectrum", "point"), f_all, {"units": "Hz"}),
            "impedance": (("spectrum", "point"), z_all, {"units": "ohm"}),
            "impedance_fit": (("spectrum", "point"), z_fit, {"units": "ohm"}),
            "impedance_residual": (("spectrum", "point"), z_all - z_fit,
                                   {"units": "ohm", "long_name": "Z_data - Z_fit"}),
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
            **({"f_min_hz": float(f_min_hz)} if f_min_hz is not None else {}),
            **({"f_max_hz": float(f_max_hz)} if f_max_hz is not None else {}),
        },
    )
    ds["value"].attrs["long_name"] = "fitted parameter value (units in param_units)"
    ds["cost"].attrs["long_name"] = "0.5 * sum of squared weighted residuals"
    return ds
