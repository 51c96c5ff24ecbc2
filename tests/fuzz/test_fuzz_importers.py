"""The mutation fuzzer at a small fixed count, in `make test` (a few seconds).

`make fuzz` runs the same fuzzer at 10,000 mutations (tests/fuzz/runner.py). Here a fixed
seed makes the run reproducible, and the oracles are checked to fire on known damage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.fuzz import mutations
from tests.fuzz.runner import _judge, corpus, fuzz


def test_small_fixed_seed_fuzz_finds_nothing() -> None:
    files = corpus()
    if not files:
        pytest.skip("no shared formats and no sample_data to fuzz")
    summary = fuzz(files, mutations=150, seed=20261204, timeout=5.0)
    assert summary.mutants == 150
    assert not summary.findings, summary.text()


def test_value_oracle_flags_shifted_and_lost_points() -> None:
    original = np.array([[1000.0, 10, -2], [100.0, 12, -5], [10.0, 20, -8]])
    delete = mutations.Mutant("delete_line", b"", "subset", 1)
    assert _judge(delete, original, original[:2]) is None  # the deleted row
    assert "lost" in _judge(delete, original, original[:1])
    shifted = original.copy()
    shifted[1:, 1:] = shifted[1:, ::-1][:, :2]
    assert "not in the original" in _judge(delete, original, shifted)
    same = mutations.Mutant("eol_CR", b"", "same")
    assert _judge(same, original, original) is None
    assert "differ" in _judge(same, original, original[::-1][:2])


def test_every_mutation_returns_bytes_or_declines(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    data = b"freq\tZ\n1.0\t2.5\n10.0\t3.5\n"
    for mutate in mutations.MUTATIONS:
        out = mutate(data, rng)
        assert out is None or isinstance(out.data, bytes)
