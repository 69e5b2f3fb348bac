"""Where a full text's PDF came from, in words (#22).

``{% load fulltext_source %}`` then::

    {{ report.pdf_source|pdf_source }}    "Unpaywall", "uploaded by a member", ...
    {{ report.pdf_version|pdf_version }}  "accepted manuscript", ...

The sources are ``attach_full_text``'s (``upload``, ``batch``) and the open-access ones of
``screening.services.openaccess``; the versions are Unpaywall's and OpenAlex's words
(``submittedVersion``, ``acceptedVersion``, ``publishedVersion``), which Europe PMC's
author manuscripts are given too. A value not listed here is shown as stored.
"""

from __future__ import annotations

from django import template

from screening.services.openaccess import SOURCE_NAMES

register = template.Library()

SOURCE_WORDS = {"upload": "uploaded by a member", "batch": "matched from a PDF batch"}
VERSION_WORDS = {
    "submittedVersion": "submitted manuscript (before peer review)",
    "acceptedVersion": "accepted manuscript (after peer review)",
    "publishedVersion": "published version",
}


@register.filter
def pdf_source(value: object) -> str:
    key = "" if value is None else str(value)
    return SOURCE_WORDS.get(key) or SOURCE_NAMES.get(key, key)


@register.filter
def pdf_version(value: object) -> str:
    key = "" if value is None else str(value)
    return VERSION_WORDS.get(key, key)
