"""The examples in the validation modules' docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["eis_pipeline.validation.kramers_kronig",
                                  "eis_pipeline.validation.drt"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0


def test_public_api_names():
    import eis_pipeline as eis
    from eis_pipeline.validation.drt import drt
    from eis_pipeline.validation.kramers_kronig import kramers_kronig

    assert eis.kramers_kronig is kramers_kronig
    assert eis.drt is drt
