"""Which element of a circuit plays which physical part: the :class:`Roles` value object.

A preset declares its roles (``bulk-gb-electrode``: bulk = R1 and CPE1, grain boundary = R2 and
CPE2, electrode = CPE3); a custom circuit gets them from its structure
(:func:`eis_pipeline.fitting.structure.structural_roles`). Stages pass :class:`Roles` objects;
JSON text exists only where a dataset attribute or the results file needs a string
(``fits.attrs["roles"]``, docs/contracts.md), written by :meth:`Roles.to_json` and read back by
:meth:`Roles.from_json` or :meth:`Roles.of`, the one decoder.

>>> roles = Roles({"bulk": {"resistance": "R1", "cpe": "CPE1"}, "electrode": {"cpe": "CPE3"}})
>>> roles.element("bulk", "resistance"), roles.element("grain_boundary", "resistance")
('R1', None)
>>> Roles.from_json(roles.to_json()) == roles
True
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from eis_pipeline.exceptions import CircuitError

__all__ = ["ELEMENT_KINDS", "ROLE_NAMES", "Roles"]

#: The physical parts an element can play. ``series`` is a resistance in series with the bulk
#: one (e.g. leads) that a custom circuit may carry.
ROLE_NAMES = ("bulk", "grain_boundary", "electrode", "inductance", "series")
#: The element kinds inside a role.
ELEMENT_KINDS = ("resistance", "cpe", "capacitor", "inductor")

_EXAMPLE = '{"bulk": {"resistance": "R1", "cpe": "CPE1"}}'


class Roles(Mapping[str, Mapping[str, str]]):
    """role -> {element kind -> element name}, immutable and validated.

    Behaves as a read-only mapping (``roles["bulk"]["resistance"]``, ``roles.get(...)``,
    equality with plain dicts), so it reads like the JSON it is stored as. An empty ``Roles()``
    means "not known" (a circuit of a shape the structure analysis does not read).

    Raises
    ------
    CircuitError
        For an unknown role or element kind, or a non-string element name.
    """

    __slots__ = ("_table",)

    def __init__(self, table: Mapping[str, Mapping[str, str]] | None = None) -> None:
        checked: dict[str, Mapping[str, str]] = {}
        for role, elements in (table or {}).items():
            if role not in ROLE_NAMES or not isinstance(elements, Mapping):
                raise CircuitError(f"roles: unknown role {role!r} or malformed entry; expected "
                                   f"roles {ROLE_NAMES} mapping element kind -> element name, "
                                   f"e.g. {_EXAMPLE}")
            for kind, name in elements.items():
                if kind not in ELEMENT_KINDS or not isinstance(name, str):
                    raise CircuitError(f"roles: {role} has {kind!r}: {name!r}; expected an "
                                       f"element kind of {ELEMENT_KINDS} naming an element")
            checked[str(role)] = MappingProxyType(dict(elements))
        self._table: Mapping[str, Mapping[str, str]] = MappingProxyType(checked)

    def __getitem__(self, role: str) -> Mapping[str, str]:
        return self._table[role]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"Roles({self.to_dict()!r})"

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __reduce__(self) -> tuple[Any, tuple[dict[str, dict[str, str]]]]:
        return Roles, (self.to_dict(),)   # MappingProxyType does not pickle (dask, processes)

    def element(self, role: str, kind: str) -> str | None:
        """The name of the ``kind`` element playing ``role``, or None."""
        return self._table.get(role, {}).get(kind)

    def to_dict(self) -> dict[str, dict[str, str]]:
        """Plain nested dicts (for JSON or printing)."""
        return {role: dict(elements) for role, elements in self._table.items()}

    def to_json(self) -> str:
        """The attribute text: JSON with sorted keys (the same text for equal roles)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Roles:
        """Read :meth:`to_json` text; empty text or ``"{}"`` is ``Roles()`` (not known).

        Raises
        ------
        CircuitError
            When the text is not a JSON object of roles.
        """
        if not text:
            return cls()
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CircuitError(f"roles attribute is not valid JSON ({exc}); expected e.g. "
                               f"{_EXAMPLE}") from exc
        if not isinstance(raw, dict):
            raise CircuitError(f"roles attribute must be a JSON object, got {text!r}; expected "
                               f"e.g. {_EXAMPLE}")
        return cls(raw)

    @classmethod
    def of(cls, fits: Any, row: int | None = None) -> Roles:
        """The roles of a fits dataset (docs/contracts.md), or of its spectrum ``row``.

        A dataset whose circuit was chosen per spectrum (``circuit = "auto"``) has no roles of
        its own: ``row`` picks that spectrum's preset from the ``presets`` attribute.
        """
        attrs = fits.attrs
        if row is not None and "preset" in getattr(fits, "variables", {}) and "presets" in attrs:
            presets = json.loads(str(attrs["presets"]))
            chosen = presets.get(str(fits["preset"].values[row]), {})
            return cls.from_json(chosen.get("roles"))
        return cls.from_json(str(attrs.get("roles", "") or ""))
