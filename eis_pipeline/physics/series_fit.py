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
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from eis_pipeline.circuits.presets import PRESETS, get_preset
from eis_pipeline.conventions import BOLTZMANN_EV_PER_K, ROOM_TEMPERATURE_K
from eis_pipeline.exceptions import EisError, FitError
from eis_pipeline.fitting.batch import fit_spectra
from eis_pipeline.fitting.model import resolve_circuit
from eis_pipeline.physics.arrhenius import Form, arrhenius
from eis_pipeline.physics.dielectric import conductivity_spectra
from eis_pipeline.physics.geometry import Geometry, resolve_geometry
from eis_pipeline.physics.roles import parse_layout
from eis_pipeline.vocabulary import TemperatureLaw, is_auto_circuit

__all__ = ["fit_temperature_series", "search_series_breakpoint"]

FloatArray = NDArray[np.float64]
SHARED_CHOICES = ("exponents", "capacitances")

#: What ``shared="auto"`` tries, most constrained first (on a tie the simpler model stays).
#: Real exponents drift with temperature (seen: a Novocontrol pellet series at 140-200 °C,
#: grain-boundary n 0.79 -> 0.89): forcing one n then biases E_a (bulk 0.81 instead of the
#: per-spectrum 0.60 eV, χ² 1.6x the per-spectrum sum), so what is shared is chosen by the data.
SHARING_CANDIDATES: tuple[tuple[str, ...], ...] = (
    ("exponents", "capacitances"), ("exponents",), ("capacitances",), ())
