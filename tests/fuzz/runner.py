"""Run the mutation fuzzer: every real export, mutated, read in a worker with a time limit.

For each mutant the read must, within ``timeout`` seconds, either raise an
:class:`~eis_pipeline.exceptions.EisError` (not one wrapping an exception the importer did not
foresee) or return spectra that pass the contract and the mutation's value oracle
(:mod:`tests.fuzz.mutations`); a read that warns (an ``EisWarning``) has flagged the damage and
passes. Findings are of four kinds: ``leak`` (a non-EisError exception, or one the registry
had to wrap), ``hang`` (over the time limit; the worker is killed), ``invalid`` (spectra that
fail validate_spectrum) and ``silent`` (values changed without an error or warning).

Corpus: ``../shared/formats/`` (skipped when absent) and the project's ``sample_data/``.

    python -m tests.fuzz --mutations 10000 --seed 1 --timeout 5
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import re
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eis_pipeline.conventions import make_spectrum, validate_spectrum
from eis_pipeline.exceptions import EisError, EisWarning
from eis_pipeline.io.registry import importers, read_spectra
from tests.fuzz.mutations import MUTATIONS, Mutant

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "formats"
#: Files meant to be rejected (tests/io/test_shared_catalogue.py): mutating them proves little.
REJECTED = {"exampleDataBioLogic_MissingFreq.mpt", "exampleDataBioLogic_NoImZ.mpt",
            "mb.issue_95.mpt", "mb.issue_95.de.mpt"}
UNFORESEEN = "an input the importer did not foresee"


def corpus() -> list[Path]:
    """Every instrument export of the shared folder and of sample_data/, sorted."""
    roots = [r for r in (SHARED, ROOT / "sample_data") if r.is_dir()]
    return sorted(p for r in roots for p in r.rglob("*")
                  if p.is_file() and p.suffix.lower() not in {".json", ".md"}
                  and p.name not in REJECTED)


def _read(path: Path) -> tuple[Any, ...]:
    """One read, summarised for the parent: ("ok", points, warned) or ("error", ...)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            spectra = read_spectra(path)
        for ds in spectra:
            validate_spectrum(ds, require_attrs=True)
    except EisError as exc:
        unforeseen = UNFORESEEN in str(exc)
        cause = type(exc.__cause__).__name__ if unforeseen else ""
        return ("error", type(exc).__name__, unforeseen, cause, str(exc)[:300])
    except Exception as exc:  # a leak: exactly what the fuzzer looks for
        return ("error", type(exc).__name__, True, type(exc).__name__, str(exc)[:300])
    warned = any(issubclass(w.category, EisWarning) for w in caught)
    points = np.concatenate([np.column_stack([ds.frequency.values, ds.impedance.values.real,
                                              ds.impedance.values.imag]) for ds in spectra])
    return ("ok", points, warned, len(spectra))


def _worker(conn: Any) -> None:
    while True:
        path = conn.recv()
        if path is None:
            return
        conn.send(_read(Path(path)))


