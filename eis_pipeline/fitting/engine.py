"""The fitting engine shared by :class:`CircuitModel` and :func:`fit_spectra`.

It turns NaN-padded spectra (S, N) into one batched least-squares problem over
``S × n_starts`` rows, solves it, keeps the best start per spectrum, puts preset arcs in a
stable order and computes the statistics.

Weighting (residual ``r = (Z_model - Z_data) / w``, real parts then imaginary parts):

- ``modulus`` (default): ``w = |Z_data|`` for both parts (impedance.py's ``weight_by_modulus``);
- ``unit``: ``w = 1`` (the largest arc dominates);
- ``proportional``: ``w = |Z'_data|`` for the real part and ``|Z''_data|`` for the imaginary
  part, each floored at ``1e-3 |Z_data|`` so that a point where Z'' crosses zero (e.g. the
  inductive top of the range) cannot get an unbounded weight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.exceptions import FitError
from eis_pipeline.fitting import compiled_lm
from eis_pipeline.fitting.initial import initial_guesses
from eis_pipeline.fitting.solver import REASONS, SolverResult, Status, least_squares_batch
from eis_pipeline.fitting.statistics import fit_statistics
from eis_pipeline.fitting.transforms import ParameterSpace

__all__ = ["WEIGHTINGS", "BatchFit", "CompiledLike", "fit_arrays", "weights"]

Array = NDArray[np.float64]
CArray = NDArray[np.complex128]
WEIGHTINGS = ("modulus", "unit", "proportional")
PROPORTIONAL_FLOOR = 1e-3
_EPS = float(np.finfo(np.float64).eps)


class CompiledLike(Protocol):
    """What the engine needs from a compiled circuit (docs/contracts.md)."""

    @property
    def circuit(self) -> str: ...

    @property
    def param_names(self) -> tuple[str, ...]: ...

    @property
    def param_units(self) -> tuple[str, ...]: ...

    @property
    def param_kinds(self) -> Sequence[str]: ...

    def impedance(self, params: Any, frequency: Any) -> Any: ...

    def impedance_and_jacobian(self, params: Any, frequency: Any) -> tuple[Any, Any]: ...


@dataclass
class BatchFit:
    """Results for S spectra (natural units; P = all parameters)."""

    params: Array                 # (S, P)
    stderr: Array                 # (S, P)
    covariance: Array             # (S, P, P)
    correlation: Array            # (S, P, P)
    status: NDArray[np.int_]      # (S,)
    messages: list[str]
    cost: Array
    chi_square: Array
    reduced_chi_square: Array
    aic: Array
    bic: Array
    n_points: NDArray[np.int_]
    nfev: NDArray[np.int_]
    n_iterations: NDArray[np.int_]
    impedance_fit: CArray         # (S, N), NaN-padded
    residuals: Array              # (S, 2N) weighted, real parts then imaginary parts
    swapped: NDArray[np.bool_]    # arcs reordered by the bulk/gb rule
    at_bound: NDArray[np.bool_]   # (S, P) free parameter pinned at a bound (see _at_bound)

    @property
    def converged(self) -> NDArray[np.bool_]:
        return self.status == Status.CONVERGED


def weights(impedance: CArray, weighting: str) -> tuple[Array, Array]:
    """Weights (real, imaginary) per point for a weighting name (module docstring)."""
    z = np.asarray(impedance)
    mod = np.abs(z)
    if weighting == "modulus":
        return mod, mod
    if weighting == "unit":
        one = np.ones(z.shape)
        return one, one
    if weighting == "proportional":
        floor = PROPORTIONAL_FLOOR * mod
        return np.maximum(np.abs(z.real), floor), np.maximum(np.abs(z.imag), floor)
    raise FitError(f"unknown weighting {weighting!r}; expected one of {', '.join(WEIGHTINGS)}")


#: Above this many distinct frequency grids, rows are evaluated on one (B, F) grid instead.
MAX_GROUPS = 4


def _groups(frequency: Array,
            unpadded: bool = False) -> tuple[NDArray[np.intp], list[Array]]:
    """Spectra sharing one frequency grid evaluate the circuit in one call."""
    if unpadded and frequency.shape[0] == 1:   # one spectrum (CircuitModel.fit)
        return np.zeros(1, dtype=np.intp), [frequency[0]]
    key = frequency if unpadded else np.where(np.isfinite(frequency), frequency, -1.0)
    if np.all(key == key[:1]):   # the common case (one campaign, one grid): skip the sort
        return np.zeros(len(key), dtype=np.intp), [key[0][key[0] > 0]]
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    grids = [row[row > 0] for row in uniq]
    return inverse.reshape(-1), grids


def _filled(frequency: Array) -> Array:
    """Padding replaced by the row's last valid frequency (the evaluator needs f > 0)."""
    n_valid = np.isfinite(frequency).sum(axis=1)
    last = np.take_along_axis(frequency, np.maximum(n_valid - 1, 0)[:, None], axis=1)
    return np.where(np.isfinite(frequency), frequency, last)


