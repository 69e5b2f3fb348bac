"""Leave out of a fetched search the records a review already has from that source.

A saved search run again (by hand or on its schedule) finds mostly what its earlier runs
found. Those records are in the review already, screened or waiting; importing them again
would only make work for deduplication and inflate "records identified". A record is known
by its identifier at the source: PubMed's PMID, OpenAlex's work id, Europe PMC's id,
ClinicalTrials.gov's NCT number, Crossref's DOI — what the importer stores as the record's
``source_record_id``. Records without one are kept (deduplication still compares them).
"""

from __future__ import annotations

import dataclasses
import re

from .http import Fetched

# MEDLINE text: every record begins with its PMID line.
_MEDLINE_RECORD = re.compile(r"^PMID- ?(\S+)", re.MULTILINE)


def leave_out_seen(fetched: Fetched, seen: set[str]) -> tuple[Fetched, int]:
    """``fetched`` without the records whose source identifier is in ``seen``, and how many
    were left out. ``fetched.fetched`` becomes the count kept; ``reported`` stays what the
    database said (the run's explanation accounts for the difference)."""
    if not seen:
        return fetched, 0
    if fetched.fmt == "nbib":
        kept_text, left_out = _medline_without(fetched.text, seen)
        kept = fetched.fetched - left_out
        return dataclasses.replace(fetched, text=kept_text, fetched=kept), left_out
    rows = [r for r in fetched.records if str(r.get("id") or "").strip() not in seen]
    left_out = len(fetched.records) - len(rows)
    return dataclasses.replace(fetched, records=rows, fetched=len(rows)), left_out


def _medline_without(text: str, seen: set[str]) -> tuple[str, int]:
    starts = [m.start() for m in _MEDLINE_RECORD.finditer(text)]
    if not starts:
        return text, 0
    blocks = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    kept = []
    for block in blocks:
        match = _MEDLINE_RECORD.match(block)
        if match and match.group(1) in seen:
            continue
        kept.append(block.strip("\n"))
    left_out = len(blocks) - len(kept)
    return ("\n\n".join(kept) + "\n" if kept else ""), left_out
