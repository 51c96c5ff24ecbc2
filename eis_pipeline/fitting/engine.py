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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.exceptions import FitError
from eis_pipeline.fitting.initial import N_STARTS, initial_guesses
from eis_pipeline.fitting.solver import Status, least_squares_batch
from eis_pipeline.fitting.statistics import fit_statistics
from eis_pipeline.fitting.transforms import ParameterSpace

__all__ = ["WEIGHTINGS", "BatchFit", "CompiledLike", "fit_arrays", "weights"]

Array = NDArray[np.float64]
CArray = NDArray[np.complex128]
WEIGHTINGS = ("modulus", "unit", "proportional")
PROPORTIONAL_FLOOR = 1e-3


class CompiledLike(Protocol):
    """What the engine needs from a compiled circuit (docs/contracts.md)."""

    circuit: str
    param_names: tuple[str, ...]
    param_units: tuple[str, ...]
    param_kinds: tuple[str, ...]

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


def _groups(frequency: Array) -> tuple[NDArray[np.intp], list[Array]]:
    """Spectra sharing one frequency grid evaluate the circuit in one call."""
    key = np.where(np.isfinite(frequency), frequency, -1.0)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    grids = [row[row > 0] for row in uniq]
    return inverse.reshape(-1), grids


class _Problem:
    """Weighted residuals and Jacobian for rows = (spectrum, start) pairs."""

    def __init__(self, compiled: CompiledLike, space: ParameterSpace, frequency: Array,
                 impedance: CArray, weighting: str, n_starts: int) -> None:
        self.compiled = compiled
        self.space = space
        self.n_starts = n_starts
        self.group, self.grids = _groups(frequency)
        self.data = np.where(np.isfinite(impedance), impedance, 0.0)
        wr, wi = weights(self.data, weighting)
        valid = np.isfinite(frequency)
        # padded points: infinite weight -> zero residual and zero Jacobian rows
        self.inv_wr = np.where(valid, 1.0 / np.where(wr > 0, wr, 1.0), 0.0)
        self.inv_wi = np.where(valid, 1.0 / np.where(wi > 0, wi, 1.0), 0.0)
        self.n = frequency.shape[1]
        self.free = space.free
        self.all_free = bool(self.free.size == space.n_params)

    def __call__(self, u: Array, rows: NDArray[np.intp]) -> tuple[Array, Array]:
        p = self.space.to_natural(u)
        dpdu = self.space.natural_derivative(u)
        spec = rows // self.n_starts
        k, n, pf = len(rows), self.n, u.shape[1]
        r = np.zeros((k, 2 * n))
        jac = np.zeros((k, 2 * n, pf))
        grp = self.group[spec]
        for g in np.unique(grp):
            sel = np.flatnonzero(grp == g) if len(self.grids) > 1 else slice(None)
            f = self.grids[g]
            m = f.size
            z, dz = self.compiled.impedance_and_jacobian(p[sel], f)
            if not self.all_free:
                dz = dz[:, :, self.free]
            s = spec[sel]
            iwr, iwi = self.inv_wr[s, :m], self.inv_wi[s, :m]
            diff = z - self.data[s, :m]
            r[sel, :m] = diff.real * iwr
            r[sel, n:n + m] = diff.imag * iwi
            dz = dz * dpdu[sel][:, None, :]
            jac[sel, :m] = dz.real * iwr[:, :, None]
            jac[sel, n:n + m] = dz.imag * iwi[:, :, None]
        return r, jac

    def model(self, params: Array) -> CArray:
        """Z for natural parameters (S, P) at every spectrum's own grid, NaN-padded."""
        out = np.full((params.shape[0], self.n), np.nan + 0j)
        for g, f in enumerate(self.grids):
            sel = np.flatnonzero(self.group == g)
            if sel.size:
                out[sel, :f.size] = self.compiled.impedance(params[sel], f)
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
              names: Sequence[str], roles: Mapping[str, Mapping[str, str]] | None,
              bulk_from_intercept: bool) -> NDArray[np.bool_]:
    """Make the bulk arc the one with the smaller τ = (R Q)^(1/n); swap in place if not."""
    s = params.shape[0]
    swapped = np.zeros(s, dtype=bool)
    if not roles or bulk_from_intercept:
        return swapped
    bulk, gb = roles.get("bulk", {}), roles.get("grain_boundary", {})
    index = {n: i for i, n in enumerate(names)}

    def arc(role: Mapping[str, str]) -> list[int] | None:
        cpe = role.get("cpe")
        if role.get("resistance") in index and cpe and f"{cpe}_1" in index:
            return [index[role["resistance"]], index[f"{cpe}_0"], index[f"{cpe}_1"]]
        return None

    ib, ig = arc(bulk), arc(gb)
    if ib is None or ig is None:
        return swapped
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
    return swapped


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
    """
    frequency = np.asarray(frequency, dtype=np.float64)
    impedance = np.asarray(impedance, dtype=np.complex128)
    names = compiled.param_names
    weights(np.ones(1, dtype=np.complex128), weighting)  # validate the name early
    n_points = np.isfinite(frequency).sum(axis=1)
    pf = space.free.size
    if np.any(2 * n_points < pf):
        bad = int(np.flatnonzero(2 * n_points < pf)[0])
        raise FitError(f"spectrum {bad} has {int(n_points[bad])} points: too few to fit "
                       f"{pf} free parameters (need at least {(pf + 1) // 2})")
    starts = _starting_points(initial_guess, frequency, impedance, names, roles,
                              bulk_from_intercept)
    s, k, p = starts.shape
    problem = _Problem(compiled, space, frequency, impedance, weighting, k)
    u0 = space.to_internal(starts.reshape(s * k, p))
    lo, hi = space.internal_bounds()
    res = least_squares_batch(problem, u0, lo, hi, max_nfev=max_nfev)

    # best start per spectrum: lowest cost, converged rows first among equals
    cost = np.where(np.isfinite(res.cost), res.cost, np.inf).reshape(s, k)
    best = np.argmin(cost, axis=1)
    rows = np.arange(s) * k + best
    u = res.x[rows]
    params = space.to_natural(u)
    stats = fit_statistics(res.residuals[rows], res.jacobian[rows],
                           space.natural_derivative(u), space.free, p, 2 * n_points)
    swapped = _arc_swap(params, stats.covariance, stats.correlation, stats.stderr, names,
                        roles, bulk_from_intercept)
    messages = res.messages()
    return BatchFit(
        params=params, stderr=stats.stderr, covariance=stats.covariance,
        correlation=stats.correlation, status=res.status[rows],
        messages=[messages[i] for i in rows.tolist()], cost=res.cost[rows],
        chi_square=stats.chi_square, reduced_chi_square=stats.reduced_chi_square,
        aic=stats.aic, bic=stats.bic, n_points=n_points, nfev=res.nfev.reshape(s, k).sum(1),
        n_iterations=res.n_iterations[rows], impedance_fit=problem.model(params),
        residuals=res.residuals[rows], swapped=swapped)