#: Prepared frequency grids of recent fits, by their bytes: a CircuitModel fitted to spectra
#: on one grid (the usual campaign) derives ln ω, ln(jω) etc. once instead of once per fit.
_GRIDS: dict[bytes, Any] = {}
_GRIDS_MAX = 16


def _grid_type() -> Any:
    """:class:`~eis_pipeline.circuits.FrequencyGrid` (imported on first use, then kept)."""
    global _FREQUENCY_GRID
    if _FREQUENCY_GRID is None:
        from eis_pipeline.circuits import FrequencyGrid

        _FREQUENCY_GRID = FrequencyGrid
    return _FREQUENCY_GRID


_FREQUENCY_GRID: Any = None


def _grid(frequency: Array) -> Any:
    """A cached :class:`~eis_pipeline.circuits.FrequencyGrid` for a 1-D frequency array."""
    key = frequency.tobytes()
    grid = _GRIDS.get(key)
    if grid is None:
        grid = _grid_type()(frequency)
        if len(_GRIDS) >= _GRIDS_MAX:
            _GRIDS.pop(next(iter(_GRIDS)))   # the oldest entry
        _GRIDS[key] = grid
    return grid


class _Problem:
    """Weighted residuals and Jacobian for rows = (spectrum, start) pairs."""

    def __init__(self, compiled: CompiledLike, space: ParameterSpace, frequency: Array,
                 impedance: CArray, weighting: str, n_starts: int) -> None:
        self.compiled = compiled
        self.space = space
        self.n_starts = n_starts
        self._grid_type = _grid_type()
        valid = np.isfinite(frequency)
        unpadded = bool(valid.all())
        self.group, grids = _groups(frequency, unpadded)
        # one prepared grid per distinct frequency row: derived arrays computed once
        self.grids = [_grid(f) for f in grids]
        self.sizes = [f.size for f in grids]
        self.per_row = len(grids) > MAX_GROUPS
        # one grid without padding: every Jacobian entry is written, no need to zero it
        self.dense = len(grids) == 1 and unpadded
        self.filled = _filled(frequency) if self.per_row else frequency
        finite = np.isfinite(impedance)
        self.data = impedance if finite.all() else np.where(finite, impedance, 0.0)
        wr, wi = weights(self.data, weighting)
        self.same_weights = weighting != "proportional"
        # padded points: infinite weight -> zero residual and zero Jacobian rows
        self.w_re = np.where(wr > 0, wr, 1.0)
        self.inv_wr = 1.0 / self.w_re if unpadded else np.where(valid, 1.0 / self.w_re, 0.0)
        if self.same_weights:   # the same weight for both parts
            self.w_im, self.inv_wi = self.w_re, self.inv_wr
        else:
            self.w_im = np.where(wi > 0, wi, 1.0)
            self.inv_wi = (1.0 / self.w_im if unpadded
                           else np.where(valid, 1.0 / self.w_im, 0.0))
        self.n = frequency.shape[1]
        self.free = space.free
        self.all_free = bool(self.free.size == space.n_params)
        # One grid without padding (a CircuitModel fit, a campaign on one grid): the lean
        # evaluation below, a dozen numpy calls around the circuit's own.
        self.simple = self.dense and not self.per_row
        self._log = space.log_free
        self._fixed, self._fixed_values = space.fixed_split
        # the numba-compiled row solver (compiled_lm), unless numba is off or cannot load
        self.coded = compiled_lm.prepare(compiled)
        self._frequency = frequency

    def compiled_grids(self) -> tuple[Array, NDArray[np.intp], NDArray[np.intp]]:
        """Angular-frequency table (G, N), each spectrum's row in it, and its number of
        points, for :func:`compiled_lm.solve_rows` (points packed at the start of each row)."""
        s, n = self.data.shape
        if self.simple:
            return (self.grids[0].omega[None, :], np.zeros(s, dtype=np.intp),
                    np.full(s, n, dtype=np.intp))
        valid = np.isfinite(self._frequency)
        return (2 * np.pi * np.where(valid, self._frequency, 0.0), np.arange(s),
                valid.sum(axis=1))

    def __call__(self, u: Array, rows: NDArray[np.intp]) -> tuple[Array, Array]:
        if self.simple:
            return self._call_simple(u, rows)
        return self._call_general(u, rows)

    def _call_simple(self, u: Array, rows: NDArray[np.intp]) -> tuple[Array, Array]:
        """:meth:`_call_general` for one unpadded grid shared by every row."""
        log = self._log
        e = np.exp(np.where(log, u, 0.0))
        dpdu = np.where(log, e, 1.0)
        if self.all_free:
            p = np.where(log, e, u)
        else:
            p = np.empty((u.shape[0], self.space.n_params))
            p[:, self._fixed] = self._fixed_values
            p[:, self.free] = np.where(log, e, u)
        z, dz = self.compiled.impedance_and_jacobian(p, self.grids[0])
        if not self.all_free:
            dz = dz[:, :, self.free]
        if self.data.shape[0] == 1:   # one spectrum: its arrays broadcast over the rows
            data, iwr, iwi = self.data[0], self.inv_wr[0], self.inv_wi[0]
        else:
            spec = rows // self.n_starts
            data, iwr, iwi = self.data[spec], self.inv_wr[spec], self.inv_wi[spec]
        k, n, pf = u.shape[0], self.n, u.shape[1]
        diff = z - data
        r = np.empty((k, 2 * n))
        np.multiply(diff.real, iwr, out=r[:, :n])
        np.multiply(diff.imag, iwi, out=r[:, n:])
        d = dpdu[:, None, :]
        f_re = iwr[..., None] * d
        f_im = f_re if self.same_weights else iwi[..., None] * d
        jac = np.empty((k, 2 * n, pf))
        np.multiply(dz.real, f_re, out=jac[:, :n])
        np.multiply(dz.imag, f_im, out=jac[:, n:])
        return r, jac

    def _call_general(self, u: Array, rows: NDArray[np.intp]) -> tuple[Array, Array]:
        p = self.space.to_natural(u)
        dpdu = self.space.natural_derivative(u)
        spec = rows // self.n_starts
        k, n, pf = len(rows), self.n, u.shape[1]
        r = np.zeros((k, 2 * n))
        jac = np.empty((k, 2 * n, pf)) if self.dense else np.zeros((k, 2 * n, pf))
        if self.per_row:
            batches: Any = [(slice(None), self._grid_type(self.filled[spec]), n)]
        elif len(self.grids) == 1:
            batches = [(slice(None), self.grids[0], self.sizes[0])]
        else:
            grp = self.group[spec]
            batches = [(np.flatnonzero(grp == g), self.grids[g], self.sizes[g])
                       for g in np.unique(grp)]
        for sel, grid, m in batches:
            z, dz = self.compiled.impedance_and_jacobian(p[sel], grid)
            if not self.all_free:
                dz = dz[:, :, self.free]
            s = spec[sel]
            iwr, iwi = self.inv_wr[s, :m], self.inv_wi[s, :m]
            diff = z - self.data[s, :m]
            r[sel, :m] = diff.real * iwr
            r[sel, n:n + m] = diff.imag * iwi
            # chain rule and weights folded into one real factor per part: no complex
            # temporaries of shape (k, m, P)
            d = dpdu[sel][:, None, :]
            f_re = iwr[:, :, None] * d
            f_im = f_re if self.same_weights else iwi[:, :, None] * d
            if isinstance(sel, slice):
                np.multiply(dz.real, f_re, out=jac[:, :m])
                np.multiply(dz.imag, f_im, out=jac[:, n:n + m])
            else:
                jac[sel, :m] = dz.real * f_re
                jac[sel, n:n + m] = dz.imag * f_im
        return r, jac

    def cost_floor(self) -> Array:
        """Per-spectrum cost of residuals at round-off level (64 ε |Z| per part)."""
        eps = 64 * _EPS
        mod = np.abs(self.data)
        if self.same_weights:   # both parts alike: 0.5 ε² Σ 2 (|Z| / w)²
            t = mod * self.inv_wr
            return np.asarray(eps * eps * (t * t).sum(axis=1))
        return np.asarray(0.5 * np.sum((eps * mod * self.inv_wr) ** 2
                                       + (eps * mod * self.inv_wi) ** 2, axis=1))

    def model_at(self, params: Array, residuals: Array) -> CArray:
        """Z at the fitted ``params`` (S, P), one row per spectrum, with their ``residuals``.

        On one unpadded grid the model values are read back from the weighted residuals of
        the last evaluation, ``Z_data + r w`` (equal to evaluating the circuit again up to
        round-off of |Z|); otherwise the circuit is evaluated (:meth:`model`).
        """
        if not self.simple or residuals.shape[0] != self.data.shape[0]:
            return self.model(params)
        n = self.n
        return np.asarray(self.data + (residuals[:, :n] * self.w_re
                                       + 1j * (residuals[:, n:] * self.w_im)))

    def model(self, params: Array) -> CArray:
        """Z for natural parameters (S, P) at every spectrum's own grid, NaN-padded."""
        if self.per_row:
            z = self.compiled.impedance(params, self._grid_type(self.filled))
            return np.where(np.isfinite(self.inv_wr) & (self.inv_wr > 0), z, np.nan + 0j)
        out = np.full((params.shape[0], self.n), np.nan + 0j)
        for g, grid in enumerate(self.grids):
            sel = np.flatnonzero(self.group == g)
            if sel.size:
                out[sel, :self.sizes[g]] = self.compiled.impedance(params[sel], grid)
        return out


