"""A circuit fit in machine code: the generated evaluator and Levenberg–Marquardt in one loop.

A fit of one spectrum makes a handful of evaluations and iterations on arrays of ~70 points:
in numpy, almost all of its time would be call overhead. Here the rows of a fit on one grid
(every start of a :class:`~eis_pipeline.fitting.model.CircuitModel` fit, every spectrum of a
campaign batch) are solved one after another by the compiled iteration of
:mod:`~eis_pipeline.fitting._lm_kernels`, which calls the circuit's generated evaluator
(:mod:`eis_pipeline.circuits.codegen`: straight-line code for that circuit, every element
compiled) through a function pointer. The iteration is compiled once for all circuits; each
circuit structure's evaluator once per machine (both cached on disk).

When numba is switched off (:data:`ENABLED` False) or cannot load (a warning from
:func:`load_kernels`), the same two pieces of source run as their pure-Python twins
(:func:`eis_pipeline._jit.pure`): slower, same iteration, same optimum.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from eis_pipeline import _jit
from eis_pipeline.circuits import codegen
from eis_pipeline.circuits.codegen import structure
from eis_pipeline.fitting.memo import by_identity

__all__ = ["ENABLED", "CodedCircuit", "prepare", "solve_rows", "start_costs"]

#: Whether the compiled path is used. True when numba is importable; tests set it to False
#: to exercise the pure-Python twins of the same kernels.
ENABLED: bool = _jit.AVAILABLE and importlib.util.find_spec("numba") is not None

Array = NDArray[np.float64]


@dataclass(frozen=True)
class CodedCircuit:
    """A circuit ready for :func:`solve_rows`: its generated ``evaluate`` kernel and the
    solver kernels to run it with (compiled, or both pure)."""

    evaluate: Any
    solver: Any
    structure: str

    @property
    def compiled(self) -> bool:
        return isinstance(self.evaluate, _jit.FirstClass)


def prepare(compiled: Any) -> CodedCircuit | None:
    """The circuit for the compiled solver: compiled kernels when :data:`ENABLED` and numba
    loads, else their pure twins; None for an object without a circuit tree (a user's own
    :class:`~eis_pipeline.fitting.problem.CompiledLike`), which takes the generic solver."""
    if not hasattr(compiled, "ast"):
        return None

    return by_identity("coded", (compiled, ENABLED), lambda: _coded(compiled.ast))


def _coded(ast: Any) -> CodedCircuit:
    """:func:`prepare` by the circuit's structure (one evaluator for every circuit of it)."""
    key = (structure(ast), ENABLED)
    coded = _CODED.get(key)
    if coded is None:
        coded = _CODED[key] = _code(ast, key[0], ENABLED)
    return coded


_CODED: dict[tuple[str, bool], CodedCircuit] = {}


def _code(ast: Any, key: str, compiled: bool) -> CodedCircuit:
    """Compiled kernels when ``compiled`` and numba loads, else the pure twins."""

    solver = _kernels() if compiled else None
    if solver is not None:
        try:
            return CodedCircuit(_jit.FirstClass(codegen.evaluator(ast).evaluate), solver, key)
        except Exception as exc:   # a numba failure must leave the pure path working
            warnings.warn(f"the compiled evaluator of {key} is unavailable ({exc}); using "
                          "the pure-Python kernels", RuntimeWarning, stacklevel=4)
    return CodedCircuit(codegen.evaluator(ast, pure=True).evaluate,
                        _jit.pure("eis_pipeline.fitting._lm_kernels"), key)


@cache
def load_kernels(module: str) -> Any:
    """The numba kernels module ``eis_pipeline.fitting.<module>``, imported on first use
    (importing numba and loading its cached machine code costs ~0.3 s, paid only by a
    process that fits one spectrum); None when numba cannot set them up (a broken install,
    no writable cache directory), with a warning: the numpy path then runs."""
    try:
        return importlib.import_module(f"eis_pipeline.fitting.{module}")
    except Exception as exc:   # any numba failure must leave the numpy path working
        warnings.warn(f"numba is installed but the compiled fit is unavailable ({exc}); "
                      "using the numpy path", RuntimeWarning, stacklevel=3)
        return None


#: What a command prints before the first fit on a machine (:func:`needs_compiling`).
COMPILING_NOTE = ("note: compiling the fit kernels for this machine, once (about half a minute; "
                  "cached for later runs)")


def needs_compiling() -> bool:
    """True when the kernels have no machine code cached yet for this machine and version
    (the first fit then compiles them: ~25 s once), so a command can say why it waits."""
    if not ENABLED:
        return False
    from pathlib import Path

    for module, name in (("_lm_kernels", "solve_rows"), ("_start_kernels", "role_starts")):
        kernels = load_kernels(module)
        try:   # numba's cache index file (private API: on any doubt, say nothing)
            index = getattr(kernels, name)._cache._cache_file._index_path
        except Exception:
            return False
        if not Path(index).is_file():
            return True
    return False


def _kernels() -> Any:
    """The solver's kernels (:func:`load_kernels`)."""
    return load_kernels("_lm_kernels")


