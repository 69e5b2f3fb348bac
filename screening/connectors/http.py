"""HTTP for the connectors: a polite rate limit, retries with backoff, ``Retry-After``.

The standard library's ``urllib.request`` is enough for a few GET requests a second, so the
connectors need no HTTP dependency.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

USER_AGENT = "reviewflow (systematic review manager; https://github.com/reviewflow)"


class ConnectorError(Exception):
    """A search could not be fetched whole; the message says why, for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(ConnectorError):
    """The service answered 404: it holds nothing at that address (Unpaywall's answer for a
    DOI it does not know). A ``ConnectorError``, so callers that do not care see no change."""


@dataclass
class Fetched:
    """A whole search as its database answered it.

    ``reported``: how many records the database said the search found; ``fetched``: how many
    came back (always ``reported``: a client refuses a partial answer). ``text`` is an
    export file in ``fmt`` (PubMed's MEDLINE text), or ``records`` are rows keyed by the
    field names of ``screening.bibliography`` (Europe PMC), for the caller to write.
    ``notes``: what the user should know about how the search was run (query sent, limits).
    """

    source: str
    query_sent: str
    reported: int
    fetched: int
    fmt: str
    text: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class RateLimiter:
    """At most ``per_second`` requests a second, spaced evenly (NCBI asks for 3 a second
    without an API key, 10 with one)."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.interval = 1.0 / per_second
        self.clock, self.sleep = clock, sleep
        self._next = 0.0

    def wait(self) -> None:
        now = self.clock()
        if now < self._next:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


class HttpClient:
    """GET with retries: network failures, 5xx answers and cut-off bodies are retried with
    exponential backoff (``backoff`` × 1, 2, 4 … seconds); a 429 waits what its
    ``Retry-After`` asks (or the backoff), refused when that is over ``max_retry_after``.
    Other 4xx answers are not retried: the request itself is wrong (a bad query)."""

    def __init__(
        self,
        service: str,
        *,
        limiter: RateLimiter,
        attempts: int = 5,
        backoff: float = 1.0,
        max_retry_after: float = 120.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.service, self.limiter = service, limiter
        self.attempts, self.backoff = max(1, attempts), backoff
        self.max_retry_after, self.timeout, self.sleep = max_retry_after, timeout, sleep

    def get(self, url: str, params: Mapping[str, str | int]) -> bytes:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConnectorError(
                f"The address of {self.service} in the settings ({url}) is not an http(s) "
                "address; nothing was fetched."
            )
        # The scheme is checked above: no file: or custom scheme reaches urlopen.
        request = urllib.request.Request(  # noqa: S310
            f"{url}?{urlencode(params)}", headers={"User-Agent": USER_AGENT}
        )
        problem = ""
        for attempt in range(self.attempts):
            self.limiter.wait()
            delay = self.backoff * 2**attempt
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    body: bytes = response.read()
                    return body
            except urllib.error.HTTPError as exc:
                if exc.code == 429:
                    problem = "it asked us to slow down (HTTP 429)"
                    asked = retry_after(exc.headers.get("Retry-After"))
                    if asked is not None:
                        if asked > self.max_retry_after:
                            raise ConnectorError(
                                f"{self.service} asked us to wait {asked:.0f} s before the next "
                                "request (HTTP 429); nothing was imported. Run the search "
                                "again later."
                            ) from None
                        delay = asked
                elif exc.code >= 500:
                    problem = f"HTTP {exc.code}"
                else:
                    detail = _snippet(exc.read())
                    raise (NotFound if exc.code == 404 else ConnectorError)(
                        f"{self.service} refused the request (HTTP {exc.code})"
                        + (f": {detail}" if detail else "")
                        + "; nothing was imported."
                    ) from None
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc
                problem = f"{type(exc).__name__}: {reason}"
            if attempt + 1 < self.attempts:
                self.sleep(delay)
        raise ConnectorError(
            f"{self.service} did not answer after {self.attempts} attempts ({problem}); "
            "nothing was imported. Run the search again later."
        )


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _snippet(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    return text[:200]
