"""The one error type for expected failures, and how the API reports it."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


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
        }.get(exc.code, status.HTTP_400_BAD_REQUEST)
        body: dict[str, Any] = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return Response(body, status=code)
    return exception_handler(exc, context)
