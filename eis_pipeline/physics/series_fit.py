"""One pellet's temperature series fitted as one physical model (global Arrhenius fit).

Every spectrum of the series is fitted at once. The resistance of each arc with a role
(``bulk``, ``grain_boundary``) follows the Arrhenius law of PHYSICS.md section 6 instead of
being free per temperature:

    σ_r(T) = κ / R_r(T),   σ_r T = σ₀ exp(-E_a / (k_B T))   (form "sigma_T")
                           σ_r   = σ₀ exp(-E_a / (k_B T))   (form "sigma")

with κ = L/A the cell constant (PHYSICS.md section 5). What else is shared is a choice
(``shared``):

- ``"exponents"``: each arc's CPE exponent n is one number for the whole series;
- ``"capacitances"``: each arc's effective capacitance C_eff (Hsu-Mansfeld, PHYSICS.md
  section 3) is one number; its CPE's Q then follows from ``Q = C_eff^n R(T)^(n-1)``. The bulk
  permittivity of a solid electrolyte changes little with temperature, so this is the
  stronger physical constraint; leave it out when the capacitances drift.

Everything else (the electrode element, stray inductance, series resistances, and any arc
parameter not shared) is free per temperature. Arcs leave the measured window as the pellet
warms; the law carries their resistance from the temperatures where they are measured to
those where they are not, which is why the global fit beats a line through per-spectrum fits.

Uncertainties come from the joint Gauss-Newton covariance ``(JᵀJ)⁻¹ s²`` with
``s² = χ²/(N - P)`` (the noise level is estimated from the residuals of the whole series).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from eis_pipeline.conventions import BOLTZMANN_EV_PER_K, ROOM_TEMPERATURE_K
from eis_pipeline.exceptions import EisError, FitError
from eis_pipeline.fitting.batch import fit_spectra
from eis_pipeline.fitting.model import resolve_circuit
from eis_pipeline.physics.arrhenius import Form, arrhenius
from eis_pipeline.physics.geometry import resolve_geometry
from eis_pipeline.physics.roles import parse_layout

__all__ = ["fit_temperature_series"]

FloatArray = NDArray[np.float64]
SHARED_CHOICES = ("exponents", "capacitances")
ARRHENIUS_ROLES = ("bulk", "grain_boundary")


@dataclass
class _Plan:
    """How the global parameter vector θ maps onto every spectrum's circuit parameters."""

    names: list[str]            # θ names
    lower: list[float]
    upper: list[float]
    # per circuit parameter j: ("free", θ index per T) | ("arrhenius", role index) |
    # ("shared", θ index) | ("cdl", role index, θ index of ln C, circuit index of n)
    kind: list[tuple[Any, ...]]
    roles: list[tuple[str, int, int]]  # (role, θ index of a', circuit index of R)


def _spectrum_temperature(ds: xr.Dataset, i: int) -> float:
    if "temperature" not in ds:
        raise FitError(f"spectrum {i} has no temperature variable: pass temperature_K=[...] "
                       "(one value in K per spectrum)")
    t = float(np.nanmedian(np.asarray(ds["temperature"].values, dtype=float)))
    return t


def _stack(spectra: Sequence[xr.Dataset]) -> tuple[FloatArray, NDArray[np.complex128],
                                                   NDArray[np.bool_]]:
    """Frequencies and impedances padded to one length (padding masked out, weight 0)."""
    n = max(ds.sizes["frequency"] for ds in spectra)
    f = np.empty((len(spectra), n))
    z = np.empty((len(spectra), n), np.complex128)
    mask = np.zeros((len(spectra), n), bool)
    for i, ds in enumerate(spectra):
        fi = np.asarray(ds["frequency"].values, float)
        zi = np.asarray(ds["impedance"].values, np.complex128)
        k = fi.size
        f[i, :k], z[i, :k], mask[i, :k] = fi, zi, True
        f[i, k:], z[i, k:] = fi[-1], zi[-1]
    return f, z, mask


def _weights(z: NDArray[np.complex128], weighting: str) -> FloatArray:
    if weighting == "modulus":
        return np.asarray(1.0 / np.abs(z))
    if weighting == "unit":
        return np.ones(z.shape)
    raise FitError(f"weighting must be 'modulus' or 'unit' for a series fit, got {weighting!r}")


