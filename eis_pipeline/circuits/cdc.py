"""Boukamp's Circuit Description Code (CDC), translated to the impedance.py AST.

CDC writes elements as single letters; juxtaposition inside a group is series or parallel
depending on the group:

- the top level is a series group;
- ``(...)`` opens a group of the *other* kind than the one it sits in: parallel inside a
  series group, series inside a parallel group (the alternating convention, so
  ``R(C(R(CW)))`` is the Randles circuit with a Warburg);
- ``[...]`` always opens a series group (Boukamp's original bracket convention, so
  ``R(C[R(CW)])`` means the same circuit).

Letters and the impedance.py element each becomes (same impedance shape; the parameters are
impedance.py's, e.g. CPE Q and n, not Boukamp's Y0):

    R -> R    C -> C    L -> L    Q -> CPE    W -> W (semi-infinite Warburg)
    O -> Ws   (finite-length diffusion, transmissive boundary: tanh)
    T -> Wo   (finite-space diffusion, reflective/blocking boundary: coth)
    G -> G    (Gerischer)

Numbering: each element kind is counted separately from 0, in order of appearance, so
``R(RQ)(RQ)Q`` becomes ``R0-p(R1,CPE0)-p(R2,CPE1)-CPE2``.

>>> from eis_pipeline.circuits.grammar import render
>>> render(parse_cdc("R(RQ)(RQ)Q"))
'R0-p(R1,CPE0)-p(R2,CPE1)-CPE2'
>>> render(parse_cdc("R(C(R(CW)))"))
'R0-p(C0,R1-p(C1,W0))'
"""

from __future__ import annotations

from eis_pipeline.circuits.grammar import Element, Node, Parallel, Series, parse_circuit, render
from eis_pipeline.exceptions import CircuitError

__all__ = ["CDC_ELEMENTS", "cdc_to_circuit", "circuit_to_cdc", "looks_like_cdc", "parse_cdc"]

#: CDC letter -> impedance.py element kind
CDC_ELEMENTS: dict[str, str] = {
    "R": "R", "C": "C", "L": "L", "Q": "CPE", "W": "W", "O": "Ws", "T": "Wo", "G": "G",
}

_CLOSE = {"(": ")", "[": "]"}


def looks_like_cdc(text: str) -> bool:
    """True for a string made only of CDC letters, brackets and spaces (no indices)."""
    stripped = text.replace(" ", "")
    return bool(stripped) and all(ch in CDC_ELEMENTS or ch in "()[]" for ch in stripped)


class _CdcParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.counts: dict[str, int] = {}

    def error(self, message: str, position: int) -> CircuitError:
        return CircuitError(message, self.text, position)

    def group(self, parallel: bool, opener: int, close: str) -> Node:
        items: list[Node] = []
        text = self.text
        while True:
            while self.i < len(text) and text[self.i].isspace():
                self.i += 1
            if self.i == len(text):
                if close:
                    raise self.error(f"unbalanced brackets: this {text[opener]!r} is never "
                                     "closed", opener)
                break
            ch = text[self.i]
            if ch == close:
                self.i += 1
                break
            if ch in _CLOSE:
                start = self.i
                self.i += 1
                inner_parallel = (not parallel) if ch == "(" else False
                items.append(self.group(inner_parallel, start, _CLOSE[ch]))
            elif ch in ")]":
                if close:
                    raise self.error(f"mismatched brackets: {text[opener]!r} at position "
                                     f"{opener} is closed by {ch!r}", self.i)
                raise self.error(f"unbalanced brackets: {ch!r} without a matching opener",
                                 self.i)
            elif ch in CDC_ELEMENTS:
                kind = CDC_ELEMENTS[ch]
                index = self.counts.get(kind, 0)
                self.counts[kind] = index + 1
                items.append(Element(kind, f"{kind}{index}", self.i))
                self.i += 1
            else:
                raise self.error(f"unknown CDC element {ch!r}; CDC letters are "
                                 f"{', '.join(CDC_ELEMENTS)} and brackets ( ) [ ]", self.i)
        if not items:
            raise self.error("empty group", opener)
        if len(items) == 1:
            return items[0]
        if parallel:
            return Parallel(tuple(items), opener)
        # A series group inside a series group is the same series: flatten it, since the
        # impedance.py notation has no grouping parentheses.
        flat: list[Node] = []
        for item in items:
            flat.extend(item.children if isinstance(item, Series) else (item,))
        return Series(tuple(flat), opener)


def parse_cdc(cdc: str) -> Node:
    """Parse a Boukamp CDC string into the same AST as :func:`~.grammar.parse_circuit`.

    Raises
    ------
    CircuitError
        With ``position`` at the offending character.
    """
    if not isinstance(cdc, str) or not cdc.strip():
        raise CircuitError("empty CDC string; expected e.g. 'R(RQ)(RQ)Q'", str(cdc), 0)
    return _CdcParser(cdc).group(parallel=False, opener=0, close="")


def cdc_to_circuit(cdc: str) -> str:
    """The impedance.py string of a CDC circuit.

    >>> cdc_to_circuit("R(RQ)Q")
    'R0-p(R1,CPE0)-CPE1'
    """
    return render(parse_cdc(cdc))


_LETTER_OF_KIND = {kind: letter for letter, kind in CDC_ELEMENTS.items()}


def _to_cdc(node: Node, inside_parallel: bool, circuit: str) -> str:
    if isinstance(node, Element):
        letter = _LETTER_OF_KIND.get(node.kind)
        if letter is None:
            raise CircuitError(f"element {node.name} ({node.kind}) has no CDC letter; CDC "
                               f"covers {', '.join(sorted(_LETTER_OF_KIND))}", circuit,
                               node.position if node.position >= 0 else None)
        return letter
    if isinstance(node, Series):
        body = "".join(_to_cdc(child, False, circuit) for child in node.children)
        return f"({body})" if inside_parallel else body
    body = "".join(_to_cdc(child, True, circuit) for child in node.children)
    # '(' inside a parallel group opens a series group: a parallel block directly inside a
    # parallel block needs that (one-item) series group around it.
    return f"(({body}))" if inside_parallel else f"({body})"


def circuit_to_cdc(circuit: str) -> str:
    """The Boukamp CDC string of an impedance.py circuit (alternating parentheses).

    Element names are dropped (CDC has none); the element order, hence the parameter order,
    is kept, so the same parameter vector gives the same impedance.

    Raises
    ------
    CircuitError
        For an element without a CDC letter (La, Gs, K, Zarc, TLMQ).

    Examples
    --------
    >>> circuit_to_cdc("R0-p(R1,CPE1)-p(R2,CPE2)-CPE3")
    'R(RQ)(RQ)Q'
    >>> circuit_to_cdc("R0-p(C1,R1-p(C2,W1))")
    'R(C(R(CW)))'
    """
    return _to_cdc(parse_circuit(circuit), False, circuit)
