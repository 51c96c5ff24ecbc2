"""Whether two checkouts read the same files into the same spectra: for reader speed work.

``dump`` reads every file under the given folders with :func:`eis_pipeline.read_spectra` and
pickles each outcome (the datasets, or the error's type and message, and the warnings);
``compare`` checks two dumps: datasets identical (values bit for bit, dtypes, attributes and
their types and order, coordinates, indexes, encodings), errors and warnings word for word.
Run the dump once per checkout, each with its own code first on the path:

    PYTHONPATH=/old/checkout python scripts/same_spectra.py dump old.pkl DIR...
    PYTHONPATH=/new/checkout python scripts/same_spectra.py dump new.pkl DIR...
    python scripts/same_spectra.py compare old.pkl new.pkl

Include damaged files (e.g. mutants written by ``tests.fuzz.mutations``) so that the error
paths are compared too. Exit status 1 when a file differs.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import warnings
from pathlib import Path
from typing import Any

import xarray as xr


def dump(out: Path, folders: list[Path]) -> int:
    from eis_pipeline.io.registry import read_spectra

    files = sorted(p for folder in folders for p in folder.rglob("*") if p.is_file())
    outcomes: dict[str, Any] = {}
    for path in files:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result: tuple[Any, ...] = ("ok", read_spectra(path))
            except Exception as exc:  # the outcome to compare, whatever it is
                result = ("error", type(exc).__name__, str(exc), type(exc.__cause__).__name__)
        outcomes[str(path)] = (result, [f"{w.category.__name__}: {w.message}" for w in caught])
    with out.open("wb") as fh:
        pickle.dump(outcomes, fh)
    import eis_pipeline

    print(f"{len(outcomes)} files, {sum(r[0] == 'ok' for r, _ in outcomes.values())} read, "
          f"with {Path(eis_pipeline.__file__).parent}")
    return 0


def _same(a: xr.Dataset, b: xr.Dataset) -> None:
    xr.testing.assert_identical(a, b)
    assert list(a.attrs.items()) == list(b.attrs.items()), "dataset attributes"
    assert [type(v) for v in a.attrs.values()] == [type(v) for v in b.attrs.values()]
    assert list(a.variables) == list(b.variables) and list(a.coords) == list(b.coords)
    assert a.encoding == b.encoding, "dataset encoding"
    for name, va in a.variables.items():
        vb = b.variables[name]
        assert type(va) is type(vb) and va.dtype == vb.dtype and va.dims == vb.dims, name
        assert list(va.attrs.items()) == list(vb.attrs.items()), f"{name} attributes"
        assert va.encoding == vb.encoding, f"{name} encoding"
        assert va.values.tobytes() == vb.values.tobytes(), f"{name} values"
    for dim, ia in a.indexes.items():
        ib = b.indexes[dim]
        assert type(ia) is type(ib) and ia.name == ib.name and ia.dtype == ib.dtype, dim
        assert type(a.xindexes[dim]) is type(b.xindexes[dim]), dim


def compare(before: Path, after: Path) -> int:
    with before.open("rb") as fa, after.open("rb") as fb:
        a, b = pickle.load(fa), pickle.load(fb)
    if a.keys() != b.keys():
        print(f"different file sets: {len(a.keys() ^ b.keys())} files in one dump only")
        return 1
    differ = 0
    for path in a:
        (ra, wa), (rb, wb) = a[path], b[path]
        try:
            assert wa == wb, f"warnings {wa} != {wb}"
            assert ra[0] == rb[0] and (ra[0] == "ok" or ra == rb), f"{ra[:3]} != {rb[:3]}"
            if ra[0] == "ok":
                assert len(ra[1]) == len(rb[1]), "number of spectra"
                for x, y in zip(ra[1], rb[1], strict=True):
                    _same(x, y)
        except AssertionError as exc:
            differ += 1
            print(f"{path}: {str(exc)[:500]}")
    print(f"{len(a)} files compared, {differ} differ")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="read every file under DIR... and pickle the outcomes")
    d.add_argument("out", type=Path)
    d.add_argument("folders", type=Path, nargs="+")
    c = sub.add_parser("compare", help="compare two dumps")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "dump":
        return dump(args.out, args.folders)
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
