"""Which arc is bulk, which is grain boundary, which is the electrode.

Presets declare their roles (``fits.attrs["roles"]``, read by
:meth:`eis_pipeline.circuits.roles.Roles.of`; docs/contracts.md); those are kept as
declared and only *checked* against the capacitance table. For a custom circuit (roles ``"{}"``)
the arcs are assigned from their geometry-normalised (specific) capacitance ``C·L/A`` against the
Irvine–Sinclair–West table and the implied bulk permittivity (PHYSICS.md section 4), per
spectrum, because a symmetric circuit such as ``p(R1,CPE1)-p(R2,CPE2)`` may come back from the
fitter with its arcs numbered either way. Doubtful assignments are flagged, never silent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.circuits.grammar import (
    Element,
    Node,
    Parallel,
    Series,
    iter_elements,
    parse_circuit,
    render,
)
from eis_pipeline.conventions import VACUUM_PERMITTIVITY_F_PER_CM

__all__ = [
    "BULK_GB_EDGE_F_PER_CM",
    "BULK_PERMITTIVITY_RANGE",
    "EPSILON_0_F_PER_CM",
    "GB_ELECTRODE_EDGE_F_PER_CM",
    "Arc",
    "CircuitLayout",
    "RoleAssignment",
    "append_flag",
    "assign_roles_by_capacitance",
    "check_declared_roles",
    "parse_layout",
]

#: Vacuum permittivity ε₀ in F/cm (PHYSICS.md section 4), the project-wide constant.
EPSILON_0_F_PER_CM = VACUUM_PERMITTIVITY_F_PER_CM
#: Typical relative permittivity of a bulk ionic conductor (section 4).
BULK_PERMITTIVITY_RANGE = (5.0, 100.0)
#: Specific capacitance (F/cm) separating bulk (~1e-12) from grain boundary (1e-11 – 1e-8),
#: and grain boundary / surface layer (up to 1e-7) from the electrode (1e-7 – 1e-5); section 4.
BULK_GB_EDGE_F_PER_CM = 1e-11
GB_ELECTRODE_EDGE_F_PER_CM = 1e-7
#: Grain-boundary band proper; 1e-8 – 1e-7 is surface-layer territory (section 4).
GB_BAND_F_PER_CM = (1e-11, 1e-8)
#: Below this a "electrode" capacitance is implausible even for a rough blocking contact.
ELECTRODE_MIN_F_PER_CM = 1e-8
#: Within this factor of a band edge the table cannot decide: flag as ambiguous.
EDGE_FACTOR = 2.0
#: Two arcs whose capacitances differ by less than this factor cannot be told apart.
SEPARATION_FACTOR = 3.0

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Arc:
    """A resistance in parallel with one capacitive element (``cpe`` or ``capacitor``)."""

    resistance: str
    capacitive: str
    kind: str  # "cpe" | "capacitor"


@dataclass(frozen=True)
class CircuitLayout:
    """The parts of a circuit the physics needs, read from its impedance.py string."""

    circuit: str
    arcs: tuple[Arc, ...] = ()
    series_resistances: tuple[str, ...] = ()
    series_capacitive: tuple[tuple[str, str], ...] = ()  # (element, kind)
    resistances: tuple[str, ...] = field(default=())  # every R element anywhere

    def find_arc(self, element: str) -> int:
        """Index of the arc containing ``element`` (resistance or capacitive), else -1."""
        for i, arc in enumerate(self.arcs):
            if element in (arc.resistance, arc.capacitive):
                return i
        return -1


_KINDS = {"R": "resistance", "CPE": "cpe", "C": "capacitor", "L": "inductor"}


def _kind(element: Element) -> str:
    return _KINDS.get(element.kind, "other")


def parse_layout(circuit: str) -> CircuitLayout:
    """Read arcs and series elements from an impedance.py circuit string.

    The string is parsed by :func:`eis_pipeline.circuits.grammar.parse_circuit` (the one
    grammar of the project); this walks its AST for what the physics needs: ``p(R,CPE)`` /
    ``p(R,C)`` arcs (exactly two branches, both single elements), resistances and CPEs/Cs in
    series at the top level, and every resistance anywhere (the sample resistance seen by a
    series electrode CPE, PHYSICS.md section 3).

    Raises
    ------
    CircuitError
        When the string is not a valid circuit (``position`` points at the character).

    Examples
    --------
    >>> lay = parse_layout("R0-p(R1,CPE1)-p(R2,C2)-CPE3")
    >>> [(a.resistance, a.capacitive, a.kind) for a in lay.arcs]
    [('R1', 'CPE1', 'cpe'), ('R2', 'C2', 'capacitor')]
    >>> lay.series_resistances, lay.series_capacitive
    (('R0',), (('CPE3', 'cpe'),))
    """
    tree = parse_circuit(circuit)
    top = tree.children if isinstance(tree, Series) else (tree,)
    arcs: list[Arc] = []
    for node in _walk(tree):
        if isinstance(node, Parallel) and len(node.children) == 2 and all(
                isinstance(c, Element) for c in node.children):
            kinds = {_kind(c): c.name for c in node.children if isinstance(c, Element)}
            capacitive = next((k for k in ("cpe", "capacitor") if k in kinds), "")
            if "resistance" in kinds and capacitive:
                arcs.append(Arc(kinds["resistance"], kinds[capacitive], capacitive))
    top_elements = [n for n in top if isinstance(n, Element)]
    return CircuitLayout(
        render(tree),
        tuple(arcs),
        tuple(e.name for e in top_elements if _kind(e) == "resistance"),
        tuple((e.name, _kind(e)) for e in top_elements if _kind(e) in ("cpe", "capacitor")),
        tuple(e.name for e in iter_elements(tree) if _kind(e) == "resistance"),
    )


def _walk(node: Node) -> Iterator[Node]:
    """Every node of the AST, depth first, in string order."""
    yield node
    if not isinstance(node, Element):
        for child in node.children:
            yield from _walk(child)


@dataclass
class RoleAssignment:
    """Per-spectrum arc indices (into ``CircuitLayout.arcs``, -1 = none) and the evidence."""

    bulk: IntArray
    grain_boundary: IntArray
    electrode_arc: IntArray
    flags: NDArray[np.str_]
    ambiguous: NDArray[np.bool_]


def append_flag(flags: NDArray[np.str_], where: NDArray[np.bool_],
                message: str) -> NDArray[np.str_]:
    """Append ``message`` ("; "-separated) to ``flags`` where ``where`` holds (vectorised)."""
    sep = np.where(np.char.str_len(flags) > 0, "; ", "")
    added = np.char.add(np.char.add(flags, sep), message)
    return np.where(where, added, flags)


def _take(values: FloatArray, index: IntArray) -> FloatArray:
    """``values[s, index[s]]`` with NaN where ``index`` is -1."""
    safe = np.clip(index, 0, None)[:, None]
    picked = np.take_along_axis(values, safe, axis=1)[:, 0] if values.shape[1] else \
        np.full(index.shape, np.nan)
    return np.where(index >= 0, picked, np.nan)


def assign_roles_by_capacitance(specific_capacitance: FloatArray, *,
                                has_series_electrode: bool) -> RoleAssignment:
    """Assign bulk / grain boundary / electrode arcs from specific capacitances (F/cm).

    Rules (PHYSICS.md section 4), applied to each spectrum independently:

    - bulk: the arc with the smallest specific capacitance, if it lies below
      :data:`BULK_GB_EDGE_F_PER_CM` (≈ ε_r 113); otherwise no bulk arc (it may lie above the
      measured range: an intercept preset is then the right model), flagged;
    - grain boundary: the smallest remaining arc below :data:`GB_ELECTRODE_EDGE_F_PER_CM`;
    - electrode: a series CPE/C when the circuit has one, else the largest remaining arc at or
      above :data:`GB_ELECTRODE_EDGE_F_PER_CM`.

    Flags (and ``ambiguous``): a capacitance within a factor :data:`EDGE_FACTOR` of a band edge,
    two arcs within :data:`SEPARATION_FACTOR` of each other, two bulk-like arcs, a bulk
    permittivity outside :data:`BULK_PERMITTIVITY_RANGE`, unassigned arcs; a grain-boundary
    capacitance in the surface-layer band (1e-8–1e-7 F/cm) is flagged without being ambiguous.

    Parameters
    ----------
    specific_capacitance : ndarray, shape (S, K)
        ``C_eff · L / A`` of each of the K arcs, NaN for a failed fit.
    has_series_electrode : bool
        The circuit has a series CPE/C (the blocking-electrode spike).
    """
    c = np.asarray(specific_capacitance, dtype=np.float64)
    n_spec, n_arcs = c.shape
    flags = np.full(n_spec, "", dtype=object).astype(np.str_)
    ambiguous = np.zeros(n_spec, dtype=bool)
    none = np.full(n_spec, -1, dtype=np.int64)
    if n_arcs == 0:
        return RoleAssignment(none, none.copy(), none.copy(), flags, ambiguous)

    valid = np.isfinite(c) & (c > 0)
    ranked = np.where(valid, c, np.inf)
    order = np.argsort(ranked, axis=1)  # smallest capacitance first, invalid last
    rows = np.arange(n_spec)
    smallest = order[:, 0]
    c_small = ranked[rows, smallest]

    bulk = np.where(c_small < BULK_GB_EDGE_F_PER_CM, smallest, -1).astype(np.int64)
    any_valid = valid.any(axis=1)
    flags = append_flag(flags, any_valid & (bulk < 0),
                    "no arc with bulk-like capacitance (bulk may lie above the measured range)")

    # Grain boundary: smallest arc that is not bulk and below the electrode edge.
    taken = np.zeros_like(valid)
    taken[rows[bulk >= 0], bulk[bulk >= 0]] = True
    gb_ranked = np.where(~taken & (ranked < GB_ELECTRODE_EDGE_F_PER_CM), ranked, np.inf)
    gb_idx = np.argmin(gb_ranked, axis=1)
    gb = np.where(np.isfinite(gb_ranked[rows, gb_idx]), gb_idx, -1).astype(np.int64)
    taken[rows[gb >= 0], gb[gb >= 0]] = True
    c_gb = _take(c, gb)
    two_bulk = (gb >= 0) & (c_gb < BULK_GB_EDGE_F_PER_CM)
    flags = append_flag(flags, two_bulk, "two bulk-like arcs: the larger-capacitance one was taken "
                    "as grain boundary (could be a second phase)")
    ambiguous |= two_bulk

    if has_series_electrode:
        electrode = none.copy()
    else:
        el_ranked = np.where(~taken & valid & (c >= GB_ELECTRODE_EDGE_F_PER_CM), c, -np.inf)
        el_idx = np.argmax(el_ranked, axis=1)
        electrode = np.where(np.isfinite(el_ranked[rows, el_idx]), el_idx, -1).astype(np.int64)
        taken[rows[electrode >= 0], electrode[electrode >= 0]] = True

    leftover = np.asarray((valid & ~taken).any(axis=1))
    flags = append_flag(flags, leftover, "unassigned arc(s): surface layer or second phase?")

    with np.errstate(invalid="ignore"):
        layer = (gb >= 0) & (c_gb > GB_BAND_F_PER_CM[1])
    flags = append_flag(flags, layer, "grain-boundary capacitance is surface-layer-like "
                        "(1e-8–1e-7 F/cm)")

    c_bulk = _take(c, bulk)
    eps = c_bulk / EPSILON_0_F_PER_CM
    lo, hi = BULK_PERMITTIVITY_RANGE
    odd_eps = (bulk >= 0) & ((eps < lo) | (eps > hi))
    flags = append_flag(flags, odd_eps, f"bulk permittivity outside the typical {lo:g}–{hi:g}")

    def near(value: FloatArray, edge: float) -> NDArray[np.bool_]:
        with np.errstate(invalid="ignore"):
            return np.abs(np.log(value / edge)) < np.log(EDGE_FACTOR)

    edge_bulk = (bulk >= 0) & near(c_bulk, BULK_GB_EDGE_F_PER_CM)
    edge_gb = (gb >= 0) & (near(c_gb, BULK_GB_EDGE_F_PER_CM) |
                           near(c_gb, GB_ELECTRODE_EDGE_F_PER_CM))
    edge = edge_bulk | edge_gb
    flags = append_flag(flags, edge, "a capacitance lies at a band edge of the table")
    with np.errstate(invalid="ignore"):
        close = (bulk >= 0) & (gb >= 0) & (c_gb / c_bulk < SEPARATION_FACTOR)
    flags = append_flag(flags, close, "bulk and grain-boundary capacitances less than "
                    f"{SEPARATION_FACTOR:g}x apart")
    ambiguous |= edge | close | odd_eps
    flags = append_flag(flags, ambiguous, "AMBIGUOUS role assignment")
    return RoleAssignment(bulk, gb, electrode, flags, ambiguous)


def check_declared_roles(specific_capacitance: dict[str, FloatArray],
                         n_spectra: int) -> tuple[NDArray[np.str_], NDArray[np.bool_]]:
    """Flag (never change) declared roles whose capacitance contradicts the table.

    Parameters
    ----------
    specific_capacitance : dict
        Role -> specific capacitance ``C·L/A`` (F/cm) per spectrum; missing roles are absent.
    n_spectra : int

    Returns
    -------
    flags : ndarray of str, shape (S,)
    implausible : ndarray of bool, shape (S,)
    """
    flags = np.full(n_spectra, "", dtype=np.str_)
    bad = np.zeros(n_spectra, dtype=bool)
    lo, hi = BULK_PERMITTIVITY_RANGE
    with np.errstate(invalid="ignore"):
        if "bulk" in specific_capacitance:
            eps = specific_capacitance["bulk"] / EPSILON_0_F_PER_CM
            odd = (eps < lo) | (eps > hi)
            flags = append_flag(flags, odd,
                                f"declared bulk arc has permittivity outside {lo:g}–{hi:g}")
            bad |= odd
        if "grain_boundary" in specific_capacitance:
            c = specific_capacitance["grain_boundary"]
            odd = c < GB_BAND_F_PER_CM[0]
            flags = append_flag(flags, odd,
                                "declared grain-boundary arc has a bulk-like capacitance")
            bad |= odd
            layer = c > GB_BAND_F_PER_CM[1]
            flags = append_flag(flags, layer & (c < GB_ELECTRODE_EDGE_F_PER_CM),
                            "declared grain-boundary capacitance is surface-layer-like (1e-8–1e-7)")
            odd = c >= GB_ELECTRODE_EDGE_F_PER_CM
            flags = append_flag(flags, odd, "declared grain-boundary arc has an electrode-like "
                            "capacitance")
            bad |= odd
        if "electrode" in specific_capacitance:
            odd = specific_capacitance["electrode"] < ELECTRODE_MIN_F_PER_CM
            flags = append_flag(flags, odd, "declared electrode capacitance is too small for an "
                            "electrode interface")
            bad |= odd
    flags = append_flag(flags, bad, "IMPLAUSIBLE declared roles (kept as declared)")
    return flags, bad
