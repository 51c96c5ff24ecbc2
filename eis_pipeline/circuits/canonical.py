"""One canonical spelling of a circuit, so that a fit cannot depend on names, order or notation.

Series and parallel connection are commutative, and element names carry no meaning, so
``p(R1,CPE1)-CPE2``, ``CPE9-p(CPE0,R0)`` and the CDC ``(RQ)Q`` are one circuit. The fitter
solves every spelling in one canonical form (same parameter order, same names, hence the
same floating-point operations in the same order) and maps the result back to the user's
names: equivalent spellings then give identical numbers, not merely close ones (issue 12).

The canonical form sorts the children of every series and parallel block by a structural
key, keeping the written order among blocks of the same structure (interchangeable arcs),
and renames the elements by position. The key puts a stray inductance first, then series
resistors, then blocks (arcs), other elements, and a capacitive electrode last, so every
preset is already canonical up to names (its parameter order does not change).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from eis_pipeline.circuits.elements import ELEMENTS
from eis_pipeline.circuits.grammar import Element, Node, Series, iter_elements, render

__all__ = ["CanonicalForm", "canonical_form"]

#: Sort rank of a term: inductors, resistors, blocks, other elements, capacitive elements.
_RANK = {"L": 0, "R": 1, "C": 4, "CPE": 4}
_BLOCK_RANK = 2
_OTHER_RANK = 3


@dataclass(frozen=True)
class CanonicalForm:
    """A circuit's canonical spelling and the map from the user's spelling to it.

    Attributes
    ----------
    circuit : str
        Canonical impedance.py string (elements named by kind and position).
    param_order : tuple of int
        Canonical parameter ``j`` is the user's parameter ``param_order[j]``.
    element_names : dict
        The user's element name -> its canonical name.
    """

    circuit: str
    param_order: tuple[int, ...]
    element_names: dict[str, str]

    @property
    def is_identity(self) -> bool:
        """True when the parameter order is the user's (only names may differ)."""
        return self.param_order == tuple(range(len(self.param_order)))


def _key(node: Node) -> tuple[int, str]:
    """(rank, structure) of an already sorted subtree."""
    if isinstance(node, Element):
        return _RANK.get(node.kind, _OTHER_RANK), node.kind
    inner = ",".join(_key(c)[1] for c in node.children)
    return _BLOCK_RANK, ("s(" if isinstance(node, Series) else "p(") + inner + ")"


def _sorted(node: Node) -> Node:
    """``node`` with the children of every block in canonical order (stable among equals)."""
    if isinstance(node, Element):
        return node
    children = sorted((_sorted(c) for c in node.children), key=_key)
    return type(node)(tuple(children), node.position)


def _renamed(node: Node, names: dict[str, str]) -> Node:
    if isinstance(node, Element):
        return Element(node.kind, names[node.name], node.position)
    return type(node)(tuple(_renamed(c, names) for c in node.children), node.position)


def _param_names(elements: list[Element]) -> list[str]:
    return [p for e in elements for p in ELEMENTS[e.kind].param_names(e.name)]


@lru_cache(maxsize=512)
def canonical_form(ast: Node) -> CanonicalForm:
    """The canonical spelling of the circuit ``ast`` and how its parameters map onto it.

    Examples
    --------
    >>> from eis_pipeline.circuits import parse_circuit
    >>> a = canonical_form(parse_circuit("CPE3-p(CPE2,R2)"))
    >>> a.circuit, a.param_order, a.element_names["R2"]
    ('p(R0,CPE1)-CPE2', (4, 2, 3, 0, 1), 'R0')
    >>> canonical_form(parse_circuit("p(R1,CPE1)-CPE2")).circuit == a.circuit
    True
    """
    ordered = _sorted(ast)
    elements = list(iter_elements(ordered))
    names = {e.name: f"{e.kind}{i}" for i, e in enumerate(elements)}
    user = _param_names(list(iter_elements(ast)))
    index = {p: i for i, p in enumerate(user)}
    order = tuple(index[p] for p in _param_names(elements))
    return CanonicalForm(render(_renamed(ordered, names)), order, names)
