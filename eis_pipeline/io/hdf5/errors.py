"""The error raised when a results file cannot be written or read."""

from __future__ import annotations

from eis_pipeline.exceptions import EisError

__all__ = ["ResultsError"]


class ResultsError(EisError, OSError):
    """A results file could not be written or read."""
