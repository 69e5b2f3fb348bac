"""Reads of records that pages and the API share."""

from __future__ import annotations

from django.db.models import Q

from screening.models import RecordQuerySet


def filter_records(
    qs: RecordQuerySet, *, q: str = "", search: str = "", year: str = "", duplicates: str = ""
) -> RecordQuerySet:
    """Narrow records by free text (title, authors, journal, DOI, PMID), search, year, and
    duplicates (``exclude``: only records that go on to screening; ``only``: merged ones)."""
    if duplicates == "exclude":
        qs = qs.filter(duplicate_of__isnull=True)
    elif duplicates == "only":
        qs = qs.filter(duplicate_of__isnull=False)
    if search.isdigit():
        qs = qs.filter(search_id=int(search))
    if year.isdigit():
        qs = qs.filter(year=int(year))
    for term in q.split()[:8]:
        qs = qs.filter(
            Q(title__icontains=term)
            | Q(authors__icontains=term)
            | Q(journal__icontains=term)
            | Q(doi__iexact=term.lower())
            | Q(pmid=term)
            | Q(search__source__icontains=term)
        )
    return qs
