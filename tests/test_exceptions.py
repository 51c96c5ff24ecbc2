"""Every error a worker may record travels to the parent pickled (its failure record keeps the
exception): each must come back equal in type, message and fields."""

from __future__ import annotations

import inspect
import pickle

import pytest

from eis_pipeline import exceptions

#: constructor arguments for the errors that take more than a message
ARGS = {
    "ParseError": ("bad number", "run.mpt", 12),
    "InputFileError": ("is a directory, not a file", "data/x.mpt"),
    "MissingFileError": ("no such file; was it moved during the run?", "data/x.mpt"),
    "CircuitError": ("unknown element 'Q9'", "p(R1,Q9)", 5),
    "ConfigError": ("missing name", "campaign.toml", 3, "samples[0].name"),
    "OutputError": ("would overwrite an input", "data/x.mpt"),
}
ERRORS = sorted(name for name, cls in vars(exceptions).items()
                if inspect.isclass(cls) and issubclass(cls, exceptions.EisError))


@pytest.mark.parametrize("name", ERRORS)
def test_every_error_survives_a_pickle_round_trip(name: str) -> None:
    cls = getattr(exceptions, name)
    error = cls(*ARGS.get(name, ("something went wrong",)))
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls
    assert str(back) == str(error)
    assert vars(back) == vars(error)


def test_the_list_covers_the_errors_with_fields() -> None:
    # an error whose constructor needs more than a message must be in ARGS
    for name in ERRORS:
        init = next((vars(c)["__init__"] for c in getattr(exceptions, name).__mro__
                     if "__init__" in vars(c) and c.__module__ == exceptions.__name__), None)
        if init is None:
            continue                               # Exception's: a message only
        params = list(inspect.signature(init).parameters.values())[1:]   # after self
        required = [p for p in params if p.default is inspect.Parameter.empty]
        assert len(required) <= 1 or name in ARGS, name