def solve_rows(coded: CodedCircuit, omega: Array, grid_of: NDArray[np.intp],
               n_valid: NDArray[np.intp], data: NDArray[np.complex128], inv_wr: Array,
               inv_wi: Array, spec: NDArray[np.intp], n_params: int, free: NDArray[np.intp],
               log: NDArray[np.bool_], fixed: NDArray[np.intp], fixed_values: Array, x0: Array,
               lo: Array, hi: Array, max_nfev: int,
               tol: tuple[float, float, float, float, float, float],
               cost_floor: Array, beat: Array | None = None) -> tuple[Any, ...]:
    """Levenberg–Marquardt for each row of ``x0`` (R, Pf) against spectrum ``i = spec[row]``
    of ``data`` (S, N): its first ``n_valid[i]`` points, at the angular frequencies
    ``omega[grid_of[i]]`` (rows of a (G, N) table; spectra sharing a grid share a row), with
    ``lo``, ``hi`` (R, Pf), ``cost_floor`` and ``beat`` (R,; inf = none: the cost a row is
    abandoned above, :func:`~eis_pipeline.fitting._lm_kernels.solve_single`) per row.
    Rows are independent and solved one after another in machine code. Returns the fields of a
    :class:`~eis_pipeline.fitting.solver.SolverResult` (padded like the numpy solver's): x,
    cost, residuals, jacobian, status, reason, nfev, n_iterations, newton_decrement."""
    k = coded.solver
    p_fixed = np.zeros(n_params)
    p_fixed[fixed] = fixed_values
    rows, pf = x0.shape
    m = 2 * data.shape[1]
    x = np.empty((rows, pf))
    cost = np.empty(rows)
    r = np.empty((rows, m))
    jac = np.empty((rows, m, pf))
    ints = np.empty((rows, 4), dtype=np.int64)
    dec = np.empty(rows)

    def f64(a: Any) -> Array:
        return np.ascontiguousarray(a, dtype=np.float64)

    def i64(a: Any) -> NDArray[np.int64]:
        return np.ascontiguousarray(a, dtype=np.int64)

    k.solve_rows(coded.evaluate, f64(omega), i64(grid_of), i64(n_valid), f64(data.real),
                 f64(data.imag), f64(inv_wr), f64(inv_wi),
                 i64(spec), p_fixed, free.astype(np.int64), log.astype(np.bool_), f64(x0),
                 f64(lo), f64(hi), int(max_nfev), *(float(t) for t in tol), f64(cost_floor),
                 f64(np.full(rows, np.inf) if beat is None else beat), x, cost, r, jac, ints,
                 dec)
    status, reason, nfev, n_iter = (ints[:, c].astype(np.int_) for c in range(4))
    return x, cost, r, jac, status, reason, nfev, n_iter, dec


def start_costs(coded: CodedCircuit, omega: Array, grid_of: NDArray[np.intp],
                n_valid: NDArray[np.intp], data: NDArray[np.complex128], inv_wr: Array,
                inv_wi: Array, spec: NDArray[np.intp], n_params: int, free: NDArray[np.intp],
                log: NDArray[np.bool_], fixed: NDArray[np.intp], fixed_values: Array,
                x0: Array) -> Array:
    """The cost ``0.5 |r|²`` of each row of ``x0`` (R, Pf) (inf where not finite); the
    arguments as for :func:`solve_rows`."""
    p_fixed = np.zeros(n_params)
    p_fixed[fixed] = fixed_values
    cost = np.empty(x0.shape[0])
    coded.solver.start_costs(
        coded.evaluate, np.ascontiguousarray(omega, dtype=np.float64),
        np.ascontiguousarray(grid_of, dtype=np.int64),
        np.ascontiguousarray(n_valid, dtype=np.int64), np.ascontiguousarray(data.real),
        np.ascontiguousarray(data.imag), np.ascontiguousarray(inv_wr, dtype=np.float64),
        np.ascontiguousarray(inv_wi, dtype=np.float64),
        np.ascontiguousarray(spec, dtype=np.int64), p_fixed, free.astype(np.int64),
        log.astype(np.bool_), np.ascontiguousarray(x0, dtype=np.float64), cost)
    return cost


def residuals_and_jacobian(coded: CodedCircuit, omega: Array, data: NDArray[np.complex128],
                           inv_wr: Array, inv_wi: Array, n_params: int, free: NDArray[np.intp],
                           log: NDArray[np.bool_], fixed: NDArray[np.intp],
                           fixed_values: Array, u: Array) -> tuple[Array, Array]:
    """Weighted residuals (2N,) and their Jacobian (2N, Pf) at internal ``u`` (for tests)."""
    p = np.zeros(n_params)
    p[fixed] = fixed_values
    n, pf = omega.size, free.size
    r = np.empty(2 * n)
    jac = np.empty((2 * n, pf))
    coded.solver._residuals(
        coded.evaluate, np.ascontiguousarray(omega, dtype=np.float64),
        np.ascontiguousarray(data.real), np.ascontiguousarray(data.imag),
        np.ascontiguousarray(inv_wr, dtype=np.float64),
        np.ascontiguousarray(inv_wi, dtype=np.float64), p, np.ones(pf),
        free.astype(np.int64), log.astype(np.bool_), np.asarray(u, dtype=np.float64),
        np.empty(n, np.complex128), np.empty((n, n_params), np.complex128), r, jac)
    return r, jac