def _starting_points(initial_guess: Array | None, frequency: Array, impedance: CArray,
                     names: Sequence[str], roles: Mapping[str, Mapping[str, str]] | None,
                     bulk_from_intercept: bool) -> Array:
    if initial_guess is not None:
        guess = np.asarray(initial_guess, dtype=np.float64)
        guess = np.broadcast_to(guess, (frequency.shape[0], len(names)))
        return guess[:, None, :]
    return initial_guesses(frequency, impedance, names, roles, bulk_from_intercept)


def _arc_swap(params: Array, cov: Array, corr: Array, stderr: Array,
              space: ParameterSpace, roles: Mapping[str, Mapping[str, str]] | None,
              bulk_from_intercept: bool, flags: NDArray[np.bool_] | None = None
              ) -> NDArray[np.bool_]:
    """Make the bulk arc the one with the smaller τ = (R Q)^(1/n); swap in place if not.

    ``flags`` (S, P), when given, is permuted with the parameters.

    The two arcs are interchangeable only when the user treats them alike: with a constant
    or a bound on one arc and not (identically) on the other, the labels are fixed by the
    user and nothing is swapped.
    """
    s = params.shape[0]
    swapped = np.zeros(s, dtype=bool)
    if not roles or bulk_from_intercept:
        return swapped
    plan = _swap_plan(space, roles)
    if plan is None:
        return swapped
    ib, ig = plan
    with np.errstate(all="ignore"):
        def tau(i: list[int]) -> Array:
            return np.asarray((params[:, i[0]] * params[:, i[1]]) ** (1.0 / params[:, i[2]]))
        swapped = tau(ib) > tau(ig)
    if swapped.any():
        perm = np.arange(params.shape[1])
        perm[ib], perm[ig] = ig, ib
        rows = np.flatnonzero(swapped)
        params[rows] = params[rows][:, perm]
        stderr[rows] = stderr[rows][:, perm]
        cov[rows] = cov[rows][:, perm][:, :, perm]
        corr[rows] = corr[rows][:, perm][:, :, perm]
        if flags is not None:
            flags[rows] = flags[rows][:, perm]
    return swapped


