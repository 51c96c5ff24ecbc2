"""numba-compiled fit: circuit evaluation and Levenberg–Marquardt in one machine-code loop.

A fit of one spectrum makes a handful of evaluations and iterations on arrays of ~70 points:
in numpy, almost all of its time is call overhead (a few dozen numpy calls per evaluation, a
dozen per iteration). Here the rows of a fit on one grid (every start of a
:class:`~eis_pipeline.fitting.model.CircuitModel` fit, every spectrum of a campaign batch)
are solved one after another in compiled code: the circuit's operations are encoded as
integers and interpreted point by point in forward mode (each slot carries its value and its
gradient over the parameters), and the iteration is that of
:func:`eis_pipeline.fitting.solver._solve_batch` row by row, step for step (same tests, same
order, same constants), so both reach the same point. When numba cannot load
(:data:`ENABLED` False, or a warning from :func:`load_kernels`), or a circuit has an element
not encoded here, nothing changes: :func:`prepare` returns None and the numpy path runs.

Forward mode (PHYSICS.md section 2): series ``Z = Σ Z_i``, ``dZ = Σ dZ_i``; parallel
``Z = 1 / Σ (1 / Z_i)``, ``dZ = Z² Σ dZ_i / Z_i²``.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.circuits.grammar import Element, Node, Parallel

__all__ = ["ENABLED", "CodedCircuit", "prepare", "solve_rows"]

#: Whether the compiled path is used. True when numba is importable; tests set it to False
#: to exercise the numpy fallback.
ENABLED: bool = importlib.util.find_spec("numba") is not None

Array = NDArray[np.float64]

# operation codes; a leaf's code is its element kind's
_SERIES, _PARALLEL = 0, 1
_LEAF_CODES = {"R": 2, "C": 3, "L": 4, "CPE": 5, "W": 6, "La": 7, "K": 8, "Zarc": 9}


@dataclass(frozen=True)
class CodedCircuit:
    """A circuit as integer operations for the compiled kernel.

    ``ops`` rows are ``(code, slot, start, first_child, n_children, p_start, p_stop)`` in
    post-order: a leaf reads parameters from ``start``; a block combines the slots
    ``children[first:first + n]``. A subtree's parameters are contiguous (circuit order is
    depth-first): its gradient is nonzero over ``p_start:p_stop`` only.
    """

    ops: NDArray[np.int64]
    children: NDArray[np.int64]
    n_slots: int
    root: int


def encode(ast: Node) -> CodedCircuit | None:
    """Encode ``ast``; None when it has an element the kernel does not know."""
    ops: list[tuple[int, int, int, int, int, int, int]] = []
    children: list[int] = []
    n_params = 0

    def build(node: Node) -> int | None:
        nonlocal n_params
        if isinstance(node, Element):
            code = _LEAF_CODES.get(node.kind)
            if code is None:
                return None
            from eis_pipeline.circuits.elements import ELEMENTS

            slot = len(ops)
            start = n_params
            n_params += ELEMENTS[node.kind].n_params
            ops.append((code, slot, start, 0, 0, start, n_params))
            return slot
        kids = []
        for child in node.children:
            s = build(child)
            if s is None:
                return None
            kids.append(s)
        first = len(children)
        children.extend(kids)
        slot = len(ops)
        p_start = min(ops[k][5] for k in kids)
        p_stop = max(ops[k][6] for k in kids)
        ops.append((_PARALLEL if isinstance(node, Parallel) else _SERIES, slot, 0, first,
                    len(kids), p_start, p_stop))
        return slot

    root = build(ast)
    if root is None:
        return None
    return CodedCircuit(np.array(ops, dtype=np.int64).reshape(-1, 7),
                        np.array(children, dtype=np.int64), len(ops), root)


@lru_cache(maxsize=64)
def _encode_circuit(circuit: str) -> CodedCircuit | None:
    from eis_pipeline.circuits import compile_circuit

    return encode(compile_circuit(circuit).ast)


def prepare(compiled: Any) -> CodedCircuit | None:
    """The coded circuit for the compiled path, or None when that path is off or cannot
    evaluate this circuit."""
    if not ENABLED or not hasattr(compiled, "ast") or _kernels() is None:
        return None
    return _encode_circuit(compiled.circuit)


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
               cost_floor: Array) -> tuple[Any, ...]:
    """Levenberg–Marquardt for each row of ``x0`` (R, Pf) against spectrum ``i = spec[row]``
    of ``data`` (S, N): its first ``n_valid[i]`` points, at the angular frequencies
    ``omega[grid_of[i]]`` (rows of a (G, N) table; spectra sharing a grid share a row), with
    ``lo``, ``hi`` (R, Pf) and ``cost_floor`` (R,) per row. Rows are independent and solved
    one after another in machine code. Returns the fields of a
    :class:`~eis_pipeline.fitting.solver.SolverResult` (padded like the numpy solver's): x,
    cost, residuals, jacobian, status, reason, nfev, n_iterations, newton_decrement."""
    k = _kernels()
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

    k.solve_rows(coded.ops, coded.children, coded.n_slots, coded.root, f64(omega), i64(grid_of),
                 i64(n_valid), f64(data.real), f64(data.imag), f64(inv_wr), f64(inv_wi),
                 i64(spec), p_fixed, free.astype(np.int64), log.astype(np.bool_), f64(x0),
                 f64(lo), f64(hi), int(max_nfev), *(float(t) for t in tol), f64(cost_floor),
                 x, cost, r, jac, ints, dec)
    status, reason, nfev, n_iter = (ints[:, c].astype(np.int_) for c in range(4))
    return x, cost, r, jac, status, reason, nfev, n_iter, dec


def residuals_and_jacobian(coded: CodedCircuit, omega: Array, data: NDArray[np.complex128],
                           inv_wr: Array, inv_wi: Array, n_params: int, free: NDArray[np.intp],
                           log: NDArray[np.bool_], fixed: NDArray[np.intp],
                           fixed_values: Array, u: Array) -> tuple[Array, Array]:
    """Weighted residuals (2N,) and their Jacobian (2N, Pf) at internal ``u`` (for tests)."""
    k = _kernels()
    p_fixed = np.zeros(n_params)
    p_fixed[fixed] = fixed_values
    n, pf = omega.size, free.size
    r = np.empty(2 * n)
    jac = np.empty((2 * n, pf))
    k.evaluate(coded.ops, coded.children, coded.n_slots, coded.root, omega,
               np.ascontiguousarray(data.real), np.ascontiguousarray(data.imag),
               np.ascontiguousarray(inv_wr, dtype=np.float64),
               np.ascontiguousarray(inv_wi, dtype=np.float64), p_fixed,
               free.astype(np.int64), log.astype(np.bool_), np.asarray(u, dtype=np.float64),
               r, jac)
    return r, jac
