"""Circuit strings in impedance.py notation: tokenizer, recursive-descent parser, AST.

Grammar (whitespace is ignored everywhere)::

    circuit  := series END
    series   := term ("-" term)*
    term     := parallel | element
    parallel := "p(" series ("," series)+ ")"
    element  := TYPE INDEX          TYPE = letters naming an element (R, CPE, Wo, ...)
                                    INDEX = one or more digits (R0, CPE12)

The parser builds a tiny AST of :class:`Element`, :class:`Series` and :class:`Parallel`
nodes; nothing is ever ``eval``-ed. Decisions where impedance.py is silent or fails:

- every element needs an index (``R`` alone is rejected: impedance.py would mis-split
  ``R-C`` into one element ``RC``);
- a parallel block needs at least two branches: ``p(R1)`` is rejected (impedance.py crashes
  on it) with a hint to write ``R1``;
- element names must be unique (they name the parameters);
- parentheses only ever follow ``p``: there is no bare grouping ``(R1-C1)``.

Every error is a :class:`~eis_pipeline.exceptions.CircuitError` whose ``position`` points at
the offending character of the string as given.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from eis_pipeline.circuits.elements import ELEMENTS
from eis_pipeline.exceptions import CircuitError

__all__ = [
    "Element",
    "Node",
    "Parallel",
    "Series",
    "iter_elements",
    "parse_circuit",
    "render",
]


@dataclass(frozen=True, slots=True)
class Element:
    """A circuit element, e.g. ``CPE1``: ``kind`` = ``"CPE"``, ``name`` = ``"CPE1"``."""

    kind: str
    name: str
    position: int = -1


@dataclass(frozen=True, slots=True)
class Series:
    """Elements or blocks in series: Z = Σ Z_i."""

    children: tuple[Node, ...]
    position: int = -1


@dataclass(frozen=True, slots=True)
class Parallel:
    """Elements or blocks in parallel: Z = 1 / Σ (1 / Z_i)."""

    children: tuple[Node, ...]
    position: int = -1


Node = Element | Series | Parallel


def render(node: Node) -> str:
    """The normalised impedance.py string of an AST (no whitespace).

    >>> render(parse_circuit(" R0 - p( R1 , CPE1 ) "))
    'R0-p(R1,CPE1)'
    """
    if isinstance(node, Element):
        return node.name
    if isinstance(node, Series):
        return "-".join(render(child) for child in node.children)
    return "p(" + ",".join(render(child) for child in node.children) + ")"


def iter_elements(node: Node) -> Iterator[Element]:
    """Elements in string order (left to right), which is impedance.py's parameter order."""
    if isinstance(node, Element):
        yield node
    else:
        for child in node.children:
            yield from iter_elements(child)


# ---------------------------------------------------------------------------- tokenizer

@dataclass(frozen=True, slots=True)
class _Token:
    kind: str       # "name", "p(", "-", ",", ")", "end"
    text: str
    position: int
    index: str = ""  # digits of an element name


def _tokenize(text: str, known: Callable[[str], bool]) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "-,)":
            tokens.append(_Token(ch, ch, i))
            i += 1
        elif ch == "(":
            raise CircuitError("'(' must follow 'p' (parallel block), as in p(R1,C1); "
                               "bare grouping parentheses are not part of the notation",
                               text, i)
        elif ch.isascii() and ch.isalpha():
            start = i
            while i < n and text[i].isascii() and text[i].isalpha():
                i += 1
            letters = text[start:i]
            j = i
            while j < n and text[j].isspace():
                j += 1
            if letters == "p" and j < n and text[j] == "(":
                tokens.append(_Token("p(", "p(", start))
                i = j + 1
                continue
            digits_start = i
            while i < n and text[i].isdigit():
                i += 1
            digits = text[digits_start:i]
            if not known(letters):
                raise CircuitError(_unknown_element_message(letters), text, start)
            if not digits:
                raise CircuitError(f"element {letters!r} needs an index, e.g. {letters}1",
                                   text, start)
            tokens.append(_Token("name", letters + digits, start, digits))
        else:
            raise CircuitError(f"unexpected character {ch!r}; a circuit uses element names, "
                               "'-' (series), 'p(' ',' ')' (parallel)", text, i)
    tokens.append(_Token("end", "", n))
    return tokens