#: Longest step of the solver in internal coordinates (a factor e^3 for a log parameter).
MAX_STEP = 3.0
#: (space, roles, plan) by (id(space), id(roles)): a CircuitModel fits with the same two
#: objects every time; holding them keeps the ids valid.
_SWAP_PLANS: dict[tuple[int, int], tuple[Any, Any, tuple[list[int], list[int]] | None]] = {}


def _swap_plan(space: ParameterSpace, roles: Mapping[str, Mapping[str, str]]
               ) -> tuple[list[int], list[int]] | None:
    """Indices (R, Q, n) of the bulk and grain-boundary arcs when they may be exchanged."""
    key = (id(space), id(roles))
    hit = _SWAP_PLANS.get(key)
    if hit is not None and hit[0] is space and hit[1] is roles:
        return hit[2]
    index = {n: i for i, n in enumerate(space.names)}

    def arc(role: Mapping[str, str]) -> list[int] | None:
        cpe = role.get("cpe")
        if role.get("resistance") in index and cpe and f"{cpe}_1" in index:
            return [index[role["resistance"]], index[f"{cpe}_0"], index[f"{cpe}_1"]]
        return None

    ib, ig = arc(roles.get("bulk", {})), arc(roles.get("grain_boundary", {}))
    plan: tuple[list[int], list[int]] | None = None
    if ib is not None and ig is not None and all(
            # bytes: identical values, NaN (a free parameter's fixed value) included
            getattr(space, attr)[ib].tobytes() == getattr(space, attr)[ig].tobytes()
            for attr in ("fixed", "fixed_values", "lower", "upper")):
        plan = (ib, ig)
    if len(_SWAP_PLANS) >= 64:
        _SWAP_PLANS.pop(next(iter(_SWAP_PLANS)))
    _SWAP_PLANS[key] = (space, roles, plan)
    return plan


