"""Downloading a PDF a source pointed at: a size limit, a time limit, a few redirects, and
only a real PDF is taken (``%PDF-``): a landing page (HTML) is refused with a reason.

The addresses come from other services' data, so by default an address on this machine or
its private network is refused (before connecting, and at each redirect): a record's data
must not make the server fetch its own internal services.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from .http import USER_AGENT

MAX_REDIRECTS = 5
CHUNK = 64 * 1024
_HTML_TYPES = ("text/html", "application/xhtml+xml")


class DownloadRefused(Exception):
    """The address gave no PDF; ``message`` says why ("got HTML", "HTTP 403", …)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Downloaded:
    data: bytes
    url: str  # after redirects
    content_type: str


def _private(host: str) -> bool:
    """Whether ``host`` is, or resolves to, an address of this machine or a private network
    (an unresolvable host is left to fail when connecting)."""
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except (OSError, UnicodeError):
            return False
        addresses = {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
    return any(
        a.is_private or a.is_loopback or a.is_link_local or a.is_reserved or a.is_unspecified
        for a in addresses
    )


def check_address(url: str, *, allow_private: bool) -> None:
    """Refuse an address that is not http(s), or (unless allowed) points inside."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DownloadRefused("not an http(s) address")
    if not allow_private and _private(parts.hostname):
        raise DownloadRefused("the address is on a private network; not fetched")


def _redirects(*, limit: int, allow_private: bool) -> urllib.request.HTTPRedirectHandler:
    """A redirect handler that follows at most ``limit`` redirects, checking each address."""

    class Redirects(urllib.request.HTTPRedirectHandler):
        max_redirections = limit

        def redirect_request(
            self,
            req: urllib.request.Request,
            fp: IO[bytes],
            code: int,
            msg: str,
            headers: Any,
            newurl: str,
        ) -> urllib.request.Request | None:
            check_address(newurl, allow_private=allow_private)
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return Redirects()


def download_pdf(
    url: str,
    *,
    max_bytes: int,
    timeout: float = 60.0,
    max_redirects: int = MAX_REDIRECTS,
    allow_private: bool = False,
) -> Downloaded:
    """The PDF at ``url``, or ``DownloadRefused``: refused early when the server announces
    HTML or a size over ``max_bytes``, and never read past ``max_bytes``."""
    check_address(url, allow_private=allow_private)
    opener = urllib.request.build_opener(
        _redirects(limit=max_redirects, allow_private=allow_private)
    )
    # check_address above let only http(s) through (and each redirect is checked alike).
    request = urllib.request.Request(  # noqa: S310
        url, headers={"User-Agent": USER_AGENT, "Accept": "application/pdf"}
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type.lower() in _HTML_TYPES:
                raise DownloadRefused("got HTML (a web page, not the PDF)")
            announced = response.headers.get("Content-Length")
            if announced and announced.isdigit() and int(announced) > max_bytes:
                raise DownloadRefused(_too_big(int(announced), max_bytes))
            data = _read(response, max_bytes)
            final = response.geturl()
    except DownloadRefused:
        raise
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise DownloadRefused(f"more than {max_redirects} redirects") from None
        raise DownloadRefused(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, TimeoutError | socket.timeout):
            raise DownloadRefused(f"no answer within {timeout:.0f} s") from None
        raise DownloadRefused(f"could not be fetched ({reason})") from None
    if not data.startswith(b"%PDF-"):
        if data.lstrip()[:1] == b"<":
            raise DownloadRefused("got HTML (a web page, not the PDF)")
        shown = content_type or "no Content-Type"
        raise DownloadRefused(f"not a PDF ({shown}, {len(data)} bytes)")
    return Downloaded(data=data, url=final, content_type=content_type)


def _read(response: Any, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = response.read(CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise DownloadRefused(_too_big(size, max_bytes, more=True))
        chunks.append(chunk)


def _too_big(size: int, limit: int, *, more: bool = False) -> str:
    over = "more than " if more else ""
    return f"the file is {over}{size / 1048576:.1f} MB; the limit is {limit / 1048576:.0f} MB"
