"""A circuit compiled once: parameter metadata and an evaluator of Z and dZ/dp over batches.

The evaluator is generated for the circuit's structure by :mod:`eis_pipeline.circuits.codegen`.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from eis_pipeline import _jit
from eis_pipeline.circuits.cdc import looks_like_cdc, parse_cdc
from eis_pipeline.circuits.codegen import evaluator, structure
from eis_pipeline.circuits.elements import ELEMENTS, ParamKind
from eis_pipeline.circuits.grammar import Node, iter_elements, parse_circuit, render
from eis_pipeline.circuits.grid import FrequencyGrid
from eis_pipeline.circuits.presets import PRESETS, Preset
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
    A :class:`~eis_pipeline.circuits.grid.FrequencyGrid` may be passed instead of a frequency
    array: it is validated once.

    Examples
    --------
    >>>     >>> c = compile_circuit("R0-p(R1,C1)")
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
        #: The circuit with names reduced to element kinds (``p(R,CPE)-CPE``): circuits of
        #: one structure share one generated evaluator.
        self.structure = structure(ast)
        self._kernels: ModuleType | None = None
        self._batch_loops: tuple[ModuleType, Any] | None = None

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def __repr__(self) -> str:
        return f"CompiledCircuit({self.circuit!r})"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # Pickles (e.g. to dask workers) as the string and recompiles through the cache.

        return compile_circuit, (self.circuit,)

    # ----------------------------------------------------------------------- evaluation

    @property
    def kernels(self) -> ModuleType:
        """The generated evaluator module of this circuit's structure
        (:mod:`~eis_pipeline.circuits.codegen`), compiled on first use and cached on disk."""
        module = self._kernels
        if module is None:
            module = self._kernels = evaluator(self.ast)
        return module

    def _loops(self) -> tuple[ModuleType, Any]:
        """The batch loops and the evaluator to pass them (compiled, or both pure)."""
        loops = self._batch_loops
        if loops is None:
            evaluate = self.kernels.evaluate
            if _jit.AVAILABLE:
                loops = (_jit.twin("eis_pipeline.circuits.batch_kernels"),
                         _jit.FirstClass(evaluate))
            else:
                loops = (_jit.pure("eis_pipeline.circuits.batch_kernels"), evaluate)
            self._batch_loops = loops
        return loops

    def _batch(self, params: Any, frequency: Any) -> tuple[Array, Array, Array, bool]:
        """Parameter rows (B, P), ω table (G, F), each row's grid, and whether the caller
        gave one parameter vector on one grid."""
        p = np.asarray(params, dtype=np.float64)
        if p.ndim not in (1, 2) or p.shape[-1] != self.n_params:
            raise CircuitError(
                f"parameters have shape {p.shape}; circuit {self.circuit} needs "
                f"{self.n_params} values per spectrum, shape ({self.n_params},) or "
                f"(B, {self.n_params}), in the order {', '.join(self.param_names)}")
        omega = FrequencyGrid.of(frequency).omega
        single = p.ndim == 1 and omega.ndim == 1
        p = np.ascontiguousarray(p.reshape(-1, self.n_params))
        if omega.ndim == 1:
            return p, omega[None, :], np.zeros(p.shape[0], dtype=np.intp), single
        b = omega.shape[0]
        if p.shape[0] not in (1, b):
            raise CircuitError(f"{p.shape[0]} parameter vectors but {b} frequency rows")
        if p.shape[0] == 1:
            p = np.repeat(p, b, axis=0)
        return p, np.ascontiguousarray(omega), np.arange(b, dtype=np.intp), single

    def impedance(self, params: Any, frequency: Any) -> Array:
        """Complex impedance in ohm.

        Parameters
        ----------
        params
            Natural parameter values, shape ``(P,)`` or ``(B, P)``, in :attr:`param_names`
            order.
        frequency
            Hz, shape ``(F,)`` or ``(B, F)``, or a
            :class:`~eis_pipeline.circuits.grid.FrequencyGrid`.

        Returns
        -------
        ndarray of complex
            ``(F,)`` for a single parameter vector on a 1-D grid, else ``(B, F)``.
        """
        p, omega, grid_of, single = self._batch(params, frequency)
        z = np.empty((p.shape[0], omega.shape[1]), np.complex128)
        with np.errstate(all="ignore"):
            loops, evaluate = self._loops()
            loops.impedance_rows(evaluate, p, omega, grid_of, z)
        return z[0] if single else z

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
            ∂Z/∂p_k in ohm per unit of p_k.
        """
        p, omega, grid_of, single = self._batch(params, frequency)
        b, f = p.shape[0], omega.shape[1]
        z = np.empty((b, f), np.complex128)
        jac = np.empty((b, f, self.n_params), np.complex128)
        with np.errstate(all="ignore"):
            loops, evaluate = self._loops()
            loops.evaluate_rows(evaluate, p, omega, grid_of, z, jac)
        if single:
            return z[0], jac[0]
        return z, jac


@lru_cache(maxsize=256)
def compile_normalised(circuit: str) -> CompiledCircuit:
    """Compile a normalised circuit string (cached; use ``compile_circuit``)."""

    return CompiledCircuit(parse_circuit(circuit))


def compile_circuit(circuit: str | Preset | CompiledCircuit) -> CompiledCircuit:
    """Compile a circuit into a fast evaluator of Z and its Jacobian (cached).

    Parameters
    ----------
    circuit
        An impedance.py string (``"R0-p(R1,CPE1)-CPE2"``), a preset name
        (``"bulk-gb-electrode"``), a Boukamp CDC string without indices (``"R(RQ)Q"``, see
        :mod:`eis_pipeline.circuits.cdc`), a :class:`Preset` or an already compiled circuit.

    Returns
    -------
    CompiledCircuit
        The same object for every spelling of the same normalised circuit.

    Raises
    ------
    CircuitError
        When the string is not a valid circuit; ``position`` points at the character.
    """
    if isinstance(circuit, CompiledCircuit):
        return circuit
    if isinstance(circuit, Preset):
        circuit = circuit.circuit
    if not isinstance(circuit, str):
        raise CircuitError(f"a circuit must be a string, a Preset or a CompiledCircuit, "
                           f"got {type(circuit).__name__}")
    return compile_normalised(_normalised_text(circuit))


@lru_cache(maxsize=512)
def _normalised_text(text: str) -> str:
    # the string, not the compiled object: a second cache of objects kept one that the
    # first had evicted, and two spellings then gave two objects (the same normalised
    # circuit compiled twice once more than 256 circuits had been compiled)
    return normalise_circuit(text)


def normalise_circuit(circuit: str) -> str:
    """The normalised impedance.py string of a circuit string, preset name or CDC string.

    >>> normalise_circuit(" R0 - p(R1, C1) ")
    'R0-p(R1,C1)'
    >>> normalise_circuit("single-arc-electrode")
    'p(R1,CPE1)-CPE2'
    """
    if circuit in PRESETS:
        return PRESETS[circuit].circuit
    if re.fullmatch(r"[a-z]+(?:-[a-z]+)+", circuit.strip()):
        # Lower-case words joined by hyphens: a preset name, mistyped.
        close = difflib.get_close_matches(circuit.strip(), list(PRESETS), n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise CircuitError(f"unknown preset {circuit.strip()!r}; {hint}presets: "
                           f"{', '.join(PRESETS)} (run `eis-pipeline circuits`)")
    if looks_like_cdc(circuit):
        return render(parse_cdc(circuit))
    return render(parse_circuit(circuit))