#: Log parameters stay within this factor of their data-driven value (see _row_bounds).
SAFETY_FACTOR = 1e10
#: An inductance whose reactance at the top frequency is below this fraction of |Z| there
#: is not measurable.
INDUCTANCE_FLOOR = 1e-6
#: A resistance below this fraction of the smallest |Z| is not measurable.
RESISTANCE_FLOOR = 1e-6


def _row_bounds(space: ParameterSpace, compiled: CompiledLike, frequency: Array,
                impedance: CArray, starts: Array,
                u_start: Array | None = None) -> tuple[Array, Array]:
    """Per-spectrum box constraints (S, Pf) in internal coordinates.

    On top of the user's bounds, two safeguards for log parameters, which would otherwise
    drift without limit where the data stop constraining them:

    - an inductance gets the floor ``1e-6 |Z(f_max)| / ω_max`` and a resistance the floor
      ``1e-6 min|Z|``, below which they change the model by less than a part per million
      (or, in parallel, short everything); with a finite floor the projected solver can
      leave it again when the gradient turns, whereas in pure log space a collapsed L has a
      vanishing gradient and is trapped;
    - every log parameter stays within a factor 1e10 of the first starting point, so a
      degenerate direction (an R shorted by its CPE) ends at a finite value instead of
      overflowing. A meaningful fit never comes near either limit.

    ``u_start`` (S, Pf), when given, is the first start already in internal coordinates.
    """
    ulo, uhi = space.internal_bounds()
    log = space.log_free
    if u_start is None:
        u_start = space.to_internal(starts[:, 0, :])
    span = np.log(SAFETY_FACTOR)
    lo = np.where(log, np.maximum(ulo, u_start - span), ulo)
    hi = np.where(log, np.minimum(uhi, u_start + span), uhi)
    s = frequency.shape[0]
    if np.isfinite(frequency).all():   # no padding: the plain reductions are much cheaper
        f_top = frequency.max(axis=1)
        i_top = frequency.argmax(axis=1)
        z_min = np.abs(impedance).min(axis=1)
    else:
        f_top = np.nanmax(frequency, axis=1)
        i_top = np.nanargmax(frequency, axis=1)
        z_min = np.nanmin(np.abs(impedance), axis=1)
    floors: dict[str, Array] = {}
    for j, kind in _floored(space):
        if kind not in floors:
            floors[kind] = (np.log(INDUCTANCE_FLOOR * np.abs(impedance[np.arange(s), i_top])
                                   / (2 * np.pi * f_top)) if kind == "L"
                            else np.log(RESISTANCE_FLOOR * z_min))
        lo[:, j] = np.maximum(lo[:, j], np.minimum(floors[kind], hi[:, j] - 1.0))
    # an explicit user bound replaces the safeguard on its side
    lo = np.where(np.isfinite(ulo), ulo, lo)
    hi = np.where(np.isfinite(uhi), uhi, hi)
    hi = np.maximum(hi, lo + 1e-12)
    del compiled
    return lo, hi


@lru_cache(maxsize=64)
def _floored(space: ParameterSpace) -> tuple[tuple[int, str], ...]:
    """(free index, "L" or "R") of the log-space inductances and resistances."""
    return tuple((j, kind) for j, i in enumerate(space.free)
                 if space.log_free[j]
                 and (kind := space.names[i].rstrip("0123456789")) in ("L", "R"))


#: Residual sign runs below this z-score (in the real or the imaginary part) mark a fit as
#: doubtful: white noise gives z ~ N(0, 1); a wrong local minimum leaves long runs.
RUNS_Z = -2.0
EXACT_FIT = REASONS.index("exact fit (cost at round-off level)")


