"""Per-fit invariants computed once per set of objects.

A :class:`~eis_pipeline.fitting.model.CircuitModel` fits spectrum after spectrum with the
same circuit, parameter space and roles; what follows from those alone (the canonical
spelling, the arc table, the swap plan) is computed on the first fit and looked up by the
objects' identities afterwards. The cache holds the objects, so their ids stay theirs.
:class:`Recent` keeps what follows from values instead (a frequency grid's bytes, a
parameter space's settings).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["Recent", "by_identity"]

T = TypeVar("T")

#: Entries kept; the oldest goes first. A process fits a handful of circuits at a time.
SIZE = 64

_CACHE: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = {}


def by_identity(tag: str, objects: tuple[Any, ...], make: Callable[[], T]) -> T:
    """``make()``, computed once per ``tag`` and identical ``objects`` (compared by ``is``)."""
    key = (tag, *map(id, objects))
    hit = _CACHE.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], objects, strict=True)):
        return hit[1]
    value = make()
    if len(_CACHE) >= SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (objects, value)
    return value


class Recent(Generic[T]):
    """The values of the last ``size`` keys (compared by value): ``get(key, make)`` is
    ``make()``, computed once per key while it is among them; the oldest goes first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: dict[Hashable, T] = {}

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        value = self._values.get(key)
        if value is None:
            value = make()
            if len(self._values) >= self._size:
                self._values.pop(next(iter(self._values)))
            self._values[key] = value
        return value