class Reader:
    """A forked worker that reads files; killed and replaced when a read exceeds the limit."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._ctx = mp.get_context("fork")
        # Import every importer (and what a read touches) before forking: a fresh worker
        # would otherwise spend seconds importing inside its first timed read.
        importers()
        validate_spectrum(make_spectrum([1.0], [1 - 1j]))
        self._start()

    def _start(self) -> None:
        self.conn, child = self._ctx.Pipe()
        self.proc = self._ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()

    def read(self, path: Path, timeout: float | None = None
             ) -> tuple[tuple[Any, ...] | None, float]:
        """(result, seconds); result None when the read exceeded the limit."""
        start = time.perf_counter()
        self.conn.send(str(path))
        if self.conn.poll(self.timeout if timeout is None else timeout):
            return self.conn.recv(), time.perf_counter() - start
        self.proc.kill()
        self.proc.join()
        self._start()
        return None, time.perf_counter() - start

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join(5)


@dataclass
class Summary:
    mutants: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    slowest: float = 0.0
    #: errors that name a point but no file line (the docs promise the line), per source file
    unlocated: Counter[str] = field(default_factory=Counter)

    def text(self) -> str:
        lines = [f"{self.mutants} mutants: " + ", ".join(f"{k} {v}" for k, v in
                                                         sorted(self.outcomes.items())),
                 f"findings: {len(self.findings)} (" + ", ".join(
                     f"{k} {v}" for k, v in sorted(self.kinds.items())) + ")",
                 f"slowest read: {self.slowest:.2f} s",
                 f"errors naming a point but no line: {sum(self.unlocated.values())}"
                 + (" (" + ", ".join(f"{k} {v}" for k, v in self.unlocated.most_common())
                    + ")" if self.unlocated else "")]
        lines += [f"  {f}" for f in self.findings[:50]]
        return "\n".join(lines)


_UNLOCATED = re.compile(r"\bpoint \d+")
#: a file line, or for a binary file the byte offset of the value
_LINE = re.compile(r"\bline \d+|:\d+:|\bbyte offset \d+")


def _rows(points: np.ndarray) -> Counter[tuple[float, float, float]]:
    return Counter(map(tuple, points.tolist()))


def _judge(mutant: Mutant, original: np.ndarray, points: np.ndarray,
           per_line: int = 1) -> str | None:
    """Why a successful, unwarned read is a silent value change, or None.

    ``per_line``: points one line may hold (the original's number of spectra: a Gamry file
    holds its drift-corrected and uncorrected spectra side by side, one point of each per row).
    """
    if mutant.expect == "valid":
        return None
    got, had = _rows(points), _rows(original)
    if mutant.expect == "same":
        return None if got == had else (f"values differ from the original ({len(points)} vs "
                                         f"{len(original)} points)")
    invented = sum((got - had).values())
    lost = sum((had - got).values())
    allowed_invented = 1 if mutant.kind == "truncate" else 0  # the row the cut went through
    if invented > allowed_invented:
        return f"{invented} point(s) not in the original (shifted or misread fields)"
    if mutant.lost is not None and lost > mutant.lost * per_line + invented:
        return f"{lost} original point(s) lost without a word"
    return None


def fuzz(files: Iterable[Path], mutations: int, seed: int, timeout: float,
         verbose: bool = False) -> Summary:
    """Apply ``mutations`` mutants spread over ``files``; return the summary."""
    files = list(files)
    rng = np.random.default_rng(seed)
    if not files:
        return Summary()
    summary = Summary()
    reader = Reader(timeout)
    try:
        with tempfile.TemporaryDirectory(prefix="eis-fuzz-") as tmp:
            originals: dict[Path, tuple[np.ndarray, int]] = {}
            for path in files:
                result, _ = reader.read(path, timeout=60.0)
                if result is not None and result[0] == "ok":
                    originals[path] = (result[1], result[3])
            files = [p for p in files if p in originals]
            if not files:
                raise RuntimeError("no file of the corpus reads cleanly: nothing to mutate")
            for i in range(mutations):
                source = files[i % len(files)]
                data = source.read_bytes()
                mutate = MUTATIONS[int(rng.integers(0, len(MUTATIONS)))]
                mutant = mutate(data, rng) if data else None
                if mutant is None:
                    mutant = MUTATIONS[0](data, rng)
                target = Path(tmp) / f"{i % 7}" / source.name  # keep the name: suffix counts
                target.parent.mkdir(exist_ok=True)
                target.write_bytes(mutant.data)
                result, seconds = reader.read(target)
                if result is None:
                    # Over the limit: read again in a fresh worker, so that a machine busy
                    # with other work does not pass for a super-linear parser.
                    summary.outcomes["retried"] += 1
                    result, seconds = reader.read(target)
                summary.mutants += 1
                summary.slowest = max(summary.slowest, seconds)
                where = f"{source.name} [{mutant.kind}, seed {seed}, #{i}]"
                finding = None
                if result is None:
                    summary.outcomes["hang"] += 1
                    finding = ("hang", f"over {timeout:g} s")
                elif result[0] == "error":
                    summary.outcomes["error"] += 1
                    if _UNLOCATED.search(result[4]) and not _LINE.search(result[4]):
                        summary.unlocated[source.name] += 1
                        if verbose:
                            print(f"no line: {where}: {result[4]}", flush=True)
                    if result[2]:
                        finding = ("leak", f"{result[1]}/{result[3]}: {result[4]}")
                else:
                    summary.outcomes["warned" if result[2] else "read"] += 1
                    if not result[2]:
                        points, n_spectra = originals[source]
                        why = _judge(mutant, points, result[1], n_spectra)
                        if why:
                            finding = ("silent", why)
                if finding:
                    summary.kinds[finding[0]] += 1
                    summary.findings.append(f"{finding[0]}: {where}: {finding[1]}")
                    if verbose:
                        print(summary.findings[-1], flush=True)
    finally:
        reader.close()
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mutations", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per read")
    parser.add_argument("--verbose", action="store_true", help="print findings as they come")
    args = parser.parse_args(argv)
    files = corpus()
    if not files:
        print("no files to fuzz")
        return 0
    start = time.perf_counter()
    summary = fuzz(files, args.mutations, args.seed, args.timeout, args.verbose)
    print(f"{len(files)} files, seed {args.seed}, limit {args.timeout:g} s per read, "
          f"{time.perf_counter() - start:.0f} s")
    print(summary.text())
    return 1 if summary.findings else 0