def _runs_z(residuals: Array, n_points: NDArray[np.int_]) -> Array:
    """Smallest Wald–Wolfowitz runs-test z-score of the real and imaginary residuals.

    ``residuals`` is (S, 2N) with real parts then imaginary parts, padding at the end of
    each half. Few runs (negative z) mean systematic misfit.
    """
    s, m2 = residuals.shape
    n = m2 // 2
    parts = residuals.reshape(s, 2, n)     # both halves in one pass
    pos = parts > 0
    neg = parts < 0
    if not (n_points == n).all():
        valid = (np.arange(n)[None, :] < n_points[:, None])[:, None, :]
        pos &= valid
        neg &= valid
    # (sums of booleans: np.count_nonzero with an axis is a Python-level wrapper of the same)
    n_pos = pos.sum(axis=2)
    n_neg = neg.sum(axis=2)
    sign = pos.view(np.int8) - neg.view(np.int8)
    changes = (sign[:, :, 1:] * sign[:, :, :-1] < 0).sum(axis=2)
    if s == 1:   # one fit: the same arithmetic on Python scalars
        out = math.inf
        for n_p, n_n, ch in zip(n_pos[0].tolist(), n_neg[0].tolist(), changes[0].tolist(),
                                strict=True):
            tot = n_p + n_n
            mu = 2.0 * n_p * n_n / tot + 1 if tot > 0 else math.nan
            var = (mu - 1) * (mu - 2) / (tot - 1) if tot > 1 else math.nan
            out = min(out, (ch + 1 - mu) / math.sqrt(var) if var > 0 else 0.0)
        return np.array([out])
    total = n_pos + n_neg
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = 2.0 * n_pos * n_neg / total + 1
        var = (mu - 1) * (mu - 2) / (total - 1)
        z = np.where(var > 0, (changes + 1 - mu) / np.sqrt(var), 0.0)
    return np.asarray(np.min(z, axis=1))


def _solve_part(problem: _Problem, u0: Array, lo: Array, hi: Array, floor: Array,
                rows: NDArray[np.intp], options: Mapping[str, Any]) -> SolverResult:
    """Solve the given rows; the result is over those rows only.

    ``lo``, ``hi`` (S, Pf) and ``floor`` (S,) are per spectrum (row // n_starts).
    """
    def fun(u: Array, sub: NDArray[np.intp]) -> tuple[Array, Array]:
        return problem(u, rows[sub])

    spec = rows // problem.n_starts if problem.n_starts > 1 else rows
    # Each row through the compiled solver unless numba is off (rows are independent without
    # ``groups``: the same points as the batch, without numpy's per-call overhead)
    if problem.coded is not None and set(options) <= _COMPILED_OPTIONS:
        return _solve_compiled(problem, u0[rows], lo[spec], hi[spec], floor[spec], spec,
                               options)
    return least_squares_batch(fun, u0[rows], lo[spec], hi[spec], cost_floor=floor[spec],
                               **options)


_COMPILED_OPTIONS = frozenset({"max_nfev", "max_step", "ftol", "xtol", "gtol",
                               "stationary_rtol", "lambda0"})


def _solve_compiled(problem: _Problem, u0: Array, lo: Array, hi: Array, floor: Array,
                    spec: NDArray[np.intp], options: Mapping[str, Any]) -> SolverResult:
    """Rows ``u0`` (R, Pf) of spectra ``spec`` through :func:`compiled_lm.solve_rows`: the
    iteration of :func:`~eis_pipeline.fitting.solver.least_squares_batch`, compiled."""
    assert problem.coded is not None
    defaults = {"ftol": 1e-10, "xtol": 1e-10, "gtol": 1e-10, "stationary_rtol": 1e-6,
                "lambda0": 1e-3}
    opts = {**defaults, **{k: v for k, v in options.items() if v is not None}}
    pf = u0.shape[1]
    max_nfev = int(opts.get("max_nfev", 100 * (pf + 1)))
    tol = (opts["ftol"], opts["xtol"], opts["gtol"], opts["stationary_rtol"], opts["lambda0"],
           float(opts.get("max_step", np.inf)))
    fixed, fixed_values = problem.space.fixed_split
    x0 = np.minimum(np.maximum(u0, lo), hi)
    omega, grid_of, n_valid = problem.compiled_grids()
    x, cost, r, jac, status, reason, nfev, n_iter, dec = compiled_lm.solve_rows(
        problem.coded, omega, grid_of, n_valid, problem.data, problem.inv_wr, problem.inv_wi,
        spec, problem.space.n_params, problem.free, problem._log, fixed, fixed_values, x0, lo,
        hi, max_nfev, tol, floor)
    return SolverResult(x=x, cost=cost, residuals=r, jacobian=jac, status=status,
                        reason=reason, nfev=nfev, n_iterations=n_iter, newton_decrement=dec)


