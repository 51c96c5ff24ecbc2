"""A circuit compiled once: parameter metadata and a vectorised evaluator of Z and dZ/dp.

The evaluation plan itself lives in :mod:`eis_pipeline.circuits.program`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from eis_pipeline.circuits.elements import ELEMENTS, ParamKind
from eis_pipeline.circuits.grammar import Node, iter_elements, render
from eis_pipeline.circuits.grid import FrequencyGrid
from eis_pipeline.circuits.program import Program
from eis_pipeline.exceptions import CircuitError

__all__ = ["CompiledCircuit"]

Array = npt.NDArray[Any]


class CompiledCircuit:
    """A parsed circuit with its parameter metadata and a fast evaluator.

    Build with :func:`~eis_pipeline.circuits.compile_circuit` (cached), not directly.

    Attributes
    ----------
    circuit : str
        Normalised impedance.py string.
    param_names, param_units, param_kinds : tuple of str
        impedance.py names and order; units; ``"positive"`` (fit in log space),
        ``"exponent"`` (0 < n <= 1) or ``"real"``.
    lower_bounds, upper_bounds : ndarray
        Natural default bounds per parameter.
    element_names, element_kinds : tuple of str
        Elements in string order (``"CPE1"``, ``"CPE"``).
    element_slices : dict of str to slice
        Where each element's parameters sit in the parameter vector.

    Notes
    -----
    Pass a :class:`~eis_pipeline.circuits.grid.FrequencyGrid` instead of a frequency array
    when evaluating the same frequencies repeatedly (a fit): the grid validates the
    frequencies and caches ln ω, √(jω) etc. once.

    Examples
    --------
    >>> from eis_pipeline.circuits import compile_circuit
    >>> c = compile_circuit("R0-p(R1,C1)")
    >>> c.param_names
    ('R0', 'R1', 'C1')
    >>> z = c.impedance([10.0, 100.0, 1e-6], [1e-3, 1e7])
    >>> np.round(z.real, 3)
    array([110.,  10.])
    """

    def __init__(self, ast: Node) -> None:
        self.ast = ast
        self.circuit = render(ast)
        elements = list(iter_elements(ast))
        self.element_names = tuple(e.name for e in elements)
        self.element_kinds = tuple(e.kind for e in elements)
        names: list[str] = []
        units: list[str] = []
        kinds: list[ParamKind] = []
        lower: list[float] = []
        upper: list[float] = []
        slices: dict[str, slice] = {}
        for e in elements:
            etype = ELEMENTS[e.kind]
            slices[e.name] = slice(len(names), len(names) + etype.n_params)
            names.extend(etype.param_names(e.name))
            for spec in etype.params:
                units.append(spec.unit)
                kinds.append(spec.kind)
                lower.append(spec.lower)
                upper.append(spec.upper)
        self.param_names = tuple(names)
        self.param_units = tuple(units)
        self.param_kinds = tuple(kinds)
        self.lower_bounds = np.array(lower)
        self.upper_bounds = np.array(upper)
        self.lower_bounds.flags.writeable = False
        self.upper_bounds.flags.writeable = False
        self.element_slices = slices
        self._program = Program(ast)

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def __repr__(self) -> str:
        return f"CompiledCircuit({self.circuit!r})"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # Pickles (e.g. to dask workers) as the string and recompiles through the cache.
        from eis_pipeline.circuits import compile_circuit

        return compile_circuit, (self.circuit,)

    # ----------------------------------------------------------------------- evaluation

    def _columns(self, params: Any) -> tuple[Array, bool]:
        p = np.asarray(params, dtype=np.float64)
        if p.ndim not in (1, 2) or p.shape[-1] != self.n_params:
            raise CircuitError(
                f"parameters have shape {p.shape}; circuit {self.circuit} needs "
                f"{self.n_params} values per spectrum, shape ({self.n_params},) or "
                f"(B, {self.n_params}), in the order {', '.join(self.param_names)}")
        single = p.ndim == 1
        if single:
            p = p[None, :]
        return p.T[:, :, None], single

    def _shape(self, cols: Array, g: FrequencyGrid) -> tuple[int, int]:
        b = cols.shape[1]
        if g.frequency.ndim == 2:
            if b not in (1, g.shape[0]):
                raise CircuitError(f"{b} parameter vectors but {g.shape[0]} frequency rows")
            b = g.shape[0]
        return b, g.shape[-1]

    def impedance(self, params: Any, frequency: Any) -> Array:
        """Complex impedance in ohm.

        Parameters
        ----------
        params
            Natural parameter values, shape ``(P,)`` or ``(B, P)``, in :attr:`param_names`
            order.
        frequency
            Hz, shape ``(F,)`` or ``(B, F)``, or a prepared
            :class:`~eis_pipeline.circuits.grid.FrequencyGrid`.

        Returns
        -------
        ndarray of complex
            ``(F,)`` for a single parameter vector on a 1-D grid, else ``(B, F)``.
        """
        g = FrequencyGrid.of(frequency)
        cols, single = self._columns(params)
        shape = self._shape(cols, g)
        chunks = _chunks(shape)
        if chunks is None:
            z = _as_shape(self._program.value(cols, g), shape)
        else:
            z = np.empty(shape, np.complex128)
            for rows in chunks:
                z[rows] = self._program.value(_rows(cols, rows), g.rows(rows))
        return z[0] if single and g.frequency.ndim == 1 else z

    def impedance_and_jacobian(self, params: Any, frequency: Any) -> tuple[Array, Array]:
        """Impedance and its analytic Jacobian with respect to the natural parameters.

        Parameters
        ----------
        params, frequency
            As for :meth:`impedance`.

        Returns
        -------
        z : ndarray of complex, ``(B, F)`` (or ``(F,)``)
        jacobian : ndarray of complex, ``(B, F, P)`` (or ``(F, P)``)
            ∂Z/∂p_k in ohm per unit of p_k. It is a view of a ``(P, B, F)`` C-contiguous
            buffer, so ``jacobian[..., k]`` is contiguous.
        """
        g = FrequencyGrid.of(frequency)
        cols, single = self._columns(params)
        shape = self._shape(cols, g)
        jac = np.empty((self.n_params, *shape), np.complex128)
        chunks = _chunks(shape)
        if chunks is None:
            z = _as_shape(self._program.value_and_grad(cols, g, jac), shape)
        else:
            z = np.empty(shape, np.complex128)
            for rows in chunks:
                z[rows] = self._program.value_and_grad(_rows(cols, rows), g.rows(rows),
                                                       jac[:, rows])
        jac_bfp = jac.transpose(1, 2, 0)
        if single and g.frequency.ndim == 1:
            return z[0], jac_bfp[0]
        return z, jac_bfp


#: Rows of a batch evaluated together hold about this many points per array. Small enough
#: that temporaries (64 KiB) stay in the allocator's heap and the CPU cache: large arrays are
#: mmap-ed fresh by malloc on every call, and their page faults cost more than the arithmetic
#: (measured 3x on Z + Jacobian for 1000 x 70 points).
CHUNK_POINTS = 4096


def _as_shape(z: Any, shape: tuple[int, int]) -> Array:
    """The program's result as a complex (B, F) array (it may come as (F,), a broadcastable
    shape, or a scalar for a frequency-independent circuit)."""
    if getattr(z, "shape", None) == shape and z.dtype == np.complex128:
        return np.asarray(z)
    z = np.asarray(z, dtype=np.complex128)
    if z.size == shape[0] * shape[1]:
        return z.reshape(shape)
    return np.broadcast_to(z, shape).copy()


def _chunks(shape: tuple[int, int]) -> list[slice] | None:
    """Row slices of a (B, F) batch, or None when it fits in one chunk."""
    b, f = shape
    rows = max(1, CHUNK_POINTS // f)
    if b <= rows:
        return None
    return [slice(start, min(b, start + rows)) for start in range(0, b, rows)]


def _rows(cols: Array, rows: slice) -> Array:
    """Parameter columns (P, B, 1) of some rows; one parameter vector serves every row."""
    return cols if cols.shape[1] == 1 else cols[:, rows]


@lru_cache(maxsize=256)
def compile_normalised(circuit: str) -> CompiledCircuit:
    """Compile a normalised circuit string (cached; use ``compile_circuit``)."""
    from eis_pipeline.circuits.grammar import parse_circuit

    return CompiledCircuit(parse_circuit(circuit))
