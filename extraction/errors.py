"""The error extraction's services raise when values break a form's rules."""

from __future__ import annotations

from extraction.spec import FieldError
from reviewflow.errors import ReviewflowError


class ExtractionInvalid(ReviewflowError):
    """Values that break the form's rules; ``errors`` names every field, row and column."""

    def __init__(self, errors: list[FieldError]):
        first = str(errors[0])
        more = len(errors) - 1
        message = first if not more else f"{first} (and {more} more)"
        super().__init__(message, field=errors[0].field)
        self.errors = errors