def fit_temperature_series(
    spectra: Sequence[xr.Dataset],
    circuit: str = "bulk-gb-electrode",
    temperature_K: Sequence[float] | NDArray[np.float64] | None = None,
    *,
    thickness_cm: float | None = None,
    diameter_cm: float | None = None,
    area_cm2: float | None = None,
    cell_constant_per_cm: float | None = None,
    form: Form = "sigma_T",
    shared: Sequence[str] = ("exponents",),
    weighting: str = "modulus",
    reference_temperature_K: float = ROOM_TEMPERATURE_K,
    max_nfev: int | None = None,
) -> xr.Dataset:
    """Fit all spectra of one pellet together, arc resistances following Arrhenius.

    Parameters
    ----------
    spectra : sequence of xarray.Dataset
        Canonical spectra (DESIGN.md section 4) of one pellet, any order, at >= 3 distinct
        temperatures.
    circuit : str
        A preset with roles (``bulk-gb-electrode``, ``single-arc-electrode``, ...): its
        ``bulk`` and ``grain_boundary`` arcs get the Arrhenius law.
    temperature_K : sequence of float, optional
        One temperature per spectrum; default: the median of each spectrum's ``temperature``.
    thickness_cm, diameter_cm, area_cm2, cell_constant_per_cm : float, optional
        Geometry (PHYSICS.md section 5): thickness with diameter or area, or the cell constant
        L/A in 1/cm alone.
    form : {"sigma_T", "sigma"}
        Arrhenius form (PHYSICS.md section 6).
    shared : sequence of {"exponents", "capacitances"}
        What each arc shares across temperatures (module docstring); ``()`` leaves only the
        resistances constrained.
    weighting : {"modulus", "unit"}
    reference_temperature_K : float
        Where σ is reported (``sigma_ref``); flagged when outside the measured range.
    max_nfev : int, optional
        Residual evaluations allowed (default 200 × number of parameters).

    Returns
    -------
    xarray.Dataset
        Along ``component`` (``bulk``, ``grain_boundary``, ``total``):
        ``activation_energy`` (eV), ``prefactor`` (S K/cm or S/cm) with ``_stderr``,
        ``sigma_ref`` (+ ``_stderr``, ``sigma_ref_extrapolated``). Along ``spectrum``
        (with ``temperature``): ``conductivity`` (spectrum, component) with ``_stderr``,
        circuit ``value`` (spectrum, param), ``frequency``, ``impedance``,
        ``impedance_fit``, ``impedance_residual`` (spectrum, point; NaN padded),
        ``spectrum_chi_square``. Scalars: ``chi_square``, ``reduced_chi_square``,
        ``converged``; attributes ``status``, ``message``, ``nfev``, ``form``, ``shared``.
        ``total`` is R_bulk + R_gb, which is not itself Arrhenius: its E_a is the weighted
        line through the global model's σ_total(T) (``arrhenius``), said in ``total_note``.

    Raises
    ------
    FitError
        Too few spectra or temperatures, a circuit without Arrhenius roles, bad options.
    GeometryError
        Missing or invalid geometry.
    """
    from scipy.optimize import least_squares
    from threadpoolctl import threadpool_limits


    spectra = list(spectra)
    if form not in ("sigma_T", "sigma"):
        raise FitError(f"form must be 'sigma_T' or 'sigma', got {form!r}")
    bad = [s for s in shared if s not in SHARED_CHOICES]
    if bad:
        raise FitError(f"shared accepts {SHARED_CHOICES}, got {bad}")
    if temperature_K is None:
        temps = np.array([_spectrum_temperature(ds, i) for i, ds in enumerate(spectra)])
    else:
        temps = np.asarray(temperature_K, float).ravel()
        if temps.size != len(spectra):
            raise FitError(f"temperature_K has {temps.size} values for {len(spectra)} spectra")
    if not np.all(np.isfinite(temps) & (temps > 0)):
        raise FitError(f"temperatures must be finite and positive (K), got {temps.tolist()}")
    if np.unique(temps).size < 3:
        raise FitError(f"a series fit needs >= 3 distinct temperatures, got "
                       f"{np.unique(temps).size}")
    if cell_constant_per_cm is not None:
        if not (math.isfinite(cell_constant_per_cm) and cell_constant_per_cm > 0):
            raise FitError(f"cell_constant_per_cm must be positive, got {cell_constant_per_cm}")
        kappa = float(cell_constant_per_cm)
    else:
        kappa = resolve_geometry({}, thickness_cm=thickness_cm, diameter_cm=diameter_cm,
                                 area_cm2=area_cm2).cell_constant_per_cm
    resolved = resolve_circuit(circuit)
    c: Any = resolved.compiled   # CompiledCircuit: bounds and kinds are read too
    names = list(c.param_names)
    layout = parse_layout(c.circuit)
    role_arcs = []
    for role in ARRHENIUS_ROLES:
        r_el = resolved.roles.get(role, {}).get("resistance")
        if r_el is None:
            continue
        arc = layout.find_arc(r_el)
        cap = layout.arcs[arc].capacitive if arc >= 0 else ""
        role_arcs.append((role, r_el, cap))
    if not role_arcs:
        raise FitError(f"circuit {circuit!r} has no bulk or grain_boundary resistance role: "
                       "use a preset such as bulk-gb-electrode")

    order = np.argsort(temps, kind="stable")
    temps_sorted = temps[order]
    spec_sorted = [spectra[i] for i in order]
    f, z, mask = _stack(spec_sorted)
    w = _weights(z, weighting) * mask
    n_t = temps.size
    x = 1.0 / (BOLTZMANN_EV_PER_K * temps_sorted)
    x_mid = float(x.mean())
    log_t = np.log(temps_sorted) if form == "sigma_T" else np.zeros(n_t)

    # --- starting values from the per-spectrum fits, trusted only where the arc is in window
    seq = fit_spectra(spec_sorted, circuit=c.circuit, weighting=weighting, errors="ignore")
    p0 = np.asarray(seq["value"].values, float)
    fmin, fmax = f.min(axis=1), f.max(axis=1)
    idx = {n: j for j, n in enumerate(names)}
    plan = _Plan([], [], [], [("free", None)] * len(names), [])
    theta0: list[float] = []
    r_start: dict[str, FloatArray] = {}
    # per role: (median in-window C_eff, start n, θ index of the shared n or -1)
    arc_start: dict[str, tuple[float, float, int]] = {}
    q_cols: dict[str, NDArray[np.int_]] = {}
    for role, r_el, cap in role_arcs:
        r = p0[:, idx[r_el]]
        inwin = np.isfinite(r) & (r > 0)
        c_eff = np.full(n_t, np.nan)
        n_exp = np.full(n_t, np.nan)
        if cap:
            q = p0[:, idx[f"{cap}_0"]]
            n_exp = p0[:, idx[f"{cap}_1"]] if f"{cap}_1" in idx else np.ones(n_t)
            c_eff = q ** (1 / n_exp) * r ** ((1 - n_exp) / n_exp)
            apex = 1.0 / (2 * np.pi * r * c_eff)
            inwin &= (apex >= fmin) & (apex <= fmax) & (n_exp >= 0.5)
            # An arc whose capacitance jumps by > 10x from the others is another feature the
            # per-spectrum fit put in this slot (arcs swap as they leave the window).
            if inwin.any():
                med = np.median(np.log(c_eff[inwin]))
                inwin &= np.abs(np.log(c_eff) - med) < math.log(10.0)
        if inwin.sum() < 2:
            inwin = np.isfinite(r) & (r > 0)
        if inwin.sum() < 2:
            raise FitError(f"the per-spectrum fits give no usable {role} resistance to start "
                           "the series fit from")
        y = np.log(r[inwin]) - np.log(kappa) - log_t[inwin]   # ln R - ln κ - ln T = -a' + E dx
        slope, icpt = np.polyfit(x[inwin] - x_mid, y, 1)
        plan.roles.append((role, len(theta0), idx[r_el]))
        plan.names += [f"{role}_ln_sigma_mid", f"{role}_activation_energy"]
        plan.lower += [-np.inf, -5.0]
        plan.upper += [np.inf, 5.0]
        theta0 += [-icpt, slope]
        plan.kind[idx[r_el]] = ("arrhenius", len(plan.roles) - 1)
        r_start[role] = np.exp(np.log(kappa) + log_t - (-icpt) + slope * (x - x_mid))
        n_med = float(np.clip(np.nanmedian(n_exp[inwin]), 0.31, 0.999)) if cap else 1.0
        c_med = float(np.exp(np.nanmedian(np.log(c_eff[inwin])))) if cap else math.nan
        arc_start[role] = (c_med, n_med, -1)
        if cap and f"{cap}_1" in idx and "exponents" in shared:
            plan.kind[idx[f"{cap}_1"]] = ("shared", len(theta0))
            arc_start[role] = (c_med, n_med, len(theta0))
            plan.names.append(f"{cap}_1")
            plan.lower.append(0.3)
            plan.upper.append(1.0)
            theta0.append(n_med)
        if cap and "capacitances" in shared:
            n_j = idx.get(f"{cap}_1", -1)
            plan.kind[idx[f"{cap}_0"]] = ("cdl", len(plan.roles) - 1, len(theta0), n_j)
            plan.names.append(f"{role}_ln_capacitance")
            plan.lower.append(-np.inf)
            plan.upper.append(np.inf)
            theta0.append(math.log(c_med))
    # per-temperature free parameters
    for j, name in enumerate(names):
        if plan.kind[j][0] != "free":
            continue
        kind_j = c.param_kinds[j]
        vals = p0[:, j].copy()
        bad_v = ~np.isfinite(vals)
        vals[bad_v] = np.nanmedian(vals) if np.any(~bad_v) else 1.0
        role_of = next((ra for ra in role_arcs if ra[2] and name == f"{ra[2]}_0"), None)
        if role_of is not None:
            # Q of an arc outside the window is unreliable: rebuild it from the in-window
            # C_eff and R(T) (PHYSICS.md 3: Q = C^n R^(n-1))
            cmed, nmed, _ = arc_start[role_of[0]]
            vals = cmed**nmed * r_start[role_of[0]] ** (nmed - 1)
            q_cols[role_of[0]] = np.arange(len(theta0), len(theta0) + n_t)
        lo, hi = float(c.lower_bounds[j]), float(c.upper_bounds[j])
        cols = []
        for t in range(n_t):
            cols.append(len(theta0))
            if kind_j == "positive":
                theta0.append(float(np.log(max(vals[t], 1e-300))))
                plan.lower.append(np.log(lo) if lo > 0 else -np.inf)
                plan.upper.append(np.log(hi) if np.isfinite(hi) and hi > 0 else np.inf)
            else:
                theta0.append(float(np.clip(vals[t], lo + 1e-9, hi - 1e-9)) if np.isfinite(lo)
                              and np.isfinite(hi) else float(vals[t]))
                plan.lower.append(lo)
                plan.upper.append(hi)
            plan.names.append(f"{name}@{temps_sorted[t]:.2f}K")
        plan.kind[j] = ("free", np.array(cols))
    positive = np.array([k == "positive" for k in c.param_kinds])
    lower, upper = np.array(plan.lower), np.array(plan.upper)
    with np.errstate(invalid="ignore"):   # inf bounds stay inf
        pad = 1e-9 * np.maximum(1.0, np.abs(np.where(np.isfinite(lower), lower, 0.0)))
        lo_in = np.where(np.isfinite(lower), lower + pad, -np.inf)
        pad = 1e-9 * np.maximum(1.0, np.abs(np.where(np.isfinite(upper), upper, 0.0)))
        hi_in = np.where(np.isfinite(upper), upper - pad, np.inf)
    th0 = np.clip(np.array(theta0), lo_in, hi_in)  # strictly inside: trf needs it
    # A second start with near-ideal arcs (n = 0.9): per-spectrum fits of out-of-window arcs
    # can put the shared exponent in a wrong basin (seen: n at its 0.3 bound, χ² 40x noise).
    starts = [th0]
    alt = th0.copy()
    for role, (cmed, _nmed, n_col) in arc_start.items():
        if n_col >= 0:
            alt[n_col] = 0.9
            if role in q_cols:
                alt[q_cols[role]] = 0.9 * math.log(cmed) - 0.1 * np.log(r_start[role])
    if not np.array_equal(alt, th0):
        starts.append(alt)

    def unpack(th: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Transformed circuit parameters u (T, P) and du/dθ (T, P, Θ)."""
        u = np.empty((n_t, len(names)))
        du = np.zeros((n_t, len(names), th.size))
        for j, k in enumerate(plan.kind):
            if k[0] == "free":
                u[:, j] = th[k[1]]
                du[np.arange(n_t), j, k[1]] = 1.0
            elif k[0] == "arrhenius":
                a = plan.roles[k[1]][1]
                u[:, j] = np.log(kappa) + log_t - th[a] + th[a + 1] * (x - x_mid)
                du[:, j, a] = -1.0
                du[:, j, a + 1] = x - x_mid
            elif k[0] == "shared":
                u[:, j] = th[k[1]]
                du[:, j, k[1]] = 1.0
        for j, k in enumerate(plan.kind):
            if k[0] == "cdl":   # ln Q = n ln C + (n - 1) ln R(T)
                rj = plan.roles[k[1]][2]
                nj = k[3]
                n_val = u[:, nj] if nj >= 0 else np.ones(n_t)
                u[:, j] = n_val * th[k[2]] + (n_val - 1) * u[:, rj]
                du[:, j, k[2]] = n_val
                du[:, j] += (n_val - 1)[:, None] * du[:, rj]
                if nj >= 0:
                    du[:, j] += (th[k[2]] + u[:, rj])[:, None] * du[:, nj]
        return u, du

    def natural(u: FloatArray) -> FloatArray:
        return np.where(positive, np.exp(u), u)

    def residual(th: FloatArray) -> FloatArray:
        zm = c.impedance(natural(unpack(th)[0]), f)
        d = (zm - z) * w
        out = np.concatenate([d.real.ravel(), d.imag.ravel()])
        # a trial step far outside the physical range can overflow: make it a bad step, not
        # a crash (the solver then shortens it)
        return np.nan_to_num(out, nan=1e150, posinf=1e150, neginf=-1e150)

    def jacobian(th: FloatArray) -> FloatArray:
        u, du = unpack(th)
        p = natural(u)
        _, jz = c.impedance_and_jacobian(p, f)        # (T, F, P)
        jz = jz * np.where(positive, p, 1.0)[:, None, :]  # d/du
        jt = np.einsum("tfp,tpk->tfk", jz, du) * w[:, :, None]
        out = np.concatenate([jt.real.reshape(-1, th.size), jt.imag.reshape(-1, th.size)])
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)

    budget = max_nfev if max_nfev is not None else 200 * th0.size
    # The matrices are small (≈ 2000 × 100): BLAS threads only contend with other processes
    # (measured: SVD 2 s threaded on a busy machine, 0.08 s on one thread).
    with threadpool_limits(limits=1):
        sols = [least_squares(residual, s0, jac=jacobian, bounds=(lower, upper), method="trf",
                              x_scale="jac", max_nfev=budget, xtol=1e-15, ftol=1e-15,
                              gtol=1e-10) for s0 in starts]
    sol = min(sols, key=lambda r: r.cost if np.isfinite(r.cost) else math.inf)
    th = sol.x
    jac = jacobian(th)
    res = residual(th)
    n_obs = int(2 * mask.sum())
    dof = n_obs - th.size
    chi2 = float(res @ res)
    s2 = chi2 / dof if dof > 0 else math.nan
    with threadpool_limits(limits=1):
        cov, n_undetermined = _covariance(jac, s2)
    at_bound = np.isclose(th, lower) | np.isclose(th, upper)
    converged = bool(sol.success and sol.status > 0 and np.all(np.isfinite(th)))
    ds = _assemble(spectra, order, temps_sorted, f, z, mask, c, names, unpack, natural,
                   th, cov, plan, kappa, form, x, x_mid, chi2, dof, converged, sol,
                   at_bound, tuple(shared), reference_temperature_K)
    ds["n_undetermined"] = ((), n_undetermined)
    return ds


def _covariance(jac: FloatArray, s2: float) -> tuple[FloatArray, int]:
    """``(JᵀJ)⁻¹ s²`` from the SVD of the column-scaled Jacobian, and the number of
    undetermined directions.

    A per-temperature parameter of an arc far outside the window (its Q at the hottest
    temperatures) has no effect on any residual: JᵀJ is singular, and a plain inverse returns
    noise (negative variances were seen). Such directions (singular value below 1e-10 of the
    largest) are dropped: they do not couple to the determined parameters such as E_a.
    """
    scale = np.linalg.norm(jac, axis=0)
    scale[scale == 0] = 1.0
    _, sv, vt = np.linalg.svd(jac / scale, full_matrices=False)
    keep = sv > 1e-10 * sv[0]
    v = vt[keep].T / sv[keep]
    cov = (v @ v.T) / np.outer(scale, scale) * s2
    # a parameter with a share in a dropped direction is itself undetermined: NaN, not 0
    lost = np.sum(vt[~keep] ** 2, axis=0) > 1e-8
    cov[lost, :] = np.nan
    cov[:, lost] = np.nan
    return cov, int((~keep).sum())


def _assemble(spectra, order, temps, f, z, mask, c, names, unpack, natural, th, cov,
              plan, kappa, form, x, x_mid, chi2, dof, converged, sol, at_bound, shared,
              t_ref):
    """The result dataset (spectra in the caller's order along ``spectrum``)."""
    u, _ = unpack(th)
    p = natural(u)
    zfit = c.impedance(p, f)
    n_t = temps.size
    log_t = np.log(temps) if form == "sigma_T" else np.zeros(n_t)
    comps = ["bulk", "grain_boundary", "total"]
    ea = np.full(3, np.nan)
    ea_err = np.full(3, np.nan)
    pre = np.full(3, np.nan)
    pre_err = np.full(3, np.nan)
    s_ref = np.full(3, np.nan)
    s_ref_err = np.full(3, np.nan)
    sigma = np.full((n_t, 3), np.nan)
    sigma_err = np.full((n_t, 3), np.nan)
    x_ref = 1.0 / (BOLTZMANN_EV_PER_K * t_ref)
    lt_ref = math.log(t_ref) if form == "sigma_T" else 0.0
    r_grad_total = np.zeros((n_t, th.size))
    r_total = np.zeros(n_t)
    for role, a, _rj in plan.roles:
        i = comps.index(role)
        sub = cov[a:a + 2, a:a + 2]
        ea[i], ea_err[i] = th[a + 1], math.sqrt(max(sub[1, 1], 0.0))
        # ln σ₀ = a' + E x_mid
        g0 = np.array([1.0, x_mid])
        ln_pre = th[a] + th[a + 1] * x_mid
        pre[i] = math.exp(ln_pre)
        pre_err[i] = pre[i] * math.sqrt(max(g0 @ sub @ g0, 0.0))
        # ln σ(T) = a' - E (x - x_mid) - ln T (σT form)
        ln_s = th[a] - th[a + 1] * (x - x_mid) - log_t
        sigma[:, i] = np.exp(ln_s)
        g = np.stack([np.ones(n_t), -(x - x_mid)], axis=1)
        sigma_err[:, i] = sigma[:, i] * np.sqrt(np.maximum(np.einsum("ti,ij,tj->t", g, sub, g),
                                                           0.0))
        gr = np.array([1.0, -(x_ref - x_mid)])
        s_ref[i] = math.exp(th[a] - th[a + 1] * (x_ref - x_mid) - lt_ref)
        s_ref_err[i] = s_ref[i] * math.sqrt(max(gr @ sub @ gr, 0.0))
        r = kappa / sigma[:, i]
        r_total += r
        r_grad_total[:, a] += -r          # dR/da' = -R
        r_grad_total[:, a + 1] += r * (x - x_mid)
    sigma[:, 2] = kappa / r_total
    sigma_err[:, 2] = sigma[:, 2] * np.sqrt(np.maximum(
        np.einsum("ti,ij,tj->t", r_grad_total, cov, r_grad_total), 0.0)) / r_total
    tot = arrhenius(temps, sigma[:, 2], sigma_err[:, 2], form=form, breakpoints=0)
    ea[2], ea_err[2] = float(tot.activation_energy[0]), float(tot.activation_energy_stderr[0])
    pre[2], pre_err[2] = float(tot.prefactor[0]), float(tot.prefactor_stderr[0])
    r_ref = sum(kappa / np.exp(th[a] - th[a + 1] * (x_ref - x_mid) - lt_ref)
                for _, a, _ in plan.roles)
    s_ref[2] = kappa / r_ref
    g_ref = np.zeros(th.size)
    for _, a, _ in plan.roles:
        rr = kappa / math.exp(th[a] - th[a + 1] * (x_ref - x_mid) - lt_ref)
        g_ref[a] += -rr
        g_ref[a + 1] += rr * (x_ref - x_mid)
    s_ref_err[2] = s_ref[2] * math.sqrt(max(g_ref @ cov @ g_ref, 0.0)) / r_ref

    inv = np.empty_like(order)
    inv[order] = np.arange(order.size)   # back to the caller's order
    w_res = (zfit - z) / np.abs(z)
    chi_each = np.sum(np.where(mask, np.abs(w_res) ** 2, 0.0), axis=1)
    nan_c = np.where(mask, 0, np.nan)
    extrap = not temps.min() <= t_ref <= temps.max()
    pre_units = "S K/cm" if form == "sigma_T" else "S/cm"
    ds = xr.Dataset(
        {
            "activation_energy": ("component", ea, {"units": "eV"}),
            "activation_energy_stderr": ("component", ea_err, {"units": "eV"}),
            "prefactor": ("component", pre, {"units": pre_units}),
            "prefactor_stderr": ("component", pre_err, {"units": pre_units}),
            "sigma_ref": ("component", s_ref, {"units": "S/cm",
                                               "long_name": f"σ at {t_ref:g} K"}),
            "sigma_ref_stderr": ("component", s_ref_err, {"units": "S/cm"}),
            "sigma_ref_extrapolated": ((), extrap),
            "conductivity": (("spectrum", "component"), sigma[inv], {"units": "S/cm"}),
            "conductivity_stderr": (("spectrum", "component"), sigma_err[inv],
                                    {"units": "S/cm"}),
            "value": (("spectrum", "param"), p[inv]),
            "frequency": (("spectrum", "point"), (f + nan_c)[inv], {"units": "Hz"}),
            "impedance": (("spectrum", "point"), (z + nan_c)[inv], {"units": "ohm"}),
            "impedance_fit": (("spectrum", "point"), (zfit + nan_c)[inv], {"units": "ohm"}),
            "impedance_residual": (("spectrum", "point"), (w_res + nan_c)[inv],
                                   {"units": "1", "long_name": "(Z_fit - Z) / |Z|"}),
            "spectrum_chi_square": ("spectrum", chi_each[inv]),
            "chi_square": ((), chi2),
            "reduced_chi_square": ((), chi2 / dof if dof > 0 else math.nan),
            "converged": ((), converged),
            "n_at_bound": ((), int(at_bound.sum())),
        },
        coords={"component": comps, "param": names,
                "temperature": ("spectrum", temps[inv], {"units": "K"})},
    )
    ds.attrs.update(
        circuit=c.circuit, form=form, shared=",".join(shared) or "none",
        reference_temperature_K=float(t_ref), cell_constant_per_cm=float(kappa),
        status=int(sol.status), message=str(sol.message), nfev=int(sol.nfev),
        n_global_params=int(th.size), boltzmann_constant_eV_per_K=BOLTZMANN_EV_PER_K,
        equation=("σT = σ0 exp(-Ea/(kB T))" if form == "sigma_T" else "σ = σ0 exp(-Ea/(kB T))"),
        total_note=("total = bulk + grain boundary in series is not itself Arrhenius: its E_a "
                    "is the weighted line through the global model's σ_total(T)"),
        source=[str(spectra[i].attrs.get("source", "")) for i in range(len(spectra))],
    )
    return ds


def series_fit_for_campaign(spectra: Sequence[xr.Dataset], fits: xr.Dataset, circuit: str,
                            geometry_kwargs: dict[str, float], form: Form) -> xr.Dataset:
    """The campaign's ``series_fit = "global"`` stage for one sample.

    Temperatures come from the fits' ``temperature`` coordinate (what the run inferred), in
    the spectra's order. A circuit without Arrhenius roles, or "auto", falls back to
    ``bulk-gb-electrode``. A series that cannot be fitted gives an empty dataset whose
    ``reason`` attribute says why (the run goes on; the per-spectrum results stand).
    """

    use = circuit if circuit != "auto" else "bulk-gb-electrode"
    temps = (np.asarray(fits["temperature"].values, float) if "temperature" in fits.coords
             or "temperature" in fits else None)
    geo = geometry_kwargs
    try:
        ds = fit_temperature_series(spectra, use, temps, form=form,
                                    thickness_cm=geo.get("thickness_cm"),
                                    diameter_cm=geo.get("diameter_cm"),
                                    area_cm2=geo.get("area_cm2"))
    except EisError as exc:
        empty = xr.Dataset()
        empty.attrs.update(reason=f"{type(exc).__name__}: {exc}", circuit=use, form=form)
        return empty
    ds.attrs["source"] = "; ".join(ds.attrs["source"])
    reasons = [] if bool(ds.converged) else [f"not converged: {ds.attrs['message']}"]
    lost = [str(c) for c in ds.component.values[:2]
            if np.isfinite(ds.activation_energy.sel(component=c))
            and not np.isfinite(ds.activation_energy_stderr.sel(component=c))]
    if lost:
        reasons.append(f"E_a of {', '.join(lost)} undetermined by the data (check the circuit: "
                       "is that arc in the window at any temperature?)")
    ds.attrs["reason"] = "; ".join(reasons)
    return ds
