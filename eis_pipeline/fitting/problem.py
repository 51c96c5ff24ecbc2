"""The least-squares problem of a fit: weighted residuals and their Jacobian for rows =
(spectrum, start) pairs of NaN-padded spectra (S, N).

Weighting (residual ``r = (Z_model - Z_data) / w``, real parts then imaginary parts):

- ``modulus`` (default): ``w = |Z_data|`` for both parts (impedance.py's ``weight_by_modulus``);
- ``unit``: ``w = 1`` (the largest arc dominates);
- ``proportional``: ``w = |Z'_data|`` for the real part and ``|Z''_data|`` for the imaginary
  part, each floored at ``1e-3 |Z_data|`` so that a point where Z'' crosses zero (e.g. the
  inductive top of the range) cannot get an unbounded weight.

Spectra sharing a frequency grid evaluate the circuit in one call; the prepared grids are
cached across fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.circuits import FrequencyGrid
from eis_pipeline.exceptions import FitError
from eis_pipeline.fitting import compiled_lm
from eis_pipeline.fitting.memo import Recent
from eis_pipeline.fitting.transforms import ParameterSpace
from eis_pipeline.vocabulary import WEIGHTINGS

__all__ = ["WEIGHTINGS", "CompiledLike", "Problem", "weights"]

Array = NDArray[np.float64]
CArray = NDArray[np.complex128]
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
_GRIDS: Recent[Any] = Recent(16)


def _grid(frequency: Array) -> Any:
    """A cached :class:`~eis_pipeline.circuits.FrequencyGrid` for a 1-D frequency array."""
    return _GRIDS.get(frequency.tobytes(), lambda: FrequencyGrid(frequency))


class Problem:
    """Weighted residuals and Jacobian for rows = (spectrum, start) pairs."""

    def __init__(self, compiled: CompiledLike, space: ParameterSpace, frequency: Array,
                 impedance: CArray, weighting: str, n_starts: int) -> None:
        self.compiled = compiled
        self.space = space
        self.n_starts = n_starts
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
            batches: Any = [(slice(None), FrequencyGrid(self.filled[spec]), n)]
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

    def model(self, params: Array, spec: NDArray[np.intp] | None = None) -> CArray:
        """Z for natural parameters (R, P) at the grid of spectrum ``spec[row]`` (default:
        row i is spectrum i), NaN-padded."""
        if self.simple:   # one grid, no padding
            return np.asarray(self.compiled.impedance(params, self.grids[0]))
        if spec is None:
            spec = np.arange(params.shape[0])
        if self.per_row:
            z = self.compiled.impedance(params, FrequencyGrid(self.filled[spec]))
            valid = np.isfinite(self.inv_wr[spec]) & (self.inv_wr[spec] > 0)
            return np.where(valid, z, np.nan + 0j)
        out = np.full((params.shape[0], self.n), np.nan + 0j)
        group = self.group[spec]
        for g, grid in enumerate(self.grids):
            sel = np.flatnonzero(group == g)
            if sel.size:
                out[sel, :self.sizes[g]] = self.compiled.impedance(params[sel], grid)
        return out
