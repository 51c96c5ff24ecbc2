"""``CircuitModel``: one equivalent circuit fitted to one spectrum, scikit-learn style.

>>> import numpy as np
>>> from eis_pipeline.fitting.model import CircuitModel
>>> f = np.logspace(6, 0, 61)
>>> z = CircuitModel("R0-p(R1,C1)").set_params_({"R0": 10.0, "R1": 100.0, "C1": 1e-6}).predict(f)
>>> m = CircuitModel("R0-p(R1,C1)").fit(f, z)
>>> {k: round(v, 6) for k, v in m.params_.items()}
{'R0': 10.0, 'R1': 100.0, 'C1': 1e-06}
>>> m.result_.converged
True
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.circuits import PRESETS, compile_circuit, get_preset
from eis_pipeline.circuits.roles import Roles
from eis_pipeline.conventions import check_spectrum_arrays
from eis_pipeline.exceptions import ConvergenceWarning, FitError, NotFittedError
from eis_pipeline.fitting.bounds import expand_bounds
from eis_pipeline.fitting.canonical import fit_canonical
from eis_pipeline.fitting.engine import WEIGHTINGS, CompiledLike
from eis_pipeline.fitting.structure import circuit_roles
from eis_pipeline.fitting.transforms import Bounds, ParameterSpace
from eis_pipeline.fitting.window import point_window
from eis_pipeline.vocabulary import is_auto_circuit

__all__ = ["CircuitModel", "FitResult", "resolve_circuit"]


@dataclass(frozen=True)
class FitResult:
    """Outcome of one fit, in the spirit of :class:`scipy.optimize.OptimizeResult`.

    Attributes
    ----------
    x : ndarray (P,)
        Fitted parameters, natural units, circuit order (fixed ones included).
    param_names : tuple of str
    status : int
        0 converged; > 0 see ``message`` (codes in :class:`eis_pipeline.fitting.solver.Status`).
    converged : bool
        True when a stationary point was reached.
    message : str
    cost : float
        ``0.5 * chi_square``.
    chi_square, reduced_chi_square, aic, bic : float
        See :mod:`eis_pipeline.fitting.statistics`.
    covariance, correlation : ndarray (P, P)
        Natural units; NaN where not estimable; fixed parameters 0 / NaN.
    nfev : int
        Residual evaluations over all starts.
    n_iterations : int
        Iterations of the start that was kept.
    n_points : int
    residuals : ndarray (2N,)
        Weighted residuals ``(Z_model - Z_data) / w``, real parts then imaginary parts.
    arcs_swapped : bool
        True when the bulk and grain-boundary arcs were exchanged to keep τ_bulk < τ_gb.
    at_bound : tuple of str
        Free parameters that ended on a bound the solver used (a user bound, or a safeguard
        such as the resistance floor 1e-6 min|Z|), circuit order. Non-empty means the data
        pushed a parameter as far as allowed: often a circuit that does not suit the
        spectrum (docs/fitting.md). A CPE exponent at n = 1 is not listed unless
        the user bounded it below 1.
    """

    x: NDArray[np.float64]
    param_names: tuple[str, ...]
    status: int
    converged: bool
    message: str
    cost: float
    chi_square: float
    reduced_chi_square: float
    aic: float
    bic: float
    covariance: NDArray[np.float64]
    correlation: NDArray[np.float64]
    nfev: int
    n_iterations: int
    n_points: int
    residuals: NDArray[np.float64]
    arcs_swapped: bool
    at_bound: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResolvedCircuit:
    """A compiled circuit with its roles.

    ``roles`` / ``bulk_from_intercept`` are what the fits dataset records for the physics
    stage: a preset's declared roles, or for a custom circuit the roles read from its
    structure when they name the arcs for certain
    (:func:`~eis_pipeline.fitting.structure.circuit_roles`), else empty (the physics stage
    then assigns the arcs by capacitance). ``start_roles`` / ``start_intercept`` steer the
    starting points and the arc order, also where the arcs' labels are not certain. Every
    spelling of one circuit gets the same roles for the same elements.
    """

    compiled: CompiledLike
    preset: str
    roles: Roles
    bulk_from_intercept: bool
    start_roles: Roles = field(default_factory=Roles)
    start_intercept: bool = False


@lru_cache(maxsize=256)
def resolve_circuit(circuit: str) -> ResolvedCircuit:
    """Compile a circuit string or preset name; attach the preset's roles when it is one,
    else the roles of its structure (cached: the result is immutable).

    A custom string identical (after normalisation) to a preset's circuit is that preset.
    """
    if is_auto_circuit(circuit):
        # "auto" is a choice between circuits, which a single-circuit fit cannot make
        raise FitError("circuit 'auto' means model selection, not one circuit: call "
                       "eis_pipeline.fitting.select_circuit(spectra) to fit the candidate "
                       "presets and choose per spectrum by BIC/AIC")
    compiled = compile_circuit(circuit)
    preset = None
    if circuit in PRESETS:
        preset = get_preset(circuit)
    else:
        for name in PRESETS:
            candidate = get_preset(name)
            if compile_circuit(candidate.circuit).circuit == compiled.circuit:
                preset = candidate
                break
    if preset is None:
        found = circuit_roles(compiled.ast)
        if found is None:
            return ResolvedCircuit(compiled, "", Roles(), False)
        if not found.ordered:
            return ResolvedCircuit(compiled, "", Roles(), False, found.roles,
                                   found.bulk_from_intercept)
        return ResolvedCircuit(compiled, "", found.roles, found.bulk_from_intercept,
                               found.roles, found.bulk_from_intercept)
    roles = preset.roles
    intercept = bool(preset.bulk_from_intercept)
    return ResolvedCircuit(compiled, preset.name, roles, intercept, roles, intercept)


def guess_vector(initial_guess: Mapping[str, float] | Sequence[float] | None,
                 names: Sequence[str], space: ParameterSpace) -> NDArray[np.float64] | None:
    """A full (P,) natural vector from a mapping, a free-parameter list (impedance.py style)
    or a full list; constants are filled in. None stays None."""
    if initial_guess is None:
        return None
    out = np.where(space.fixed, space.fixed_values, np.nan)
    if isinstance(initial_guess, Mapping):
        unknown = set(initial_guess) - set(names)
        if unknown:
            raise FitError(f"initial_guess names unknown parameters {sorted(unknown)}; the "
                           f"circuit's parameters are {', '.join(names)}")
        for i, n in enumerate(names):
            if n in initial_guess:
                out[i] = float(initial_guess[n])
        missing = [n for i, n in enumerate(names) if np.isnan(out[i])]
        if missing:
            raise FitError(f"initial_guess lacks {missing}; give every free parameter")
        return out
    values = np.asarray(initial_guess, dtype=np.float64).ravel()
    if values.size == space.free.size:
        out[space.free] = values
    elif values.size == len(names):
        out = np.where(space.fixed, out, values)
    else:
        raise FitError(f"initial_guess has {values.size} values; expected {space.free.size} "
                       f"(the free parameters {', '.join(space.free_names)}) or {len(names)}")
    return out


class CircuitModel:
    """An equivalent-circuit model fitted by batched Levenberg–Marquardt.

    Parameters
    ----------
    circuit : str
        impedance.py-style circuit string (``"p(R1,CPE1)-p(R2,CPE2)-CPE3"``) or a preset name
        (``"bulk-gb-electrode"``).
    weighting : {"modulus", "unit", "proportional"}
        Residual weights (:mod:`eis_pipeline.fitting.engine`).
    initial_guess : mapping or sequence, optional
        Starting values: name -> value, or a list of the free parameters' values in circuit
        order (as impedance.py's ``initial_guess``). Default: several starts from the data.
    constants : mapping, optional
        Parameters held fixed, name -> value (as impedance.py's ``constants``).
    bounds : mapping, optional
        name -> (lower, upper), natural units, ``None`` for an open side; a name may be an
        element type (``"R"``, ``"CPE_1"``) to bound every parameter of that type (a
        per-parameter entry wins).
    max_nfev : int, optional
        Residual evaluations allowed per start.

    Attributes
    ----------
    params_, stderr_ : dict
        Fitted values and standard errors by impedance.py parameter name (after ``fit``).
    result_ : FitResult
    """

    #: the constructor's arguments, as scikit-learn's ``get_params`` reports them
    _PARAMS = ("circuit", "weighting", "initial_guess", "constants", "bounds", "max_nfev")

    #: The last :meth:`_setup`'s arguments and result (class defaults: nothing yet).
    _setup_key: Any = None
    _setup_value: Any = None

    def __init__(self, circuit: str, weighting: str = "modulus",
                 initial_guess: Mapping[str, float] | Sequence[float] | None = None,
                 constants: Mapping[str, float] | None = None,
                 bounds: Bounds | None = None, max_nfev: int | None = None) -> None:
        # scikit-learn's convention: store the arguments as given, check them in ``fit``
        # (so ``set_params`` and cloning work); the compiled circuit is cached per string.
        self.circuit = circuit
        self.weighting = weighting
        self.initial_guess = initial_guess
        self.constants = constants
        self.bounds = bounds
        self.max_nfev = max_nfev

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments (scikit-learn's estimator API)."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params: Any) -> CircuitModel:
        """Change constructor arguments; returns ``self`` (scikit-learn's estimator API).
        Fitted values (``params_``) are set with :meth:`set_params_`."""
        unknown = sorted(set(params) - set(self._PARAMS))
        if unknown:
            raise FitError(f"CircuitModel has no parameter {unknown[0]!r}; valid: "
                           f"{', '.join(self._PARAMS)}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def _setup(self) -> tuple[Any, ParameterSpace, Any]:
        """The checked arguments: resolved circuit, parameter space, starting vector."""
        if self.weighting not in WEIGHTINGS:
            raise FitError(f"unknown weighting {self.weighting!r}; expected one of "
                           f"{', '.join(WEIGHTINGS)}")
        # the same circuit, constants and bounds as the last fit: the same objects, so the
        # invariants the engine derives from them are looked up, not recomputed (fitting.memo)
        try:   # exact bytes of the user's values, whatever their types
            key: Any = (self.circuit, pickle.dumps((self.constants, self.bounds)))
        except Exception:   # an unpicklable value: no reuse
            key = None
        if key is None or self._setup_key != key:
            resolved = resolve_circuit(self.circuit)
            c = resolved.compiled
            space = ParameterSpace.build(c.param_names, c.param_kinds,
                                         dict(self.constants or {}),
                                         expand_bounds(c.param_names, dict(self.bounds or {})))
            self._setup_key, self._setup_value = key, (resolved, space)
        resolved, space = self._setup_value
        return resolved, space, guess_vector(self.initial_guess, resolved.compiled.param_names,
                                             space)

    def __repr__(self) -> str:
        return f"CircuitModel({self.circuit!r}, weighting={self.weighting!r})"

    @property
    def param_names(self) -> tuple[str, ...]:
        """impedance.py parameter names, circuit order."""
        return tuple(compile_circuit(self.circuit).param_names)

    @property
    def param_units(self) -> dict[str, str]:
        """Unit of each parameter."""
        c = compile_circuit(self.circuit)
        return dict(zip(c.param_names, c.param_units, strict=True))

    def set_params_(self, params: Mapping[str, float]) -> CircuitModel:
        """Set fitted values directly (e.g. to simulate); ``stderr_`` becomes NaN."""
        names = self.param_names
        missing = set(names) - set(params)
        if missing:
            raise FitError(f"set_params_ lacks {sorted(missing)}")
        self.params_ = {n: float(params[n]) for n in names}
        self.stderr_ = dict.fromkeys(names, float("nan"))
        return self

    def fit(self, frequency: Any, impedance: Any, *, f_min_hz: float | None = None,
            f_max_hz: float | None = None, mask: Any = None) -> CircuitModel:
        """Fit the circuit to one spectrum; return ``self``.

        ``f_min_hz``/``f_max_hz`` (Hz) and ``mask`` (one boolean per point, True = fit)
        restrict the points fitted; ``result_.residuals`` and ``n_points`` are over those.

        Warns :class:`~eis_pipeline.exceptions.ConvergenceWarning` when the fit did not reach
        a stationary point (``result_.status`` says why).
        """
        r, space, guess = self._setup()
        f, z = check_spectrum_arrays(frequency, impedance, where="CircuitModel.fit")
        if f_min_hz is not None or f_max_hz is not None or mask is not None:
            if mask is not None:
                mask = np.asarray(mask, dtype=bool)
            f2, z2, n = point_window(f[None], z[None], np.array([f.size]), f_min_hz,
                                     f_max_hz, mask)
            f, z = f2[0, :n[0]], z2[0, :n[0]]
        fit = fit_canonical(r.compiled, f[None, :], z[None, :], weighting=self.weighting,
                            space=space, initial_guess=guess, roles=r.start_roles,
                            bulk_from_intercept=r.start_intercept, max_nfev=self.max_nfev)
        names = self.param_names
        self.params_ = dict(zip(names, fit.params[0].tolist(), strict=True))
        self.stderr_ = dict(zip(names, fit.stderr[0].tolist(), strict=True))
        self.result_ = FitResult(
            x=fit.params[0], param_names=names, status=int(fit.status[0]),
            converged=bool(fit.converged[0]), message=fit.messages[0],
            cost=float(fit.cost[0]), chi_square=float(fit.chi_square[0]),
            reduced_chi_square=float(fit.reduced_chi_square[0]), aic=float(fit.aic[0]),
            bic=float(fit.bic[0]), covariance=fit.covariance[0],
            correlation=fit.correlation[0], nfev=int(fit.nfev[0]),
            n_iterations=int(fit.n_iterations[0]), n_points=int(fit.n_points[0]),
            residuals=fit.residuals[0], arcs_swapped=bool(fit.swapped[0]),
            at_bound=tuple(n for n, b in zip(names, fit.at_bound[0].tolist(), strict=True)
                           if b))
        if not self.result_.converged:
            warnings.warn(f"{self.circuit}: {self.result_.message}", ConvergenceWarning,
                          stacklevel=2)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(f"this CircuitModel({self.circuit!r}) is not fitted yet; "
                                 "call .fit(frequency, impedance) first")

    def predict(self, frequency: Any) -> NDArray[np.complex128]:
        """Model impedance (ohm) at ``frequency`` (Hz) with the fitted parameters."""
        self._check_fitted()
        f = np.asarray(frequency, dtype=np.float64)
        p = np.array([self.params_[n] for n in self.param_names])
        return np.asarray(compile_circuit(self.circuit).impedance(p, f))

    def to_impedance_py(self) -> Any:
        """An ``impedance.models.circuits.CustomCircuit`` carrying the fitted values.

        Fixed parameters become impedance.py ``constants``; ``parameters_`` and ``conf_``
        hold the free parameters' values and standard errors.
        """
        self._check_fitted()
        from impedance.models.circuits import CustomCircuit

        names = self.param_names
        _, space, _ = self._setup()
        free = [n for i, n in enumerate(names) if not space.fixed[i]]
        constants = {n: self.params_[n] for n in names if n not in free}
        cc = CustomCircuit(compile_circuit(self.circuit).circuit,
                           initial_guess=[self.params_[n] for n in free], constants=constants)
        cc.parameters_ = np.array([self.params_[n] for n in free])
        cc.conf_ = np.array([self.stderr_[n] for n in free])
        return cc