def _expand(part: SolverResult, rows: NDArray[np.intp], u0: Array) -> SolverResult:
    """A result over every row of ``u0`` holding ``part`` at ``rows`` (others: cost inf)."""
    b = u0.shape[0]
    full = SolverResult(
        x=u0.copy(), cost=np.full(b, np.inf),
        residuals=np.zeros((b, part.residuals.shape[1])),
        jacobian=np.zeros((b, *part.jacobian.shape[1:])),
        status=np.full(b, Status.FAILED), reason=np.zeros(b, dtype=np.int_),
        nfev=np.zeros(b, dtype=np.int_), n_iterations=np.zeros(b, dtype=np.int_),
        newton_decrement=np.full(b, np.nan))
    _merge(full, part, rows)
    return full


def _solve_rows(problem: _Problem, u0: Array, lo: Array, hi: Array, floor: Array,
                rows: NDArray[np.intp], options: Mapping[str, Any]) -> SolverResult:
    """Solve the given rows; return a result sized for all rows (others: cost inf)."""
    part = _solve_part(problem, u0, lo, hi, floor, rows, options)
    if rows.size == u0.shape[0]:
        return part
    return _expand(part, rows, u0)


def _merge(full: SolverResult, part: SolverResult, rows: NDArray[np.intp]) -> None:
    """Copy ``part`` (a result over ``rows`` or over all rows) into ``full`` at ``rows``."""
    take = slice(None) if part.x.shape[0] == rows.size else rows
    for name in ("x", "cost", "residuals", "jacobian", "status", "reason", "nfev",
                 "n_iterations", "newton_decrement"):
        getattr(full, name)[rows] = getattr(part, name)[take]


#: A parameter within this distance (internal units, relative beyond 1) of a bound is on it.
#: The solver's projection puts a pinned parameter exactly on the bound; the tolerance only
#: absorbs round-off.
AT_BOUND_TOL = 1e-9


def _at_bound(space: ParameterSpace, u: Array, lo: Array, hi: Array) -> NDArray[np.bool_]:
    """(S, P): free parameters whose internal value ``u`` (S, Pf) lies on a bound the solver
    used, ``lo``/``hi`` (S, Pf) from :func:`_row_bounds` (user bound or safeguard).

    A CPE exponent at its physical limit n = 1 is an ideal capacitor, an ordinary result,
    so that side counts only when the user set an upper bound below 1. Fixed parameters are
    never at a bound.
    """
    exponent = _exponents(space)
    # an open side (±inf) is never reached (its tolerance would be inf too)
    on_lo = np.isfinite(lo) & (u - lo <= AT_BOUND_TOL * np.maximum(1.0, np.abs(lo)))
    on_hi = (np.isfinite(hi) & (hi - u <= AT_BOUND_TOL * np.maximum(1.0, np.abs(hi)))
             & ~(exponent & (hi >= 1.0)))
    on = on_lo | on_hi
    out = np.zeros((u.shape[0], space.n_params), dtype=bool)
    out[:, space.free] = on
    return out


@lru_cache(maxsize=64)
def _exponents(space: ParameterSpace) -> NDArray[np.bool_]:
    """True for each free parameter that is a CPE exponent."""
    return np.array([space.kinds[i] == "exponent" for i in space.free], dtype=bool)


