"""Errors and warnings raised by eis_pipeline.

Every error derives from :class:`EisError` and also from the matching built-in, so
``except ValueError`` keeps working for callers who do not know this package::

    EisError
    ├── FormatError (ValueError)            file content is not what an importer expects
    │   ├── ParseError                      ... at a known file and line (.path, .line)
    │   └── UnknownFormatError              no importer recognises the file
    ├── InputFileError (OSError)            a path is not a readable regular file (.path)
    │   └── MissingFileError (FileNotFoundError)   ... because it does not exist
    ├── SpectrumError (ValueError)          a dataset breaks the canonical spectrum contract
    ├── CircuitError (ValueError)           bad circuit string (.position in the string)
    ├── FitError (RuntimeError)             a fit could not be carried out at all
    ├── NotFittedError (ValueError, AttributeError)   model used before .fit()
    ├── GeometryError (ValueError)          impossible pellet geometry
    ├── ConfigError (ValueError)            bad campaign config (.path, .line, .key)
    └── OutputError (ValueError)            an output would replace an input or a foreign file

    EisWarning (UserWarning)
    ├── ConvergenceWarning                  a fit stopped without reaching a stationary point
    └── DataQualityWarning                  data fail a validity check (e.g. Kramers-Kronig)

Messages say what was expected, what was found, where, and how to fix it.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "CircuitError",
    "ConfigError",
    "ConvergenceWarning",
    "DataQualityWarning",
    "EisError",
    "EisWarning",
    "FitError",
    "FormatError",
    "GeometryError",
    "InputFileError",
    "MissingFileError",
    "NotFittedError",
    "OutputError",
    "ParseError",
    "SpectrumError",
    "TimeLimitError",
    "UnknownFormatError",
]


class EisError(Exception):
    """Root of every error raised by eis_pipeline."""


class FormatError(EisError, ValueError):
    """A file's content does not match what its importer expects."""


class ParseError(FormatError):
    """A file could not be parsed; ``path`` and ``line`` (1-based, or None) say where."""

    def __init__(self, message: str, path: str | PathLike[str] | None = None,
                 line: int | None = None) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = message
        where = self.path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")

    def __reduce__(self) -> tuple[type, tuple[str, str | None, int | None]]:
        # rebuilt from its parts when a worker process sends it back (args is the full text)
        return type(self), (self.reason, self.path, self.line)


class UnknownFormatError(FormatError):
    """No registered importer recognises the file (or the requested format is unknown)."""


class InputFileError(EisError, OSError):
    """An input path cannot be read as a file (a directory, FIFO, symlink loop, no permission).

    ``path`` is the path given; ``str(exc)`` names it and says how to fix it.
    """

    def __init__(self, message: str, path: str | PathLike[str]) -> None:
        self.path = str(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}")

    def __str__(self) -> str:  # OSError would format (errno, strerror) instead
        return f"{self.path}: {self.reason}"

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # a worker's failure record travels to the parent pickled: rebuilt from its own
        # arguments (the default, from the formatted message, lacks ``path``)
        return type(self), (self.reason, self.path)


class MissingFileError(InputFileError, FileNotFoundError):
    """An input file does not exist."""


class SpectrumError(EisError, ValueError):
    """A dataset does not satisfy the canonical spectrum contract (DESIGN.md section 4)."""


class CircuitError(EisError, ValueError):
    """A circuit string is invalid; ``position`` is the 0-based offending character."""

    def __init__(self, message: str, circuit: str | None = None,
                 position: int | None = None) -> None:
        self.circuit = circuit
        self.position = position
        self.reason = message
        text = message
        if circuit is not None and position is not None:
            text = f"{message}\n  {circuit}\n  {' ' * position}^ (position {position})"
        elif circuit is not None:
            text = f"{message} (circuit {circuit!r})"
        super().__init__(text)

    def __reduce__(self) -> tuple[type, tuple[str, str | None, int | None]]:
        return type(self), (self.reason, self.circuit, self.position)


class FitError(EisError, RuntimeError):
    """A fit could not be attempted or produced no usable result."""


class TimeLimitError(EisError, TimeoutError):
    """A file took longer to read or analyse than the run's per-file time limit."""


class NotFittedError(EisError, ValueError, AttributeError):
    """A model was used before ``fit`` was called."""


class GeometryError(EisError, ValueError):
    """Pellet geometry is missing, non-positive or inconsistent."""


class ConfigError(EisError, ValueError):
    """A campaign config is invalid; ``path``, ``line`` and ``key`` say where."""

    def __init__(self, message: str, path: str | PathLike[str] | None = None,
                 line: int | None = None, key: str | None = None) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.key = key
        self.reason = message
        # a config built in code (a folder run, `fit FILES`) has no file to name
        where = self.path or ("<config>" if line is not None else "")
        if line is not None:
            where = f"{where}:{line}"
        if key is not None:
            where = f"{where}: key {key!r}" if where else f"key {key!r}"
        super().__init__(f"{where}: {message}" if where else message)

    def __reduce__(self) -> tuple[type, tuple[str, str | None, int | None, str | None]]:
        return type(self), (self.reason, self.path, self.line, self.key)


class OutputError(EisError, ValueError):
    """An output path is refused: it would replace an input file, the config, or a file the
    tool did not write; ``path`` is the refused output."""

    def __init__(self, message: str, path: str | PathLike[str] = "<output>") -> None:
        self.path = str(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (self.reason, self.path)


class EisWarning(UserWarning):
    """Root of every warning emitted by eis_pipeline."""


class ConvergenceWarning(EisWarning):
    """A fit stopped before reaching a stationary point (iteration limit, stalled step...)."""


class DataQualityWarning(EisWarning):
    """Data fail a validity check, e.g. the Kramers-Kronig test."""
