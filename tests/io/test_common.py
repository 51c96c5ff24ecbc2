import numpy as np
import pytest

from eis_pipeline.exceptions import ParseError
from eis_pipeline.io.importers._common import (
    announced_rows,
    contiguous_runs,
    data_span,
    decimal_of,
    find_column,
    optional_column,
    require_finite,
    require_positive,
    split_pair,
    sweep_bounds,
    sweep_starts,
)
from eis_pipeline.io.text import _parse_rows, parse_table


@pytest.mark.parametrize(("delimiter", "decimal", "pad"), [
    ("\t", ".", ""), ("\t", ",", ""), ("\t", ".", " "), (",", ".", " "), (None, ".", "  "),
    (None, ",", " "),
])
def test_fast_path_equals_parse_table(rng, delimiter, decimal, pad):
    values = rng.standard_normal((40, 5)) * 10.0 ** rng.integers(-8, 8, size=(40, 5))
    sep = delimiter or " "
    lines = [sep.join(f"{pad}{v:.9e}" for v in row) + (sep if delimiter == "\t" else "")
             for row in values]
    if decimal == ",":
        lines = [s.replace(".", ",") for s in lines]
    kw = {"path": "t.txt", "first_line": 3, "delimiter": delimiter, "decimal": decimal,
          "ncols": 5}
    fast = parse_table(lines, **kw)
    np.testing.assert_array_equal(fast, _parse_rows(lines, exact=False, **kw))
    np.testing.assert_allclose(fast, values, rtol=1e-9)


@pytest.mark.parametrize(("bad", "message"), [
    ("1\t2", "expected 3 columns, found 2"),
    ("1\tx\t3", "expected a number in column 2, found 'x'"),
    ("", "expected 3 columns, found 0"),
])
def test_fallback_reports_line_and_field(bad, message):
    lines = ["1\t2\t3", "4\t5\t6", bad, "7\t8\t9"]
    with pytest.raises(ParseError, match=message) as info:
        parse_table(lines, path="t.txt", first_line=10, delimiter="\t", ncols=3)
    assert info.value.line == 12


def test_exact_rejects_a_longer_row():
    lines = ["1 2 3", "4 5 6 7", "8 9 10"]
    assert parse_table(lines, path="t.txt", first_line=1, ncols=3).shape == (3, 3)
    with pytest.raises(ParseError, match="expected 3 columns, found 4") as info:
        parse_table(lines, path="t.txt", first_line=1, ncols=3, exact=True)
    assert info.value.line == 2


def test_small_helpers():
    assert decimal_of(["1\t2", "1,5\t2"], "\t") == "," and decimal_of(["1.5 2"], None) == "."
    assert contiguous_runs(np.array([True, True, False, False, True])) == [(0, 2), (4, 5)]
    assert contiguous_runs(np.zeros(3, bool)) == []
    table = np.array([[1.0, 2.0], [np.inf, 3.0]])
    with pytest.raises(ParseError, match=r"t\.txt:6: f is inf") as info:
        require_finite(table, [0, 1], path="t.txt", first_line=5, names=["f", "z"])
    assert info.value.line == 6
    with pytest.raises(ParseError, match=r"t\.txt:2: frequency is -1\.0 Hz"):
        require_positive(np.array([1.0, -1.0]), path="t.txt", first_line=1)


def test_sweep_bounds():
    f = np.array([0.0, 1e4, 1e3, 1e2, 1e4, 1e3, 1e3, 0.0, 0.0, 1.0, 10.0, 100.0, 1.0])
    assert sweep_bounds(f) == [(1, 4), (4, 7), (9, 12), (12, 13)]
    assert sweep_bounds(np.array([5.0])) == [(0, 1)]
    assert sweep_bounds(np.zeros(4)) == []


def test_sweep_starts_one_rule_for_every_importer():
    # Restarts against the dominant direction cut, either direction.
    np.testing.assert_array_equal(sweep_starts(np.array([1e3, 1e2, 10, 1e3, 1e2])), [0, 3])
    np.testing.assert_array_equal(sweep_starts(np.array([1.0, 10, 100, 1, 10])), [0, 3])
    # Repeated frequencies never cut; a tie (no dominant direction) cuts nothing.
    np.testing.assert_array_equal(sweep_starts(np.array([1e3, 1e3, 1e2, 1e2, 10])), [0])
    np.testing.assert_array_equal(sweep_starts(np.array([1.0, 10, 5])), [0])
    np.testing.assert_array_equal(sweep_starts(np.array([5.0])), [0])
    assert sweep_starts(np.array([])).size == 0
    # Known starts (cycle numbers, loop index) are added to the restarts.
    known = np.array([False, False, True, False, False])
    np.testing.assert_array_equal(sweep_starts(np.array([1e4, 1e3, 1e2, 10, 1.0]),
                                               breaks=known), [0, 2])


def test_the_three_importer_families_split_alike():
    """BioLogic loops, vendor text runs and generic CSV use the same restarts."""
    from eis_pipeline.io.importers._biologic_spectra import loop_starts_of
    from eis_pipeline.io.importers.generic_csv import split_sweeps

    f = np.array([1e4, 1e3, 1e2, 1e4, 1e3, 1e2, 1e4])
    starts = [0, 3, 6]
    np.testing.assert_array_equal(loop_starts_of(f, None), starts)
    assert [s.start for s in split_sweeps(f)] == starts
    assert [a for a, _ in sweep_bounds(f)] == starts


def test_column_names_match_loosely():
    assert optional_column(["Freq / Hz", "Re(Z)/Ohm", "re(z)/ohm"], ["RE(Z) / OHM"]) == 1
    assert optional_column(["a"], ["b"]) is None
    assert find_column(["Elapsed Time (s)", "Zre"], ["elapsedtime(s)"], path="x", line=1,
                       what="time") == 0
    with pytest.raises(ParseError, match=r"x:3: no frequency column among \['a', 'b'\]"):
        find_column([" a", "b "], ["f"], path="x", line=3, what="frequency")


def test_announced_rows_and_data_span():
    lines = ["3", "1 2", "3 4", "", "5 6"]
    assert announced_rows(lines, 1, 2, path="t", what="line 1") == ["1 2", "3 4"]
    with pytest.raises(ParseError, match=r"t:3: line 1 announces 3 points but only 2 follow"):
        announced_rows(lines, 1, 3, path="t", what="line 1")
    assert data_span(["", "x", "", "y", " ", ""], 0) == (1, 4)
    assert data_span(["", " "], 0) == (2, 2)
    assert split_pair("Init E (V) = 0", " = ") == ("Init E (V)", "0")
    assert split_pair(" = 5", " = ") is None
