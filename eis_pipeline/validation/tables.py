"""Kramers-Kronig and DRT results of many spectra as datasets, for the results file."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from eis_pipeline.exceptions import EisError
from eis_pipeline.validation.drt import DrtResult, drt_batch
from eis_pipeline.validation.kramers_kronig import kramers_kronig_batch


def kramers_kronig_table(spectra: Sequence[xr.Dataset], ids: Sequence[str]) -> xr.Dataset:
    """Lin-KK test of each spectrum (PHYSICS.md section 8), one row per spectrum.

    Per-point residuals are NaN-padded to the longest spectrum (dimension ``point``).
    """
    n_points = max(ds.sizes["frequency"] for ds in spectra)
    residual = np.full((len(spectra), n_points), np.nan + 0j)
    # One batch: spectra on the same frequencies share their factorisations' set-up.
    rows = kramers_kronig_batch([ds.variables["frequency"].values for ds in spectra],
                                [ds.variables["impedance"].values for ds in spectra])
    for i, kk in enumerate(rows):   # copying rows into the padded table
        residual[i, : kk.frequency.size] = kk.residual_real + 1j * kk.residual_imag
    fraction = {"units": "1"}
    return xr.Dataset(
        {"kk_passed": ("spectrum", np.array([kk.passed for kk in rows], dtype=bool)),
         "kk_max_residual": ("spectrum", np.array([kk.max_residual for kk in rows]),
                             {**fraction, "long_name": "largest Lin-KK residual / |Z|"}),
         "kk_noise_estimate": ("spectrum", np.array([kk.noise_estimate for kk in rows]),
                               {**fraction, "long_name": "robust noise level of residuals"}),
         "kk_structured": ("spectrum", np.array([kk.structured for kk in rows], dtype=bool)),
         "kk_autocorrelation_z": ("spectrum",
                                  np.array([kk.autocorrelation_z for kk in rows])),
         "kk_reason": ("spectrum", np.array([kk.reason for kk in rows], dtype=str)),
         "kk_n_elements": ("spectrum", np.array([kk.n_elements for kk in rows])),
         "kk_residual": (("spectrum", "point"), residual,
                         {**fraction, "long_name": "Lin-KK residual (Z - Z_KK) / |Z|"})},
        coords={"spectrum_id": ("spectrum", list(ids))},
        attrs={"method": "Lin-KK (Schönleber 2014), PHYSICS.md section 8",
               "threshold": float(rows[0].threshold) if rows else np.nan,
               "hard_limit": float(rows[0].hard_limit) if rows else np.nan})


def compute_drts(spectra: Sequence[xr.Dataset]) -> list[DrtResult | None]:
    """Each spectrum's DRT (:func:`~eis_pipeline.validation.drt.drt`, default settings).

    None where the DRT cannot be computed (too few or invalid points). The DRT is a
    per-spectrum regularised solve (a few ms), so a pipeline computes it once per spectrum
    and hands the results to every consumer: circuit selection
    (:func:`eis_pipeline.fitting.selection.select_circuit`, ``drts=``) and
    :func:`drt_table` (``results=``).
    """
    # One batch: spectra on the same frequencies are solved as one stack.
    return drt_batch([ds.variables["frequency"].values for ds in spectra],
                     [ds.variables["impedance"].values for ds in spectra], invalid="none")


def drt_table(spectra: Sequence[xr.Dataset], ids: Sequence[str],
              results: Sequence[DrtResult | None] | None = None) -> xr.Dataset:
    """Distribution of relaxation times of each spectrum, NaN-padded to a common length.

    A spectrum whose DRT cannot be computed (too few points) gets a NaN row.

    Parameters
    ----------
    spectra : sequence of xarray.Dataset
        Canonical spectra.
    ids : sequence of str
        One spectrum id per spectrum (the ``spectrum_id`` coordinate).
    results : sequence of DrtResult or None, optional
        The spectra's DRTs already computed (:func:`compute_drts`), one per spectrum, None
        where it failed; computed here when omitted.

    Raises
    ------
    EisError
        When ``results`` or ``ids`` do not have one entry per spectrum.
    """
    if results is None:
        results = compute_drts(spectra)
    if len(results) != len(spectra) or len(ids) != len(spectra):
        raise EisError(f"drt_table: {len(spectra)} spectra but {len(results)} DRT results "
                       f"and {len(ids)} ids; pass one of each per spectrum")
    n_tau = max((r.tau_s.size for r in results if r is not None), default=1)
    n_peaks = max((len(r.peaks) for r in results if r is not None), default=1) or 1
    tau = np.full((len(spectra), n_tau), np.nan)
    gamma = np.full_like(tau, np.nan)
    peak_tau = np.full((len(spectra), n_peaks), np.nan)
    peak_r = np.full_like(peak_tau, np.nan)
    r_inf = np.full(len(spectra), np.nan)
    for i, r in enumerate(results):
        if r is None:
            continue
        tau[i, : r.tau_s.size] = r.tau_s
        gamma[i, : r.gamma_ohm.size] = r.gamma_ohm
        r_inf[i] = r.series_resistance_ohm
        for k, peak in enumerate(r.peaks):
            peak_tau[i, k] = peak.tau_s
            peak_r[i, k] = peak.resistance_ohm
    return xr.Dataset(
        {"tau": (("spectrum", "tau_index"), tau, {"units": "s"}),
         "gamma": (("spectrum", "tau_index"), gamma,
                   {"units": "ohm", "long_name": "γ(ln τ), Z = R∞ + ∫ γ/(1 + jωτ) d ln τ"}),
         "peak_tau": (("spectrum", "peak"), peak_tau, {"units": "s"}),
         "peak_resistance": (("spectrum", "peak"), peak_r, {"units": "ohm"}),
         "series_resistance": ("spectrum", r_inf, {"units": "ohm"})},
        coords={"spectrum_id": ("spectrum", list(ids))},
        attrs={"method": "Tikhonov-regularised NNLS, λ by generalised cross-validation"})