ARRHENIUS_ROLES = ("bulk", "grain_boundary")
#: Smallest value a per-temperature positive parameter (R, Q, L) may take. An arc far outside
#: the window has no effect on the data, and its Q would otherwise drift to 1e-214, where the
#: compiled Jacobian (which squares Q) underflows to NaN for the whole spectrum: measured on
#: seed 1012 of the coverage test, 30 % wrong E_a columns and a 6-sigma "outlier".
POSITIVE_FLOOR = 1e-30
#: A global E_a with a standard error above this (eV) is named in the campaign's reason.
POOR_STDERR_EV = 0.05


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
    shared: Sequence[str] | str = "auto",
    weighting: str = "modulus",
    reference_temperature_K: float = ROOM_TEMPERATURE_K,
    breakpoint_K: float | None = None,
    max_nfev: int | None = None,
    seed: xr.Dataset | None = None,
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
    shared : "auto" or sequence of {"exponents", "capacitances"}
        What each arc shares across temperatures (module docstring); ``()`` leaves only the
        resistances constrained. ``"auto"`` (default) fits every choice of
        :data:`SHARING_CANDIDATES` and keeps the lowest BIC of the series' weighted
        residuals: sharing is kept only where the data do not contradict it. The choice is
        in ``attrs["shared"]``, every candidate's score in ``attrs["shared_search"]``.
    weighting : {"modulus", "unit"}
    reference_temperature_K : float
        Where σ is reported (``sigma_ref``); flagged when outside the measured range.
    breakpoint_K : float, optional
        A known phase transition (as in :func:`~eis_pipeline.physics.arrhenius.arrhenius`):
        each arc's law gets two activation energies, below and above it, continuous at the
        breakpoint (σ has no jump there). ``activation_energy`` and ``prefactor`` then have a
        ``segment`` dimension (0: below, 1: above). Each side needs >= 2 temperatures.
    max_nfev : int, optional
        Residual evaluations allowed (default 200 × number of parameters).
    seed : xarray.Dataset, optional
        Circuit values to start from in place of fresh per-spectrum fits: ``value``
        (spectrum, param) over the same spectra in the same order, e.g. an earlier
        ``fit_temperature_series`` result (:func:`search_series_breakpoint` starts a hinge
        from the single law it nests).

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
    if isinstance(shared, str):
        if shared != "auto":
            raise FitError(f"shared is 'auto' or a sequence of {SHARED_CHOICES}, got "
                           f"{shared!r}")
        return _best_sharing(lambda choice: fit_temperature_series(
            spectra, circuit, temperature_K, thickness_cm=thickness_cm,
            diameter_cm=diameter_cm, area_cm2=area_cm2,
            cell_constant_per_cm=cell_constant_per_cm, form=form, shared=choice,
            weighting=weighting, reference_temperature_K=reference_temperature_K,
            breakpoint_K=breakpoint_K, max_nfev=max_nfev, seed=seed))
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
    if breakpoint_K is not None:
        if not (math.isfinite(breakpoint_K) and breakpoint_K > 0):
            raise FitError(f"breakpoint_K must be a positive temperature in K, got "
                           f"{breakpoint_K!r}")
        below = int(np.sum(temps_sorted < breakpoint_K))
        if min(below, n_t - below) < 2:
            raise FitError(f"breakpoint_K = {breakpoint_K:g} K leaves {below} temperature(s) "
                           f"below and {n_t - below} above it; each side needs >= 2")
    # ln σT of each law is basis(x) @ θ[a : a + k]: the value at the pivot, then one slope
    # (-E) per segment; with a breakpoint the pivot is the breakpoint (continuous hinge)
    pivot = x_mid if breakpoint_K is None else 1.0 / (BOLTZMANN_EV_PER_K * breakpoint_K)

    def basis(xv: FloatArray) -> FloatArray:
        d = np.asarray(xv, float) - pivot
        if breakpoint_K is None:
            return np.stack([np.ones_like(d), -d], axis=1)
        return np.stack([np.ones_like(d), -np.maximum(d, 0.0), -np.minimum(d, 0.0)], axis=1)

    k_law = 2 if breakpoint_K is None else 3
    log_t = np.log(temps_sorted) if form == "sigma_T" else np.zeros(n_t)

    # --- starting values from the per-spectrum fits, trusted only where the arc is in window
    if seed is not None:
        p0 = np.asarray(seed["value"].sel(param=names).values, float)[order]
    else:
        with warnings.catch_warnings():
            # only starting values: a per-spectrum fit that did not converge is not the result
            warnings.simplefilter("ignore")
            seq = fit_spectra(spec_sorted, circuit=c.circuit, weighting=weighting,
                              errors="ignore")
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
        q_name = cap if cap in idx else f"{cap}_0"   # a capacitor C, or a CPE's Q
        if cap:
            q = p0[:, idx[q_name]]
            n_exp = p0[:, idx[f"{cap}_1"]] if f"{cap}_1" in idx else np.ones(n_t)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                # a degenerate per-spectrum arc (n -> 0) overflows: it is not in window
                c_eff = q ** (1 / n_exp) * r ** ((1 - n_exp) / n_exp)
                apex = 1.0 / (2 * np.pi * r * c_eff)
            inwin &= np.isfinite(apex) & (apex >= fmin) & (apex <= fmax) & (n_exp >= 0.5)
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
        slope, icpt = np.polyfit(x[inwin] - pivot, y, 1)
        law0 = np.array([-icpt] + [slope] * (k_law - 1))
        ln_r0 = icpt + slope * (x - pivot)   # the start's ln R - ln κ - ln T
        if k_law == 3:
            # the hinge's own least squares (ln R = ln κ + ln T - basis θ): the per-spectrum
            # R show the slope change already; a line through them starts both segments on
            # the average slope, and the fit from there can stop in a worse basin
            hinge, _, rank, _ = np.linalg.lstsq(basis(x[inwin]), -y, rcond=None)
            if rank == k_law:
                law0, ln_r0 = hinge, -(basis(x) @ hinge)
        plan.roles.append((role, len(theta0), idx[r_el]))
        segs = [""] if k_law == 2 else ["_below", "_above"]
        plan.names += [f"{role}_ln_sigma_pivot",
                       *(f"{role}_activation_energy{sg}" for sg in segs)]
        plan.lower += [-np.inf] + [-5.0] * (k_law - 1)
        plan.upper += [np.inf] + [5.0] * (k_law - 1)
        theta0 += law0.tolist()
        plan.kind[idx[r_el]] = ("arrhenius", len(plan.roles) - 1)
        r_start[role] = np.exp(np.log(kappa) + log_t + ln_r0)
        n_med = float(np.clip(np.nanmedian(n_exp[inwin]), 0.31, 0.999)) if cap else 1.0
        # a collapsed per-spectrum arc gives C_eff 0 or inf: not a capacitance to start from
        usable = np.isfinite(c_eff) & (c_eff > 0)
        pick = inwin & usable if (inwin & usable).any() else usable
        if cap and not pick.any():
            raise FitError(f"the per-spectrum fits give no usable {role} capacitance to start "
                           "the series fit from")
        c_med = float(np.exp(np.median(np.log(c_eff[pick])))) if cap else math.nan
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
            plan.kind[idx[q_name]] = ("cdl", len(plan.roles) - 1, len(theta0), n_j)
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
        if role_of is not None and seed is None:   # a seed's Q are a global fit's: kept
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
                theta0.append(float(np.log(max(vals[t], POSITIVE_FLOOR))))
                plan.lower.append(math.log(max(lo, POSITIVE_FLOOR)))
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
    alt = np.clip(alt, lo_in, hi_in)
    if not np.array_equal(alt, th0):
        starts.append(alt)

    b_x = basis(x)

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
                u[:, j] = np.log(kappa) + log_t - b_x @ th[a:a + k_law]   # ln R = ln κ/σ
                du[:, j, a:a + k_law] = -b_x
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

    def exact_jacobian(th: FloatArray) -> FloatArray:
        u, du = unpack(th)
        p = natural(u)
        _, jz = c.impedance_and_jacobian(p, f)        # (T, F, P)
        jz = jz * np.where(positive, p, 1.0)[:, None, :]  # d/du
        jt = np.einsum("tfp,tpk->tfk", jz, du) * w[:, :, None]
        return np.concatenate([jt.real.reshape(-1, th.size), jt.imag.reshape(-1, th.size)])

    def jacobian(th: FloatArray) -> FloatArray:
        # a trial step may overflow; the solver then shortens it
        return np.nan_to_num(exact_jacobian(th), nan=0.0, posinf=0.0, neginf=0.0)

    budget = max_nfev if max_nfev is not None else 200 * th0.size
    # The matrices are small (≈ 2000 × 100): BLAS threads only contend with other processes
    # (measured: SVD 2 s threaded on a busy machine, 0.08 s on one thread).
    # trial steps far outside the physical range overflow (they are rejected): not a warning
    # ftol 1e-8: a step that lowers χ² by less than 1e-8 of itself changes it by
    # < 1e-8·dof·s², far below one s² for any series. A tighter ftol never stops where
    # out-of-window per-temperature Q drift down a flat valley (seen: 15 temperatures,
    # 13,200 evaluations, 225 s, E_a moved by 0.003 stderr, reported unconverged).
    with threadpool_limits(limits=1), np.errstate(over="ignore", invalid="ignore"):
        sols = [least_squares(residual, s0, jac=jacobian, bounds=(lower, upper), method="trf",
                              x_scale="jac", max_nfev=budget, xtol=1e-12, ftol=1e-8,
                              gtol=1e-10) for s0 in starts]
    sol = min(sols, key=lambda r: r.cost if np.isfinite(r.cost) else math.inf)
    th = sol.x
    jac = exact_jacobian(th)
    if not np.all(np.isfinite(jac)):
        # never turn a non-finite derivative into a zero at the optimum: the covariance
        # would be silently wrong (too small) for every parameter coupled to it
        jac = np.where(np.isfinite(jac), jac, np.nan)
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
                   th, cov, plan, kappa, form, x, basis, pivot, chi2, dof, converged, sol,
                   at_bound, tuple(shared), reference_temperature_K, breakpoint_K)
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
    if not np.all(np.isfinite(jac)):
        return np.full((jac.shape[1], jac.shape[1]), np.nan), jac.shape[1]
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
              plan, kappa, form, x, basis, pivot, chi2, dof, converged, sol, at_bound, shared,
              t_ref, breakpoint_K):
    """The result dataset (spectra in the caller's order along ``spectrum``)."""
    u, _ = unpack(th)
    p = natural(u)
    zfit = c.impedance(p, f)
    n_t = temps.size
    log_t = np.log(temps) if form == "sigma_T" else np.zeros(n_t)
    comps = ["bulk", "grain_boundary", "total"]
    s_ref = np.full(3, np.nan)
    s_ref_err = np.full(3, np.nan)
    sigma = np.full((n_t, 3), np.nan)
    sigma_err = np.full((n_t, 3), np.nan)
    x_ref = 1.0 / (BOLTZMANN_EV_PER_K * t_ref)
    lt_ref = math.log(t_ref) if form == "sigma_T" else 0.0
    r_grad_total = np.zeros((n_t, th.size))
    r_total = np.zeros(n_t)
    g_ref = np.zeros(th.size)
    b_t, b_ref = basis(x), basis(np.array([x_ref]))[0]
    k = b_t.shape[1]
    n_seg = k - 1
    ea, ea_err, pre, pre_err = (np.full((3, n_seg), np.nan) for _ in range(4))
    for role, a, _rj in plan.roles:
        i = comps.index(role)
        law = slice(a, a + k)
        sub = cov[law, law]
        for seg in range(n_seg):
            # on segment seg: ln σT = θ_a - E_seg (x - pivot), so ln σ₀ = θ_a + E_seg pivot
            ea[i, seg] = th[a + 1 + seg]
            ea_err[i, seg] = math.sqrt(max(sub[1 + seg, 1 + seg], 0.0))
            g0 = np.zeros(k)
            g0[0], g0[1 + seg] = 1.0, pivot
            pre[i, seg] = math.exp(th[a] + th[a + 1 + seg] * pivot)
            pre_err[i, seg] = pre[i, seg] * math.sqrt(max(g0 @ sub @ g0, 0.0))
        sigma[:, i] = np.exp(b_t @ th[law] - log_t)
        sigma_err[:, i] = sigma[:, i] * np.sqrt(np.maximum(
            np.einsum("ti,ij,tj->t", b_t, sub, b_t), 0.0))
        s_ref[i] = math.exp(b_ref @ th[law] - lt_ref)
        s_ref_err[i] = s_ref[i] * math.sqrt(max(b_ref @ sub @ b_ref, 0.0))
        r = kappa / sigma[:, i]
        r_total += r
        r_grad_total[:, law] += -r[:, None] * b_t     # d ln σ/dθ = basis: dR/dθ = -R basis
        g_ref[law] += -(kappa / s_ref[i]) * b_ref
    sigma[:, 2] = kappa / r_total
    sigma_err[:, 2] = sigma[:, 2] * np.sqrt(np.maximum(
        np.einsum("ti,ij,tj->t", r_grad_total, cov, r_grad_total), 0.0)) / r_total
    tot = arrhenius(temps, sigma[:, 2], sigma_err[:, 2], form=form,
                    breakpoints=0 if breakpoint_K is None else 1, breakpoint_K=breakpoint_K)
    m = min(n_seg, tot.sizes["segment"])
    ea[2, :m], ea_err[2, :m] = tot.activation_energy[:m], tot.activation_energy_stderr[:m]
    pre[2, :m], pre_err[2, :m] = tot.prefactor[:m], tot.prefactor_stderr[:m]
    r_ref = sum(kappa / s_ref[comps.index(role)] for role, _, _ in plan.roles)
    s_ref[2] = kappa / r_ref
    s_ref_err[2] = s_ref[2] * math.sqrt(max(g_ref @ cov @ g_ref, 0.0)) / r_ref

    inv = np.empty_like(order)
    inv[order] = np.arange(order.size)   # back to the caller's order
    w_res = (zfit - z) / np.abs(z)
    chi_each = np.sum(np.where(mask, np.abs(w_res) ** 2, 0.0), axis=1)
    nan_c = np.where(mask, 0, np.nan)
    extrap = not temps.min() <= t_ref <= temps.max()
    pre_units = "S K/cm" if form == "sigma_T" else "S/cm"
    # one law per component: (component,); with a breakpoint (component, segment), low T first
    law_dims: tuple[str, ...] = ("component",) if n_seg == 1 else ("component", "segment")

    def per_law(values: FloatArray) -> FloatArray:
        return values[:, 0] if n_seg == 1 else values

    ds = xr.Dataset(
        {
            "activation_energy": (law_dims, per_law(ea), {"units": "eV"}),
            "activation_energy_stderr": (law_dims, per_law(ea_err), {"units": "eV"}),
            "prefactor": (law_dims, per_law(pre), {"units": pre_units}),
            "prefactor_stderr": (law_dims, per_law(pre_err), {"units": pre_units}),
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
        breakpoint_temperature_K=math.nan if breakpoint_K is None else float(breakpoint_K),
        equation=("σT = σ0 exp(-Ea/(kB T))" if form == "sigma_T" else "σ = σ0 exp(-Ea/(kB T))"),
        total_note=("total = bulk + grain boundary in series is not itself Arrhenius: its E_a "
                    "is the weighted line through the global model's σ_total(T)"),
        source=[str(spectra[i].attrs.get("source", "")) for i in range(len(spectra))],
    )
    return ds


def _information_criterion(ds: xr.Dataset, criterion: str, extra_params: int = 0) -> float:
    """AICc or BIC of a series fit's weighted residuals (Gaussian likelihood, the noise
    level estimated: one parameter more); ``extra_params`` charges what the fit did not count
    (a searched breakpoint). Residuals below arrhenius' floor count as the floor."""
    from eis_pipeline.physics.arrhenius import _RESIDUAL_FLOOR

    n = 2 * int(np.isfinite(ds["impedance_residual"].values).sum())   # Z' and Z''
    k = int(ds.attrs["n_global_params"]) + 1 + extra_params
    rss = max(float(ds["chi_square"]), n * _RESIDUAL_FLOOR**2)
    base = n * math.log(rss / n)
    if criterion == "bic":
        return base + k * math.log(n)
    return base + 2 * k + 2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else math.inf


def _best_sharing(fit: Callable[[tuple[str, ...]], xr.Dataset],
                  known: Mapping[tuple[str, ...], xr.Dataset] | None = None) -> xr.Dataset:
    """``fit(shared)`` for every :data:`SHARING_CANDIDATES` (those in ``known`` already
    fitted); the converged one of lowest BIC (BIC: with hundreds of residuals per series it
    keeps a constraint unless the data clearly contradict it). A candidate that cannot be
    fitted is skipped and named."""
    best: xr.Dataset | None = None
    best_score = math.inf
    notes = []
    error: FitError | None = None
    for choice in SHARING_CANDIDATES:
        label = ",".join(choice) or "none"
        try:
            ds = known[choice] if known and choice in known else fit(choice)
        except FitError as exc:
            error = exc
            notes.append(f"{label}: {exc}")
            continue
        value = _information_criterion(ds, "bic") if bool(ds["converged"]) else math.inf
        notes.append(f"{label}: {value:.1f}" + ("" if bool(ds["converged"]) else
                                               " (not converged)"))
        if best is None or value < best_score:
            best, best_score = ds, value
    if best is None:
        assert error is not None
        raise error
    best.attrs.update(shared_search="; ".join(notes), shared_criterion="bic")
    return best


def search_series_breakpoint(spectra: Sequence[xr.Dataset], circuit: str = "bulk-gb-electrode",
                             temperature_K: Sequence[float] | NDArray[np.float64] | None = None,
                             *, min_segment_temperatures: int = 3,
                             criterion: str = "aicc", **options: Any) -> xr.Dataset:
    """:func:`fit_temperature_series` with a breakpoint searched, by the rules of
    :func:`~eis_pipeline.physics.arrhenius.arrhenius` with ``breakpoints="auto"``: one law,
    or a continuous slope change between two neighbouring temperatures, each side with at
    least ``min_segment_temperatures`` temperatures; the information criterion (AICc or BIC
    of the series' weighted residuals, the breakpoint charged as arrhenius charges a
    searched one) keeps the split only when it pays.

    Differences from the per-spectrum search: the candidate breakpoints are the midpoints
    between measured temperatures (each candidate is a full global fit, so no continuous
    search), and only the continuous hinge is tried (the global model has no jump).

    Returns the chosen fit; ``attrs["breakpoint_search"]`` lists every candidate as
    ``"none: <score>; 303.2 K: <score>; ..."`` and ``attrs["breakpoint_searched"]`` is True.
    ``options`` go to :func:`fit_temperature_series` (not ``breakpoint_K``). With
    ``shared="auto"`` (the default) the breakpoint is searched with nothing shared, then the
    sharing is chosen at the breakpoint found: a series with a transition fitted by one law
    is misspecified, and every constraint looks contradicted by the data then (seen: the
    least constrained sharing chosen on a simulated series whose truth shares both).
    """
    from eis_pipeline.physics.arrhenius import _BREAKPOINT_PARAMS

    if "breakpoint_K" in options:
        raise FitError("search_series_breakpoint searches the breakpoint: call "
                       "fit_temperature_series(breakpoint_K=...) for a known one")
    if criterion not in ("aicc", "bic"):
        raise FitError(f"criterion must be 'aicc' or 'bic', got {criterion!r}")
    spectra = list(spectra)
    temps = (np.array([_spectrum_temperature(ds, i) for i, ds in enumerate(spectra)])
             if temperature_K is None else np.asarray(temperature_K, float).ravel())
    levels = np.unique(temps)
    m = int(min_segment_temperatures)
    candidates = [None] + [float(0.5 * (levels[i - 1] + levels[i]))
                           for i in range(max(m, 1), levels.size - m + 1)]

    auto = isinstance(options.get("shared", "auto"), str)
    searched = {**options, "shared": ()} if auto else options
    best: xr.Dataset | None = None
    best_score = math.inf
    best_tb: float | None = None
    notes = []
    single: xr.Dataset | None = None
    for t_b in candidates:
        ds = fit_temperature_series(spectra, circuit, temps, breakpoint_K=t_b, **searched)
        if t_b is None:
            single = ds
        elif single is not None and not float(ds["chi_square"]) <= float(single["chi_square"]):
            # the hinge nests the single law (equal slopes): ending above it is a local
            # optimum of the per-spectrum start; from the single law it can only descend
            again = fit_temperature_series(spectra, circuit, temps, breakpoint_K=t_b,
                                           seed=single, **searched)
            if float(again["chi_square"]) < float(ds["chi_square"]):
                ds = again
        extra = _BREAKPOINT_PARAMS if t_b is not None else 0
        value = (_information_criterion(ds, criterion, extra) if bool(ds["converged"])
                 else math.inf)
        notes.append(f"{'none' if t_b is None else f'{t_b:.1f} K'}: {value:.1f}")
        if value < best_score or best is None:
            best, best_score, best_tb = ds, value, t_b
    assert best is not None
    if auto:   # the sharing chosen at the breakpoint found; its unshared fit is ``best``
        best = _best_sharing(lambda choice: fit_temperature_series(
            spectra, circuit, temps, breakpoint_K=best_tb, **{**options, "shared": choice}),
            known={(): best})
    best.attrs.update(breakpoint_searched=True, breakpoint_criterion=criterion,
                      breakpoint_search="; ".join(notes))
    return best


def series_fit_for_campaign(spectra: Sequence[xr.Dataset], fits: xr.Dataset, circuit: str,
                            geometry: Geometry, form: TemperatureLaw,
                            reference_temperature_K: float = ROOM_TEMPERATURE_K,
                            breakpoint_K: float | None = None,
                            search_breakpoint: bool = False) -> xr.Dataset:
    """The campaign's ``series_fit = "global"`` stage for one sample.

    Temperatures come from the fits' ``temperature`` coordinate (what the run inferred), in
    the spectra's order. With ``circuit = "auto"`` the series is fitted with both arcs,
    ``bulk-gb-electrode-inductance`` when any spectrum's chosen preset has a stray inductance
    (without it the high-frequency points of a 7 MHz sweep bias E_a: 0.326 instead of 0.33 eV
    on the demo's mill120), else ``bulk-gb-electrode``. A series that cannot be fitted gives
    an empty dataset whose ``reason`` attribute says why (the run goes on; the per-spectrum
    results stand); an E_a with a standard error above POOR_STDERR_EV is named in it, and
    so is a VTF ``form`` (the global model has Arrhenius laws only). ``search_breakpoint``
    (without ``breakpoint_K``) runs :func:`search_series_breakpoint` instead of one fit.
    """
    if form == "vtf":
        empty = xr.Dataset()
        empty.attrs.update(reason='the global series fit has Arrhenius laws only; with '
                                  'arrhenius_form = "vtf" only the per-spectrum route runs',
                           circuit=circuit, form=form)
        return empty

    use = circuit
    if is_auto_circuit(circuit):
        chosen = [str(p) for p in np.asarray(fits["preset"].values).ravel()] \
            if "preset" in fits else []
        inductive = any("L" in get_preset(p).circuit for p in set(chosen) if p in PRESETS)
        use = "bulk-gb-electrode-inductance" if inductive else "bulk-gb-electrode"
    temps = (np.asarray(fits["temperature"].values, float) if "temperature" in fits.coords
             or "temperature" in fits else None)
    try:
        common: dict[str, Any] = {"form": form,
                                  "cell_constant_per_cm": geometry.cell_constant_per_cm,
                                  "reference_temperature_K": reference_temperature_K}
        if search_breakpoint and breakpoint_K is None:
            ds = search_series_breakpoint(spectra, use, temps, **common)
        else:
            ds = fit_temperature_series(spectra, use, temps, breakpoint_K=breakpoint_K,
                                        **common)
    except EisError as exc:
        empty = xr.Dataset()
        empty.attrs.update(reason=f"{type(exc).__name__}: {exc}", circuit=use, form=form)
        return empty
    ds.attrs["source"] = "; ".join(ds.attrs["source"])
    reasons = [] if bool(ds.converged) else [f"not converged: {ds.attrs['message']}"]
    lost = [str(c) for c in ds.component.values[:2]
            if np.all(np.isfinite(ds.activation_energy.sel(component=c)))
            and not np.all(np.isfinite(ds.activation_energy_stderr.sel(component=c)))]
    if lost:
        reasons.append(f"E_a of {', '.join(lost)} undetermined by the data (check the circuit: "
                       "is that arc in the window at any temperature?)")
    poor = [str(c) for c in ds.component.values
            if np.any(ds.activation_energy_stderr.sel(component=c).values > POOR_STDERR_EV)]
    if poor:
        reasons.append(f"E_a of {', '.join(poor)} poorly determined (stderr > "
                       f"{POOR_STDERR_EV:g} eV: is that arc in the window at any temperature?)")
    ds.attrs["reason"] = "; ".join(reasons)
    return ds


def model_free_for_campaign(spectra: Sequence[xr.Dataset], cond: xr.Dataset,
                            geometry: Geometry) -> xr.Dataset:
    """The campaign's model-free cross-check (with ``series_fit = "global"``): σ'(f), ε'(f),
    M''(f) and the Jonscher σ_dc of every spectrum beside the circuit's total σ, flagged when
    they differ by more than 20 % (:func:`~eis_pipeline.physics.dielectric.conductivity_spectra`).

    ``cond`` is the sample's conductivity dataset; its ``spectrum`` labels index ``spectra``.
    """
    kappa = geometry.cell_constant_per_cm
    total = np.full(len(spectra), np.nan)
    idx = np.asarray(cond["spectrum"].values, dtype=int)
    total[idx] = np.asarray(cond["conductivity"].sel(component="total").values, dtype=float)
    ds = conductivity_spectra(spectra, kappa, circuit_sigma_S_cm=total)
    ds.coords["spectrum"] = np.arange(len(spectra))
    ds.coords["source"] = ("spectrum", [str(s.attrs.get("source", "")) for s in spectra])
    return ds
