"""Whether two results files hold the same values: every dataset and attribute, exactly.

For speed work: run a campaign with the code before and after a change and compare,

    python scripts/same_results.py before.h5 after.h5 --path /old/checkout=/new/checkout

Floats compare bit for bit with NaN equal to NaN. Left out: the run's own stamps
(``created``, ``history``, ``eis_pipeline_version``, the ``config`` JSON) and HDF5's
dimension-scale references (``DIMENSION_LIST``, ``REFERENCE_LIST``: file addresses). ``--path
OLD=NEW`` reads OLD as NEW in text values (the ``source`` paths of two checkouts). Prints each
difference; exit status 1 when there is one.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import h5py
import numpy as np

IGNORED_ATTRS = frozenset({"created", "history", "eis_pipeline_version", "config",
                           "DIMENSION_LIST", "REFERENCE_LIST"})


def _normalised(value: Any, paths: list[tuple[str, str]]) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "SOU" or not array.size:
        return array

    def text(item: Any) -> str:
        out = item.decode() if isinstance(item, bytes) else str(item)
        for old, new in paths:
            out = out.replace(old, new)
        return out

    return np.vectorize(text, otypes=[object])(array)


def same(x: Any, y: Any, paths: list[tuple[str, str]]) -> bool:
    a, b = _normalised(x, paths), _normalised(y, paths)
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))
    return a.shape == b.shape and bool(np.array_equal(a, b))


def differences(first: str, second: str, paths: list[tuple[str, str]]) -> list[str]:
    """One line per difference between the files ``first`` and ``second``."""
    found: list[str] = []
    with h5py.File(first, "r") as a, h5py.File(second, "r") as b:
        names_a: list[str] = []
        names_b: list[str] = []
        a.visit(names_a.append)
        b.visit(names_b.append)
        for name in sorted(set(names_a) ^ set(names_b)):
            found.append(f"{name}: only in {first if name in names_a else second}")
        for name in ["/", *sorted(set(names_a) & set(names_b))]:
            oa, ob = a[name], b[name]
            keys_a = set(oa.attrs) - IGNORED_ATTRS
            keys_b = set(ob.attrs) - IGNORED_ATTRS
            for key in sorted(keys_a ^ keys_b):
                found.append(f"{name}: attribute {key} in one file only")
            for key in sorted(keys_a & keys_b):
                if not same(oa.attrs[key], ob.attrs[key], paths):
                    found.append(f"{name}: attribute {key} differs")
            if isinstance(oa, h5py.Dataset) != isinstance(ob, h5py.Dataset):
                found.append(f"{name}: a dataset in one file, a group in the other")
            elif isinstance(oa, h5py.Dataset) and not same(oa[()], ob[()], paths):
                found.append(f"{name}: values differ")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--path", action="append", default=[], metavar="OLD=NEW",
                        help="read OLD as NEW in text values (repeatable)")
    args = parser.parse_args(argv)
    paths = [tuple(p.split("=", 1)) for p in args.path]
    found = differences(args.first, args.second, paths)  # type: ignore[arg-type]
    for line in found:
        print(line)
    print(f"{len(found)} differences")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
