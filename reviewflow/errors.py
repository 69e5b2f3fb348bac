"""The one error type for expected failures, and how the API reports it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.db import InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger(__name__)


class ReviewflowError(Exception):
    """An expected failure with a message a user can act on.

    ``field`` names the form or API field at fault when there is one, so pages can show the
    message beside it and the API can key it.
    """

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code

    def __str__(self) -> str:
        return self.message


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus ``ReviewflowError`` → 400 ``{"detail", "field"}`` (409 on conflict)."""
    if isinstance(exc, ReviewflowError):
        code = {
            "conflict": status.HTTP_409_CONFLICT,
            "not_found": status.HTTP_404_NOT_FOUND,
            "forbidden": status.HTTP_403_FORBIDDEN,
            "unavailable": status.HTTP_503_SERVICE_UNAVAILABLE,
        }.get(exc.code, status.HTTP_400_BAD_REQUEST)
        body: dict[str, Any] = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return Response(body, status=code)
    if isinstance(exc, SuspiciousOperation):
        # Django refuses a request body with too many fields or too large (TooManyFieldsSent,
        # RequestDataTooBig) while DRF parses it: answer in the API's JSON, not Django's
        # HTML 400 page.
        return Response(
            {"detail": f"The request was refused: {exc}"}, status=status.HTTP_400_BAD_REQUEST
        )
    return exception_handler(exc, context)


@contextmanager
def not_saved_on_database_failure(what: str) -> Iterator[None]:
    """Report a database that failed inside the block (connection lost, lock or statement
    timeout, serialisation failure, SQLite's "database is locked") as a ``ReviewflowError``
    (code ``unavailable``: API 503) saying that ``what`` was not saved, instead of a bare
    500 that a page updated by htmx would not even show.

    Put it outside the block's ``transaction.atomic()``: the transaction has rolled back
    by the time the message says nothing was saved.
    """
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        log.warning("%s was not saved: the database failed: %s", what, exc)
        raise ReviewflowError(
            f"{what} was not saved: the database did not answer. Nothing was changed; "
            "please try again in a moment.",
            code="unavailable",
        ) from exc
