import codecs

import numpy as np
import pytest

from eis_pipeline.exceptions import ParseError
from eis_pipeline.io.text import decode, parse_float, parse_table


@pytest.mark.parametrize(
    "raw",
    [
        "Fréquence µA\n".encode("cp1252"),
        codecs.BOM_UTF8 + "Fréquence µA\n".encode(),
        "Fréquence µA\n".encode("utf-16"),
        "Fréquence µA\n".encode("utf-16-le"),
        "Fréquence µA\n".encode(),
    ],
)
def test_decode_handles_instrument_encodings(raw):
    assert decode(raw) == "Fréquence µA\n"


def test_decode_never_fails_on_undefined_cp1252_bytes():
    assert decode(b"a\x81b\xb5") == "a\x81bµ"


def test_parse_float_decimal_comma_and_error():
    assert parse_float("1,5E+03") == 1500.0
    with pytest.raises(ParseError, match=r"f\.txt:7: expected frequency, found 'abc'"):
        parse_float("abc", path="f.txt", line=7, what="frequency")


def test_parse_table_reports_line_of_short_row():
    with pytest.raises(ParseError) as info:
        parse_table(["1 2 3", "4 5"], path="x.txt", first_line=10)
    assert info.value.line == 11
    assert "expected 3 columns" in str(info.value)


def test_parse_table_values():
    out = parse_table(["1;2,5", "3;4"], path=None, first_line=1, delimiter=";", decimal=",")
    np.testing.assert_array_equal(out, [[1, 2.5], [3, 4]])
