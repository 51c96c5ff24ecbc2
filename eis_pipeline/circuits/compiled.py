"""A circuit compiled once into a vectorised evaluator of Z and its analytic Jacobian.

The AST is turned into a small plan of leaf and block nodes at compile time. Each node knows
whether its parent wants its impedance Z (a series sum) or its admittance Y = 1/Z (a branch of
a parallel block), so R‖CPE is evaluated as Z = 1/(1/R + Q (jω)^n) without ever forming the
CPE's impedance.

Jacobian (PHYSICS.md section 2): an element's parameters enter Z only through that element,
so dZ/dp = (dZ/dX_leaf) · dX_leaf/dp, where X is Z or Y of the leaf. The chain factor is a
product of one local factor per block on the path:

- series block seen as Z: dZ/dZ_i = 1;          seen as Y = 1/ΣZ_i: dY/dZ_i = -Y²
- parallel block seen as Y: dY/dY_i = 1;        seen as Z = 1/ΣY_i: dZ/dY_i = -Z²

(-Z² · dY_i/dZ_i = Z²/Z_i², the textbook parallel rule.) Each factor is one array per block,
shared by all its leaves. All arithmetic runs on whole (batch, frequency) arrays: the Python
loop is over the few nodes of the circuit only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from eis_pipeline.circuits.elements import ELEMENTS, ElementType, ParamKind
from eis_pipeline.circuits.grammar import Element, Node, Parallel, iter_elements, render
from eis_pipeline.circuits.grid import FrequencyGrid
from eis_pipeline.exceptions import CircuitError

__all__ = ["CompiledCircuit"]

Array = npt.NDArray[Any]


@dataclass(frozen=True, slots=True)
class _Leaf:
    element: ElementType
    start: int
    stop: int
    admittance: bool  # the parent sums admittances (a parallel block)


@dataclass(frozen=True, slots=True)
class _Block:
    children: tuple[_Leaf | _Block, ...]
    parallel: bool
    admittance: bool


def _plan(node: Node, admittance: bool, start: int) -> tuple[_Leaf | _Block, int]:
    if isinstance(node, Element):
        element = ELEMENTS[node.kind]
        stop = start + element.n_params
        return _Leaf(element, start, stop, admittance), stop
    parallel = isinstance(node, Parallel)
    children = []
    for child in node.children:
        planned, start = _plan(child, parallel, start)
        children.append(planned)
    return _Block(tuple(children), parallel, admittance), start


def _fits_in(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` broadcasts into ``target`` without growing it."""
    return len(shape) <= len(target) and all(
        s in (1, t) for s, t in zip(shape[::-1], target[::-1], strict=False))


def _sum(values: list[Array]) -> Array:
    total = values[0] + values[1]
    for v in values[2:]:
        if total.dtype == np.complex128 and _fits_in(v.shape, total.shape):
            total += v  # in place: total is a fresh array, never a cached one
        else:
            total = total + v
    return total


def _value(node: _Leaf | _Block, cols: Array, g: FrequencyGrid) -> Array:
    if isinstance(node, _Leaf):
        p = cols[node.start:node.stop]
        return node.element.admittance(p, g) if node.admittance else node.element.z(p, g)
    total = _sum([_value(child, cols, g) for child in node.children])
    # A parallel block sums admittances; a series block sums impedances. Invert when the
    # parent wants the other one.
    return 1.0 / total if node.parallel != node.admittance else total


# A pending Jacobian contribution: (first parameter, derivatives of the leaf, chain factor).
_Item = tuple[int, tuple[Any, ...], Array | None]


def _value_grad(node: _Leaf | _Block, cols: Array, g: FrequencyGrid,
                items: list[_Item]) -> Array:
    if isinstance(node, _Leaf):
        p = cols[node.start:node.stop]
        element = node.element
        value, grads = element.admittance_grad(p, g) if node.admittance else element.z_grad(p, g)
        items.append((node.start, grads, None))
        return value
    first = len(items)
    total = _sum([_value_grad(child, cols, g, items) for child in node.children])
    if node.parallel == node.admittance:
        return total
    value = 1.0 / total
    factor = value * value
    np.negative(factor, out=factor)
    for i in range(first, len(items)):
        start, grads, old = items[i]
        items[i] = (start, grads, factor if old is None else old * factor)
    return value


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
        self._plan, _ = _plan(ast, False, 0)

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
        z = _value(self._plan, cols, g)
        shape = self._shape(cols, g)
        if z.shape != shape:
            z = np.broadcast_to(z, shape).astype(np.complex128)
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
        items: list[_Item] = []
        z = _value_grad(self._plan, cols, g, items)
        shape = self._shape(cols, g)
        if z.shape != shape:
            z = np.broadcast_to(z, shape).astype(np.complex128)
        jac = np.empty((self.n_params, *shape), np.complex128)
        for start, grads, factor in items:
            for k, d in enumerate(grads, start):
                if factor is None:
                    jac[k] = d
                else:
                    np.multiply(factor, d, out=jac[k])
        jac_bfp = jac.transpose(1, 2, 0)
        if single and g.frequency.ndim == 1:
            return z[0], jac_bfp[0]
        return z, jac_bfp


@lru_cache(maxsize=256)
def compile_normalised(circuit: str) -> CompiledCircuit:
    """Compile a normalised circuit string (cached; use ``compile_circuit``)."""
    from eis_pipeline.circuits.grammar import parse_circuit

    return CompiledCircuit(parse_circuit(circuit))