def fit_arrays(
    compiled: CompiledLike,
    frequency: Array,
    impedance: CArray,
    *,
    weighting: str = "modulus",
    space: ParameterSpace,
    initial_guess: Array | None = None,
    roles: Mapping[str, Mapping[str, str]] | None = None,
    bulk_from_intercept: bool = False,
    max_nfev: int | None = None,
    staged: bool = True,
    solver_options: Mapping[str, Any] | None = None,
) -> BatchFit:
    """Fit NaN-padded spectra (S, N); points must be packed at the start of each row.

    Parameters
    ----------
    compiled : CompiledLike
        Compiled circuit.
    frequency : ndarray (S, N)
        Hz, NaN-padded.
    impedance : ndarray of complex (S, N)
        Ohm, NaN-padded like ``frequency``.
    weighting : {"modulus", "unit", "proportional"}
    space : ParameterSpace
        Fixed parameters and bounds.
    initial_guess : ndarray (P,) or (S, P), optional
        Natural values; when given it is the only start. Otherwise :data:`N_STARTS`
        data-driven starts per spectrum are solved together and the best kept.
    roles, bulk_from_intercept
        From the preset, for the starting points and the arc order.
    max_nfev : int, optional
        Evaluation limit per start.
    staged : bool
        Solve the first data-driven start of every spectrum, then the alternative starts only
        where that fit is doubtful (:func:`_runs_z`). False solves every start.
    solver_options : mapping, optional
        Extra keyword arguments for :func:`~eis_pipeline.fitting.solver.least_squares_batch`.
    """
    frequency = np.asarray(frequency, dtype=np.float64)
    impedance = np.asarray(impedance, dtype=np.complex128)
    names = compiled.param_names
    if weighting not in WEIGHTINGS:   # validate the name early (the message of weights())
        weights(np.ones(1, dtype=np.complex128), weighting)
    n_points = np.isfinite(frequency).sum(axis=1)
    pf = space.free.size
    if (2 * n_points < pf).any():
        bad = int(np.flatnonzero(2 * n_points < pf)[0])
        raise FitError(f"spectrum {bad} has {int(n_points[bad])} points: too few to fit "
                       f"{pf} free parameters (need at least {(pf + 1) // 2})")
    starts = _starting_points(initial_guess, frequency, impedance, names, roles,
                              bulk_from_intercept)
    s, k, p = starts.shape
    problem = _Problem(compiled, space, frequency, impedance, weighting, k)
    u0 = space.to_internal(starts.reshape(s * k, p))
    lo, hi = _row_bounds(space, compiled, frequency, impedance, starts, u_start=u0[::k])
    # np.clip, without its call overhead; bounds per spectrum, for each of its k starts
    u0 = np.minimum(np.maximum(u0.reshape(s, k, -1), lo[:, None]),
                    hi[:, None]).reshape(s * k, -1)
    floor = problem.cost_floor()
    options = {"max_nfev": max_nfev, "max_step": MAX_STEP, **(solver_options or {})}
    if k == 1 or not staged:
        res = _solve_rows(problem, u0, lo, hi, floor, np.arange(s * k), options)
    else:
        # Stage 1: the first data-driven start of every spectrum. Stage 2: the other starts,
        # only for spectra whose stage-1 fit is doubtful (not converged, or residuals with
        # too few sign runs for noise: the signature of a wrong local minimum).
        first = np.arange(s) * k
        res = _solve_part(problem, u0, lo, hi, floor, first, options)
        doubtful = ~res.converged | (
            (res.reason != EXACT_FIT) & (_runs_z(res.residuals, n_points) < RUNS_Z))
        if doubtful.any():
            again = np.flatnonzero(doubtful)
            res = _expand(res, first, u0)
            rows = (again[:, None] * k + np.arange(1, k)[None, :]).ravel()
            _merge(res, _solve_part(problem, u0, lo, hi, floor, rows, options), rows)
        else:
            k = 1   # every spectrum keeps its first start: the result is over those only

    if k == 1:
        # one start per spectrum, in order: the result rows are the spectra
        def pick(a: Any) -> Any:
            return a
        messages = res.messages()
        nfev = res.nfev
    else:
        # best start per spectrum: lowest cost, converged rows first among equals
        cost = np.where(np.isfinite(res.cost), res.cost, np.inf).reshape(s, k)
        rows = np.arange(s) * k + np.argmin(cost, axis=1)

        def pick(a: Any) -> Any:
            return a[rows]
        all_messages = res.messages()
        messages = [all_messages[i] for i in rows.tolist()]
        nfev = res.nfev.reshape(s, k).sum(1)
    u = pick(res.x)
    params = space.to_natural(u)
    residuals = pick(res.residuals)
    stats = fit_statistics(residuals, pick(res.jacobian),
                           space.natural_derivative(u), space.free, p, 2 * n_points)
    at_bound = _at_bound(space, u, lo, hi)
    swapped = _arc_swap(params, stats.covariance, stats.correlation, stats.stderr, space,
                        roles, bulk_from_intercept, flags=at_bound)
    return BatchFit(
        params=params, stderr=stats.stderr, covariance=stats.covariance,
        correlation=stats.correlation, status=pick(res.status), messages=messages,
        cost=pick(res.cost), chi_square=stats.chi_square,
        reduced_chi_square=stats.reduced_chi_square, aic=stats.aic, bic=stats.bic,
        n_points=n_points, nfev=nfev, n_iterations=pick(res.n_iterations),
        impedance_fit=problem.model_at(params, residuals), residuals=residuals,
        swapped=swapped, at_bound=at_bound)
