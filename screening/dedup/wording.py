"""What a person deciding a pair should know first, in a reviewer's words.

The engine gives every pair its reasons, terse and complete ("same DOI", "titles 97 %
alike", "pages conflict", "generic title: issues differ (veto)"). A pair that waits for a
person has one thing that made it hard; :func:`explanation` says that thing in a sentence,
from the reasons alone (so pairs stored before the wording existed read the same way).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["explanation"]

_TITLES_RE = re.compile(r"^(?:titles |one title contains the other \()(\d+) % alike")
_YEARS_RE = re.compile(r"^years (\d+) apart \(veto\)$")
_GENERIC_RE = re.compile(r"^generic title: (.+) differ \(veto\)$")


def _title_share(reasons: Sequence[str]) -> int | None:
    for reason in reasons:
        found = _TITLES_RE.match(reason)
        if found:
            return int(found.group(1))
    return None


def explanation(reasons: Sequence[str]) -> str:
    """One sentence: why the engine could not decide this pair alone (or, for a merge,
    what it rested on)."""
    said = set(reasons)
    for reason in reasons:
        if reason.startswith(("same DOI but different", "same PMID but different")):
            return reason
    for reason in reasons:
        generic = _GENERIC_RE.match(reason)
        if generic:
            return (
                f'generic title ("Editorial", "Reply"…): {generic.group(1)} differ — '
                "probably the same kind of item in different issues"
            )
    identifier = "DOI" if "same DOI" in said else "PMID" if "same PMID" in said else ""
    for reason in reasons:
        years = _YEARS_RE.match(reason)
        if years and identifier:
            return (
                f"same {identifier} but the years are {years.group(1)} apart: "
                "a database may give a wrong year"
            )
    if "meeting abstract vs journal article (veto)" in said:
        return (
            "a meeting abstract and a journal article alike: the abstract of the paper is a "
            "separate publication unless it is the same record"
        )
    if "different DOIs (veto)" in said:
        return "everything agrees but the DOIs: one of them is probably wrong"
    if "titles differ in their numbers (veto)" in said:
        return (
            "the titles differ only in a number: a typo, or parts of a series "
            '("Part I" / "Part II")'
        )
    if "volume and pages conflict (veto)" in said or "journal and volume differ (veto)" in said:
        return "alike titles in different volumes: possibly separate publications"
    share = _title_share(reasons)
    if "first authors differ" in said:
        return "first authors differ: a comment and its reply, or a name exported otherwise"
    if "pages conflict" in said:
        return "pages conflict: a misprint in one database, or two items of one issue"
    if "volumes conflict" in said:
        return "volumes conflict: a misprint in one database, or two publications"
    if "number in one title only" in said:
        return "a number in one title only: a typo, or a different part or edition"
    if share is not None and share < 80 and "same first page" in said:
        return (
            f"titles only {share} % alike, the rest of the citation the same: a title "
            "translated or abridged, or two abstracts printed on one page"
        )
    if share is not None and share < 95:
        return f"titles {share} % alike: worded differently, or different publications"
    if "first author matches" not in said and "first authors differ, most co-authors match" in said:
        return "the same title and most co-authors, the first author spelt differently"
    if share is not None:
        return (
            f"titles {share} % alike, but too little else in common to merge without a "
            "person (no journal, volume or pages that agree)"
        )
    return "alike, but too little else in common to merge without a person"
