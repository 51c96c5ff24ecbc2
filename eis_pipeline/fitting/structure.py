"""Roles of a circuit's elements read from its structure, whatever their names or order.

A preset declares its roles (docs/contracts.md); a circuit a user writes has none, so the same
circuit renamed (``p(R0,CPE0)-p(R1,CPE1)-CPE2``), reordered (``CPE3-p(R2,CPE2)-p(R1,CPE1)``)
or written in CDC (``(RQ)(RQ)Q``) would otherwise get generic starting values and could stop
at another optimum. :func:`structural_roles` analyses the top-level series of the circuit
tree instead:

- a parallel block of one resistor and one CPE (or capacitor) is an arc;
- a CPE or capacitor in series is the blocking electrode (PHYSICS.md section 1);
- an inductor in series is the stray inductance;
- a resistor in series is the high-frequency intercept (``series``).

Arcs are listed in circuit order; the first is given the role ``bulk`` and the second
``grain_boundary``. :func:`circuit_roles` reads them from the circuit's canonical spelling
(:mod:`eis_pipeline.circuits.canonical`), so every spelling gives the same element the same
role; after the fit interchangeable R‖CPE arcs are put in τ order (smaller τ first,
:func:`eis_pipeline.fitting.engine._arc_swap`). A circuit with one arc and a series
resistor is read as the high-frequency-intercept preset (the resistor is the bulk). Anything
else (three arcs, nested blocks, Warburg elements) is not given roles for it: those
parameters keep the generic, time-constant-varied starts.

The roles steer the starting points and the arc order, and when they name the arcs for
certain (:attr:`StructuralRoles.ordered`) the fits dataset records them, so the physics
stage reads a renamed preset exactly as the preset. Otherwise (arcs of different kinds,
R‖C arcs the fitter does not order) it records ``{}`` and the physics stage assigns the arcs
by capacitance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.circuits.canonical import canonical_form
from eis_pipeline.circuits.grammar import Element, Node, Parallel, Series
from eis_pipeline.circuits.roles import Roles

__all__ = ["SeriesTerms", "StructuralRoles", "circuit_roles", "rename_roles", "series_terms",
           "structural_roles"]


@dataclass(frozen=True)
class StructuralRoles:
    """Roles read from a circuit's tree, as a preset would declare them.

    ``ordered``: the bulk/grain-boundary labels are certain (one arc, or R‖CPE arcs, which
    the fitter puts in τ order), so they may be recorded for the physics stage.
    """

    roles: Roles
    bulk_from_intercept: bool
    ordered: bool = True


def rename_roles(roles: Mapping[str, Mapping[str, str]], names: Mapping[str, str]) -> Roles:
    """``roles`` with every element name replaced through ``names`` (others kept)."""
    return Roles({role: {k: names.get(v, v) for k, v in elements.items()}
                  for role, elements in roles.items()})


def circuit_roles(ast: Node) -> StructuralRoles | None:
    """:func:`structural_roles` of the circuit's canonical spelling, in ``ast``'s names.

    Two spellings of one circuit give corresponding elements the same roles (the arc that
    comes first in the canonical order is the bulk, whatever it is called).

    >>> from eis_pipeline.circuits import parse_circuit
    >>> dict(circuit_roles(parse_circuit("CPE7-p(C4,R4)-p(R2,CPE2)")).roles["bulk"])
    {'resistance': 'R4', 'capacitor': 'C4'}
    """
    form = canonical_form(ast)
    found = structural_roles(compile_circuit(form.circuit).ast)
    if found is None:
        return None
    back = {c: u for u, c in form.element_names.items()}
    return StructuralRoles(rename_roles(found.roles, back), found.bulk_from_intercept,
                           found.ordered)


def _arc(node: Parallel) -> dict[str, str] | None:
    """{"resistance": R, "cpe" or "capacitor": Q} of an R‖CPE or R‖C block, else None."""
    if len(node.children) != 2 or not all(isinstance(c, Element) for c in node.children):
        return None
    kinds = {c.kind: c.name for c in node.children if isinstance(c, Element)}
    if "R" in kinds and "CPE" in kinds:
        return {"resistance": kinds["R"], "cpe": kinds["CPE"]}
    if "R" in kinds and "C" in kinds:
        return {"resistance": kinds["R"], "capacitor": kinds["C"]}
    return None


def structural_roles(ast: Node) -> StructuralRoles | None:
    """Roles of a circuit built from series R, L, an electrode CPE/C and one or two arcs.

    None when the circuit has another shape (its starts stay generic).

    Examples
    --------
    >>> from eis_pipeline.circuits import parse_cdc, parse_circuit
    >>> dict(structural_roles(parse_circuit("CPE2-p(R0,CPE0)-p(CPE1,R1)")).roles["bulk"])
    {'resistance': 'R0', 'cpe': 'CPE0'}
    >>> s = structural_roles(parse_cdc("LR(RQ)Q"))
    >>> s.bulk_from_intercept, dict(s.roles["bulk"]), s.roles["grain_boundary"]["resistance"]
    (True, {'resistance': 'R0'}, 'R1')
    """
    terms = ast.children if isinstance(ast, Series) else (ast,)
    arcs: list[dict[str, str]] = []
    series_r: list[str] = []
    electrode: list[dict[str, str]] = []
    inductors: list[str] = []
    for t in terms:
        if isinstance(t, Parallel):
            arc = _arc(t)
            if arc is None:
                return None
            arcs.append(arc)
        elif isinstance(t, Element) and t.kind == "R":
            series_r.append(t.name)
        elif isinstance(t, Element) and t.kind == "L":
            inductors.append(t.name)
        elif isinstance(t, Element) and t.kind == "CPE":
            electrode.append({"cpe": t.name})
        elif isinstance(t, Element) and t.kind == "C":
            electrode.append({"capacitor": t.name})
        else:
            return None
    if len(series_r) > 1 or len(inductors) > 1 or len(electrode) > 1 or not 1 <= len(arcs) <= 2:
        return None
    roles: dict[str, dict[str, str]] = {}
    intercept = bool(series_r) and len(arcs) == 1
    if intercept:
        roles["bulk"] = {"resistance": series_r[0]}
        roles["grain_boundary"] = arcs[0]
    else:
        roles["bulk"] = arcs[0]
        if len(arcs) == 2:
            roles["grain_boundary"] = arcs[1]
        if series_r:
            roles["series"] = {"resistance": series_r[0]}
    if electrode:
        roles["electrode"] = electrode[0]
    if inductors:
        roles["inductance"] = {"inductor": inductors[0]}
    ordered = len(arcs) == 1 or all("cpe" in a for a in arcs)
    return StructuralRoles(Roles(roles), intercept, ordered)


@dataclass(frozen=True)
class SeriesTerms:
    """The top-level series terms of a circuit of arcs (for :func:`~eis_pipeline.fitting.
    initial.grid_start`): each arc as (resistor, capacitive element, its kind "CPE"/"C");
    diffusion elements with a time constant (finite Warburgs Wo/Ws, TLMQ, Gerischer G) as
    (name, kind); semi-infinite Warburgs W by name."""

    arcs: tuple[tuple[str, str, str], ...]
    resistors: tuple[str, ...]
    inductors: tuple[str, ...]
    electrodes: tuple[tuple[str, str], ...]   # (name, "CPE" or "C")
    diffusion: tuple[tuple[str, str], ...] = ()
    warburgs: tuple[str, ...] = ()


#: Series elements placed on the τ grid like an arc: Z = amplitude × a function of jωτ.
DIFFUSION_KINDS = frozenset({"Wo", "Ws", "TLMQ", "G"})


def series_terms(ast: Node) -> SeriesTerms | None:
    """The series terms of a circuit made only of R, L, CPE/C, W, Wo, Ws, TLMQ and G in
    series and R‖CPE / R‖C arcs (any number, any order, any names); None for any other
    shape or without an arc or diffusion element.

    >>> from eis_pipeline.circuits import parse_circuit
    >>> series_terms(parse_circuit("CPE9-p(C2,R2)-R5-p(R1,CPE1)")).arcs
    (('R2', 'C2', 'C'), ('R1', 'CPE1', 'CPE'))
    >>> series_terms(parse_circuit("R0-p(R1,CPE1)-Wo2")).diffusion
    (('Wo2', 'Wo'),)
    """
    terms = ast.children if isinstance(ast, Series) else (ast,)
    arcs: list[tuple[str, str, str]] = []
    resistors: list[str] = []
    inductors: list[str] = []
    electrodes: list[tuple[str, str]] = []
    diffusion: list[tuple[str, str]] = []
    warburgs: list[str] = []
    for t in terms:
        if isinstance(t, Parallel):
            arc = _arc(t)
            if arc is None:
                return None
            cap = arc.get("cpe") or arc["capacitor"]
            arcs.append((arc["resistance"], cap, "CPE" if "cpe" in arc else "C"))
        elif isinstance(t, Element) and t.kind == "R":
            resistors.append(t.name)
        elif isinstance(t, Element) and t.kind == "L":
            inductors.append(t.name)
        elif isinstance(t, Element) and t.kind in ("CPE", "C"):
            electrodes.append((t.name, t.kind))
        elif isinstance(t, Element) and t.kind in DIFFUSION_KINDS:
            diffusion.append((t.name, t.kind))
        elif isinstance(t, Element) and t.kind == "W":
            warburgs.append(t.name)
        else:
            return None
    if not arcs and not diffusion:
        return None
    return SeriesTerms(tuple(arcs), tuple(resistors), tuple(inductors), tuple(electrodes),
                       tuple(diffusion), tuple(warburgs))