def _unknown_element_message(letters: str) -> str:

    close = [k for k in ELEMENTS if k.lower() == letters.lower()]
    close = close or difflib.get_close_matches(letters, list(ELEMENTS), n=3, cutoff=0.4)
    hint = f"; did you mean {' or '.join(close)}?" if close else "."
    return (f"unknown element {letters!r}{hint} Known elements: {', '.join(ELEMENTS)} "
            "(run `eis-pipeline circuits`)")


# ---------------------------------------------------------------------------- parser

#: deepest nesting of p(...) blocks: far beyond any physical circuit, far below Python's
#: recursion limit (the parser and every walk over the tree recurse once per level)
MAX_DEPTH = 32


class _Parser:
    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.seen: dict[str, int] = {}

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def error(self, message: str, position: int) -> CircuitError:
        return CircuitError(message, self.text, position)

    def series(self) -> Node:
        start = self.tok.position
        terms = [self.term()]
        while self.tok.kind == "-":
            self.i += 1
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else Series(tuple(terms), start)

    def term(self) -> Node:
        tok = self.tok
        if tok.kind == "name":
            self.i += 1
            kind = tok.text[: len(tok.text) - len(tok.index)]
            if tok.text in self.seen:
                raise self.error(f"duplicate element name {tok.text!r} (first at position "
                                 f"{self.seen[tok.text]}); give each element its own index",
                                 tok.position)
            self.seen[tok.text] = tok.position
            return Element(kind, tok.text, tok.position)
        if tok.kind == "p(":
            return self.parallel()
        if tok.kind == "end":
            raise self.error("circuit ends where an element or p(...) was expected",
                             tok.position)
        raise self.error(f"expected an element or p(...), found {tok.text!r}", tok.position)

    def parallel(self) -> Node:
        open_tok = self.tok
        self.i += 1
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"p(...) blocks nested more than {MAX_DEPTH} deep; a circuit "
                             "this deep is not a model of a cell (check the string)",
                             open_tok.position)
        if self.tok.kind == ")":
            raise self.error("empty parallel block p(); put two or more branches inside, "
                             "e.g. p(R1,C1)", open_tok.position)
        branches = [self.series()]
        while self.tok.kind == ",":
            self.i += 1
            branches.append(self.series())
        if self.tok.kind != ")":
            if self.tok.kind == "end":
                raise self.error("unbalanced parentheses: this 'p(' is never closed",
                                 open_tok.position)
            raise self.error(f"expected ',' or ')' in parallel block, found {self.tok.text!r}",
                             self.tok.position)
        self.i += 1
        self.depth -= 1
        if len(branches) == 1:
            raise self.error(f"parallel block with a single branch; write "
                             f"{render(branches[0])} instead of p({render(branches[0])})",
                             open_tok.position)
        return Parallel(tuple(branches), open_tok.position)


def parse_circuit(circuit: str) -> Node:
    """Parse an impedance.py circuit string into an AST.

    Parameters
    ----------
    circuit
        E.g. ``"R0-p(R1,CPE1)-CPE2"``; whitespace is ignored.

    Returns
    -------
    Node
        :class:`Element`, :class:`Series` or :class:`Parallel`.

    Raises
    ------
    CircuitError
        With ``position`` at the offending character.

    Examples
    --------
    >>> parse_circuit("R0-p(R1,C1)")  # doctest: +NORMALIZE_WHITESPACE
    Series(children=(Element(kind='R', name='R0', position=0),
                     Parallel(children=(Element(kind='R', name='R1', position=5),
                                        Element(kind='C', name='C1', position=8)),
                              position=3)),
           position=0)
    """

    if not isinstance(circuit, str):
        raise CircuitError(f"a circuit must be a string, got {type(circuit).__name__}")
    if not circuit.strip():
        raise CircuitError("empty circuit; expected e.g. 'R0-p(R1,CPE1)'", circuit, 0)
    tokens = _tokenize(circuit, ELEMENTS.__contains__)
    parser = _Parser(circuit, tokens)
    node = parser.series()
    tok = parser.tok
    if tok.kind == ")":
        raise CircuitError("unbalanced parentheses: ')' without a matching 'p('", circuit,
                           tok.position)
    if tok.kind == ",":
        raise CircuitError("',' outside a parallel block; use '-' for series or wrap the "
                           "branches in p(...)", circuit, tok.position)
    if tok.kind != "end":
        raise CircuitError(f"unexpected {tok.text!r} after a complete circuit; join parts "
                           "with '-' (series)", circuit, tok.position)
    return node
