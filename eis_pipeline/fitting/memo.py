"""Per-fit invariants computed once per set of objects.

A :class:`~eis_pipeline.fitting.model.CircuitModel` fits spectrum after spectrum with the
same circuit, parameter space and roles; what follows from those alone (the canonical
spelling, the arc table, the swap plan) is computed on the first fit and looked up by the
objects' identities afterwards. The cache holds the objects, so their ids stay theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["by_identity"]

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
