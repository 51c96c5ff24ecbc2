"""Choose the equivalent circuit per spectrum: fit every candidate preset, compare AIC/BIC.

``--preset auto`` of the CLI and ``circuit = "auto"`` of the pipeline end here:
:func:`select_circuit` fits each candidate preset to all spectra (one batched
:func:`~eis_pipeline.fitting.batch.fit_spectra` call per candidate) and, per spectrum, keeps the
candidate with the lowest information criterion.

The rule
--------
Both criteria come from the same weighted χ² (:mod:`eis_pipeline.fitting.statistics`), so they
compare the candidates on the same data and weighting::

    AIC = n ln(χ²/n) + 2k,        BIC = n ln(χ²/n) + k ln n

with n = 2N real observations and k free parameters. Per spectrum:

1. eligible candidates are the converged fits (solver status 0) with a finite criterion and
   at least one residual degree of freedom (2N > k);
   when none converged, the non-converged fits with a finite criterion are used instead and
   ``selection_converged`` is False for that spectrum (its choice is a best effort);
2. Δ = criterion - lowest criterion among the eligible;
3. every eligible candidate with Δ < :data:`SIGNIFICANT_DELTA` (2) is as good as the best: a
   difference below 2 is "not worth more than a bare mention" (Kass & Raftery, J. Am. Stat.
   Assoc. 90 (1995) 773, for BIC; Burnham & Anderson, *Model Selection and Multimodel
   Inference* (2002), for AIC). Among those the one with the fewest free parameters wins, and
   among equally simple ones the lowest criterion. So an inductance or a second arc is kept
   only when the data ask for it.

BIC (default) penalises parameters by ln n ≈ 5 per parameter for a 70-point spectrum rather
than AIC's 2, so it resists over-fitting a second arc into noise; AIC is available.

The evidence
------------
:attr:`SelectionResult.evidence` is an ``xarray.Dataset`` over (spectrum, candidate) with
``aic``, ``bic``, ``converged``, ``status``, ``reduced_chi_square``, ``delta`` (of the chosen
criterion, NaN for ineligible fits) and ``weight`` (Akaike/Schwarz weights exp(-Δ/2) / Σ,
the relative support of each eligible candidate); over (candidate) ``n_params`` and ``arcs``
(R‖CPE arcs the preset resolves inside the window: 2 for bulk-gb, 1 otherwise); over
(spectrum) ``chosen``, ``selection_converged`` and, when ``drt=True``, ``drt_arcs``, the number
of arcs :func:`eis_pipeline.validation.drt.suggest_arcs` finds in the spectrum (-1 when the
DRT could not be computed) — independent, model-free evidence to compare with ``arcs``.

DRT seeds
---------
With ``drt=True`` (default) each spectrum's DRT is computed once, or taken from ``drts=`` when
the caller has them already (the campaign pipeline computes them once per spectrum for both this
and its DRT table, :func:`eis_pipeline.validation.tables.compute_drts`). Where a candidate's fit
did not converge, that spectrum is fitted once more from a seed built from the DRT
(:func:`eis_pipeline.fitting.drt_seed.drt_initial_guess`: R_∞, L, the electrode CPE and one
``(R, τ)`` per arc, ``Q = τ^n / R``, PHYSICS.md section 3), and the retry replaces the failed
fit only when it converges (``seeded`` in the evidence; the fit's ``message`` says so). It is a
per-spectrum fallback because ``fit_spectra`` takes one ``initial_guess`` for all spectra and a
guess replaces the data-driven multi-start rather than adding to it; adding DRT seeds as extra
starts inside the engine (``fit_arrays`` already accepts an (S, P) guess) is left to the fitting
engine's owner. On the 24 demo spectra it repaired 4 of 10 non-converged candidate fits and
changed no choice; the other 6 are circuits that do not describe their spectrum (4 two-arc fits
whose bulk arc lies above the window, where the bulk CPE is not identifiable; a circuit without
the visible inductance; one arc for two).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from eis_pipeline.circuits.roles import Roles
from eis_pipeline.exceptions import ConvergenceWarning, FitError
from eis_pipeline.fitting.batch import CURVES, SpectraFitResults, fit_spectra_results
from eis_pipeline.fitting.drt_seed import drt_initial_guess
from eis_pipeline.fitting.solver import Status
from eis_pipeline.validation.drt import suggest_arcs
from eis_pipeline.validation.tables import compute_drts

if TYPE_CHECKING:
    from eis_pipeline.validation.drt import DrtResult

__all__ = ["DEFAULT_CANDIDATES", "SIGNIFICANT_DELTA", "SelectionResult", "chosen_fits",
           "evidence_table", "fits_by_circuit", "select_circuit"]

#: Presets compared by default: one or two arcs in the window, with or without stray inductance.
DEFAULT_CANDIDATES: tuple[str, ...] = (
    "bulk-gb-electrode",
    "bulk-gb-electrode-inductance",
    "hf-intercept-gb-electrode",
    "hf-intercept-gb-electrode-no-inductance",
    "single-arc-electrode",
    "single-arc-electrode-inductance",
)
#: Criterion differences below this are not significant: the simpler model is kept.
SIGNIFICANT_DELTA = 2.0

Criterion = Literal["bic", "aic"]


@dataclass(frozen=True, eq=False)
class SelectionResult:
    """Outcome of :func:`select_circuit`.

    Attributes
    ----------
    chosen : tuple of str
        The chosen preset per spectrum, input order ("" when every candidate failed).
    evidence : xarray.Dataset
        The comparison over (spectrum, candidate); see the module docstring.
    results : mapping of str to SpectraFitResults
        Every candidate's fit over all spectra, parameter table and curves apart
        (:func:`~eis_pipeline.fitting.batch.fit_spectra_results`).
    criterion : str
        ``"bic"`` or ``"aic"``.
    """

    chosen: tuple[str, ...]
    evidence: xr.Dataset
    results: Mapping[str, SpectraFitResults]
    criterion: str

    @cached_property
    def fits(self) -> Mapping[str, xr.Dataset]:
        """Every candidate's fits dataset (docs/contracts.md) over all spectra: what
        ``fit_spectra`` returns. Built on first use: the pipeline takes :attr:`results`."""
        return {name: r.to_dataset() for name, r in self.results.items()}

    @property
    def selection_converged(self) -> NDArray[np.bool_]:
        """Per spectrum: False when the choice fell back to a non-converged fit."""
        return np.asarray(self.evidence["selection_converged"].values, dtype=bool)

    def table(self, spectrum: int) -> str:
        """The candidates of one spectrum as text (:func:`evidence_table`)."""
        return evidence_table(self.evidence, spectrum)


def evidence_table(evidence: xr.Dataset, spectrum: int) -> str:
    """The candidates of row ``spectrum`` of a selection ``evidence`` dataset as text:
    criterion, Δ, weight, k and whether the fit converged; ``*`` marks the chosen one."""
    ev = evidence.isel(spectrum=spectrum)
    criterion = str(evidence.attrs.get("criterion", "bic"))
    crit = criterion.upper()
    chosen = str(ev["chosen"].values)
    width = max(len(str(c)) for c in ev.candidate.values)
    lines = [f"  {'candidate':<{width}}  {crit:>10}  {'Δ' + crit:>8}  {'weight':>6}  "
             f"{'k':>2}  converged"]
    for j, name in enumerate(ev.candidate.values):
        mark = "*" if str(name) == chosen else " "
        value = float(ev[criterion].values[j])
        delta = float(ev["delta"].values[j])
        weight = float(ev["weight"].values[j])
        lines.append(f"{mark} {name!s:<{width}}  {value:>10.2f}  {delta:>8.2f}  "
                     f"{weight:>6.3f}  {int(ev['n_params'].values[j]):>2}  "
                     f"{'yes' if bool(ev['converged'].values[j]) else 'no'}")
    return "\n".join(lines)


def select_circuit(
    spectra: Sequence[xr.Dataset] | xr.Dataset,
    candidates: Sequence[str] = DEFAULT_CANDIDATES,
    criterion: Criterion = "bic",
    weighting: str = "modulus",
    *,
    drt: bool = True,
    drts: Sequence[DrtResult | None] | None = None,
    max_nfev: int | None = None,
    chain: Literal["temperature"] | None = None,
) -> SelectionResult:
    """Fit every candidate preset to every spectrum and choose per spectrum by BIC or AIC.

    Parameters
    ----------
    spectra : list of xarray.Dataset (or one Dataset)
        Canonical spectra, as for :func:`~eis_pipeline.fitting.batch.fit_spectra`.
    candidates : sequence of str
        Preset names (or circuit strings) to compare; default :data:`DEFAULT_CANDIDATES`.
    criterion : {"bic", "aic"}
        Information criterion; the rule is in the module docstring.
    weighting : {"modulus", "unit", "proportional"}
        The same for every candidate (the criteria are only comparable then).
    drt : bool
        Compute each spectrum's DRT: its arc count goes in the evidence (``drt_arcs``) and,
        where a candidate's fit did not converge, the fit is repeated once from the DRT
        seed (module docstring, "DRT seeds"; ``seeded`` in the evidence).
    drts : sequence of DrtResult or None, optional
        The spectra's DRTs already computed, one per spectrum (None where it failed), e.g.
        from :func:`eis_pipeline.validation.tables.compute_drts`: used instead of computing
        them again when ``drt`` is True, ignored when it is False.
    max_nfev : int, optional
        Passed to ``fit_spectra``.
    chain : {"temperature"}, optional
        Passed to ``fit_spectra``: every candidate is also warm-started along the
        temperature series (:mod:`~eis_pipeline.fitting.chain`).

    Returns
    -------
    SelectionResult

    Raises
    ------
    FitError
        For an unknown criterion, an empty or duplicated candidate list, or ``drts`` not
        holding one entry per spectrum.

    Examples
    --------
    >>> from eis_pipeline.circuits import compile_circuit
    >>> from eis_pipeline.conventions import make_spectrum
    >>> f = np.logspace(6, 0, 61)
    >>> p = [300.0, 2e-6, 0.9, 1e-5, 0.85]   # R1, CPE1_0, CPE1_1, CPE2_0, CPE2_1
    >>> z = compile_circuit("single-arc-electrode").impedance(np.array(p), f)
    >>> result = select_circuit([make_spectrum(f, z)], drt=False)
    >>> result.chosen
    ('single-arc-electrode',)
    """

    if criterion not in ("bic", "aic"):
        raise FitError(f"criterion must be 'bic' or 'aic', got {criterion!r}")
    candidates = tuple(candidates)
    if not candidates:
        raise FitError("select_circuit needs at least one candidate circuit")
    if len(set(candidates)) != len(candidates):
        raise FitError(f"duplicate candidates in {candidates}")
    if isinstance(spectra, xr.Dataset):
        spectra = [spectra]
    spectra = list(spectra)
    if drt and drts is not None and len(drts) != len(spectra):
        raise FitError(f"select_circuit: {len(drts)} DRT results for {len(spectra)} spectra; "
                       "pass one per spectrum (None where the DRT failed)")

    results: dict[str, SpectraFitResults] = {}
    with warnings.catch_warnings():
        # non-convergence is part of the evidence, not a warning per candidate
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name in candidates:
            # the parameter table and the curves apart: the pipeline needs no merged dataset
            results[name] = fit_spectra_results(spectra, circuit=name, weighting=weighting,
                                                errors="ignore", max_nfev=max_nfev,
                                                chain=chain)
        entries = drt_results(spectra, drts) if drt else None
        seeded = np.zeros((len(spectra), len(candidates)), dtype=bool)
        if entries is not None:
            for j, name in enumerate(candidates):
                results[name], seeded[:, j] = reseed_from_drt(results[name], spectra, entries,
                                                              name, weighting, max_nfev)
    fits = {name: r.parameters for name, r in results.items()}

    def stack(var: str) -> NDArray[np.float64]:
        return np.stack([fits[c][var].values for c in candidates], axis=1)

    values = stack(criterion).astype(np.float64)
    converged = stack("converged").astype(bool)
    n_params = np.array([int((~fits[c]["fixed"].values).sum()) for c in candidates])
    # a fit with no residual degree of freedom (2N <= k) interpolates: its χ² and criterion
    # say nothing about the model, so it cannot be chosen
    n_obs = 2 * np.asarray(fits[candidates[0]]["n_points"].values)
    values = np.where(n_obs[:, None] > n_params[None, :], values, np.nan)
    chosen_index, eligible, ok = choose(values, converged, n_params)

    best = np.where(eligible, values, np.inf).min(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        delta = np.where(eligible, values - best, np.nan)
        support = np.where(eligible, np.exp(-0.5 * np.nan_to_num(delta, nan=np.inf)), 0.0)
        total = support.sum(axis=1, keepdims=True)
        weight = np.where(total > 0, support / np.where(total > 0, total, 1.0), np.nan)
    chosen = tuple(candidates[i] if i >= 0 else "" for i in chosen_index.tolist())

    evidence = xr.Dataset(
        {
            "aic": (("spectrum", "candidate"), stack("aic")),
            "bic": (("spectrum", "candidate"), stack("bic")),
            "converged": (("spectrum", "candidate"), converged),
            "status": (("spectrum", "candidate"), stack("status")),
            "reduced_chi_square": (("spectrum", "candidate"), stack("reduced_chi_square")),
            "delta": (("spectrum", "candidate"), delta,
                      {"long_name": f"{criterion.upper()} minus the lowest eligible one"}),
            "weight": (("spectrum", "candidate"), weight,
                       {"long_name": f"{criterion.upper()} weight exp(-delta/2) / sum"}),
            "n_params": ("candidate", n_params, {"long_name": "free parameters"}),
            "arcs": ("candidate", np.array([_arcs_in_window(fits[c]) for c in candidates]),
                     {"long_name": "R-CPE arcs the circuit resolves inside the window"}),
            "chosen": ("spectrum", np.array(chosen, dtype=object).astype(str)),
            "selection_converged": ("spectrum", ok),
        },
        coords={
            "spectrum": np.arange(len(spectra)),
            "candidate": list(candidates),
            "source": ("spectrum", fits[candidates[0]]["source"].values),
            "sweep": ("spectrum", fits[candidates[0]]["sweep"].values),
        },
        attrs={"criterion": criterion, "significant_delta": SIGNIFICANT_DELTA,
               "weighting": weighting,
               "rule": "lowest criterion among converged fits; within significant_delta of "
                       "it, the fewest free parameters (eis_pipeline.fitting.selection)"},
    )
    if entries is not None:
        counts = np.array([len(d[1]) if d is not None else -1 for d in entries],
                          dtype=np.int64)
        evidence["drt_arcs"] = ("spectrum", counts,
                                {"long_name": "arcs found by DRT suggest_arcs (-1: no DRT)"})
        evidence["seeded"] = (("spectrum", "candidate"), seeded,
                              {"long_name": "fit repeated from the DRT seed and kept"})
    return SelectionResult(chosen=chosen, evidence=evidence, results=results,
                           criterion=criterion)


def choose(values: NDArray[np.float64], converged: NDArray[np.bool_],
           n_params: NDArray[np.int_]) -> tuple[NDArray[np.intp], NDArray[np.bool_],
                                                NDArray[np.bool_]]:
    """The selection rule of the module docstring, vectorised over spectra.

    Parameters
    ----------
    values : ndarray (S, C)
        Criterion per spectrum and candidate (NaN for a failed fit).
    converged : ndarray of bool (S, C)
    n_params : ndarray of int (C,)

    Returns
    -------
    chosen : ndarray of int (S,)
        Candidate index, -1 when no candidate has a finite criterion.
    eligible : ndarray of bool (S, C)
        The fits the choice was made among.
    selection_converged : ndarray of bool (S,)
        False where no converged fit was available (fallback) or nothing was chosen.
    """
    finite = np.isfinite(values)
    good = finite & np.asarray(converged, dtype=bool)
    any_good: NDArray[np.bool_] = np.asarray(good.any(axis=1), dtype=bool)
    eligible: NDArray[np.bool_] = np.asarray(np.where(any_good[:, None], good, finite),
                                             dtype=bool)
    best = np.where(eligible, values, np.inf).min(axis=1, keepdims=True)
    tied = eligible & (values - best < SIGNIFICANT_DELTA)
    # fewest parameters first, then the lowest criterion: as 0 <= Δ < SIGNIFICANT_DELTA for
    # tied candidates, k * SIGNIFICANT_DELTA + Δ orders them lexicographically by (k, Δ)
    k = np.asarray(n_params, dtype=np.float64)[None, :]
    key = np.where(tied, k * SIGNIFICANT_DELTA + (values - best), np.inf)
    chosen = np.where(eligible.any(axis=1), np.argmin(key, axis=1), -1)
    return chosen.astype(np.intp), eligible, any_good


def fits_by_circuit(result: SelectionResult, *, curves: bool = True) -> dict[str, xr.Dataset]:
    """The chosen fits grouped by preset, each keeping the spectra's original positions.

    Each value is that preset's fits dataset restricted to the spectra that chose it; its
    ``spectrum`` coordinate holds their positions in the input list, so per-group results
    (e.g. :func:`eis_pipeline.physics.conductivity.conductivity`) can be put back in order
    with ``xr.concat(..., dim="spectrum").sortby("spectrum")`` or by indexing. Spectra for
    which nothing could be fitted (chosen "") are left out. ``curves=False`` leaves the
    fitted curves out (the parameter table of :func:`~eis_pipeline.fitting.batch.
    fit_spectra_results` alone, as the pipeline stores it).
    """
    chosen = np.asarray(result.chosen, dtype=object)
    tables = result.fits if curves else {k: r.parameters for k, r in result.results.items()}
    groups: dict[str, xr.Dataset] = {}
    for name, table in tables.items():  # candidate order, so the dict order is stable
        idx = np.flatnonzero(chosen == name)
        if idx.size:
            # assign_attrs: a new attrs dict, the candidate's own dataset stays untouched
            groups[name] = table.isel(spectrum=idx).assign_attrs(
                selection_criterion=result.criterion)
    return groups


#: Variables of the fits dataset that do not depend on the circuit's parameters.
PER_SPECTRUM_VARIABLES = ("status", "converged", "message", "cost", "chi_square",
                          "reduced_chi_square", "aic", "bic", "n_points", "n_iterations",
                          "frequency", "impedance", "impedance_fit", "impedance_residual")


def chosen_fits(result: SelectionResult) -> xr.Dataset:
    """The chosen fit of every spectrum, in input order, without the parameter axis.

    The circuit-independent variables of the fits dataset (status, converged, message, the
    goodness-of-fit numbers and the fitted impedance curves) taken from each spectrum's chosen
    candidate, plus ``preset`` (spectrum): what a per-spectrum loop over the fits needs when
    the circuits differ. Parameter values are in :func:`fits_by_circuit`. A spectrum with no
    choice gets the first candidate's (failed) entries and preset "".
    """
    names = list(result.results)
    first = result.results[names[0]].parameters
    index = np.array([names.index(c) if c else 0 for c in result.chosen], dtype=np.intp)
    data: dict[str, Any] = {}
    for var in PER_SPECTRUM_VARIABLES:
        part = "curves" if var in CURVES else "parameters"
        variables = [getattr(result.results[n], part).variables[var] for n in names]
        stacked = np.stack([v.values for v in variables])  # (C, S, ...)
        picked = stacked[index, np.arange(index.size)]
        data[var] = (variables[0].dims, picked, dict(variables[0].attrs))
    data["preset"] = ("spectrum", np.array(result.chosen, dtype=object).astype(str))
    coords = {k: v for k, v in first.coords.items() if "param" not in v.dims
              and "param_j" not in v.dims and k not in ("param", "param_j")}
    return xr.Dataset(data, coords=coords,
                      attrs={"weighting": first.attrs.get("weighting", ""),
                             "selection_criterion": result.criterion})


DrtEntry = tuple["DrtResult", list[tuple[float, float]]]


def drt_results(spectra: Sequence[xr.Dataset],
                drts: Sequence[DrtResult | None] | None = None) -> list[DrtEntry | None]:
    """Each spectrum's DRT and :func:`~eis_pipeline.validation.drt.suggest_arcs`.

    None where the DRT cannot be computed (too few or invalid points). ``drts`` are the
    spectra's DRTs when already computed (one per spectrum, None where it failed); otherwise
    they are computed here (:func:`eis_pipeline.validation.tables.compute_drts`, one
    regularised solve of a few ms per spectrum).
    """

    if drts is None:
        drts = compute_drts(spectra)
    return [(d, suggest_arcs(d)) if d is not None else None for d in drts]


@overload
def reseed_from_drt(fits: xr.Dataset, spectra: Sequence[xr.Dataset],
                    drts: Sequence[DrtEntry | None], preset: str, weighting: str,
                    max_nfev: int | None) -> tuple[xr.Dataset, NDArray[np.bool_]]: ...


@overload
def reseed_from_drt(fits: SpectraFitResults, spectra: Sequence[xr.Dataset],
                    drts: Sequence[DrtEntry | None], preset: str, weighting: str,
                    max_nfev: int | None) -> tuple[SpectraFitResults, NDArray[np.bool_]]: ...


def reseed_from_drt(fits: xr.Dataset | SpectraFitResults, spectra: Sequence[xr.Dataset],
                    drts: Sequence[DrtEntry | None], preset: str, weighting: str,
                    max_nfev: int | None
                    ) -> tuple[xr.Dataset | SpectraFitResults, NDArray[np.bool_]]:
    """Refit from the DRT seed the spectra whose fit of ``preset`` did not converge.

    ``fits`` is a fits dataset or a :class:`~eis_pipeline.fitting.batch.SpectraFitResults`;
    the same kind is returned. A fit that failed before starting (status 4: invalid or too
    short spectrum) is not retried. The retry is kept only when it converges; its message
    then says so. This is a fallback for the few non-converged fits, one small fit per
    spectrum.
    """

    table = fits.parameters if isinstance(fits, SpectraFitResults) else fits
    kept = np.zeros(table.sizes["spectrum"], dtype=bool)
    retry = np.flatnonzero(~table["converged"].values
                           & (table["status"].values != Status.FAILED))
    if not table.attrs.get("preset") or retry.size == 0:
        return fits, kept
    refits: dict[int, xr.Dataset] = {}
    for i in retry.tolist():
        entry = drts[i]
        seed = drt_initial_guess(preset, entry[0], entry[1]) if entry is not None else None
        if seed is None:
            continue
        refit = fit_spectra_results([spectra[i]], circuit=preset, weighting=weighting,
                                    initial_guess=seed, errors="ignore", max_nfev=max_nfev)
        if bool(refit.parameters["converged"].values[0]):
            kept[i] = True
            refits[i] = refit.to_dataset()
    if not refits:
        return fits, kept
    if isinstance(fits, SpectraFitResults):
        return SpectraFitResults(_with_rows(fits.parameters, refits),
                                 _with_rows(fits.curves, refits)), kept
    return _with_rows(fits, refits), kept


def _with_rows(ds: xr.Dataset, refits: Mapping[int, xr.Dataset]) -> xr.Dataset:
    """A copy of ``ds`` whose per-spectrum variables hold, at each row ``i`` of ``refits``,
    that one-spectrum fit (its message marked as started from the DRT seed)."""
    out = ds.copy()
    for name, var in ds.data_vars.items():
        if "spectrum" not in var.dims:
            continue
        column = var.values.astype(object) if var.dtype.kind == "U" else var.values.copy()
        for i, refit in refits.items():
            new = refit[name].values[0]
            if name == "message":
                new = f"{new} (started from the DRT seed)"
            if "point" in var.dims:   # NaN-padded to the longest spectrum
                column[i] = np.nan
                column[i, :new.shape[0]] = new
            else:
                column[i] = new
        out[name] = (var.dims, column.astype(str) if var.dtype.kind == "U" else column,
                     var.attrs)
    return out


def _arcs_in_window(fits: xr.Dataset) -> int:
    """R‖CPE arcs the circuit resolves inside the measured window (from its roles)."""
    roles = Roles.of(fits)
    arcs = sum(1 for role in ("bulk", "grain_boundary")
               if "cpe" in roles.get(role, {}) or "capacitor" in roles.get(role, {}))
    return int(arcs)
