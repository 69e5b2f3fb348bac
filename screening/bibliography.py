"""The bibliographic fields of a record, declared once.

``FIELDS`` is the one list of them: one row per field, in the order imports, the API and
exports give them. Every other list derives from it:

- the fields an importer fills and ``as_dict`` gives (``importers.base.NORMALISED_FIELDS``),
  and the columns of the CSV/Excel column mapping (``importers.tabular.FIELD_NAMES``);
- the columns an import writes, and the lengths it cuts text to
  (``importers.pipeline.VALUE_COLUMNS`` and ``record_values``, by ``MAX_LENGTHS``);
- the record fields of the REST API: the list gives the ``listed`` ones, a record's detail
  all of them (``api.identification``);
- the columns of citation exports (``selectors.identification.EXPORT_COLUMNS``);
- the fields whose HTML entities every importer decodes (``importers.base.finish``, by
  ``verbatim``);
- the fields deduplication reads and compares (``services.dedup.MATCH_COLUMNS``), the
  kind of value it writes when a primary takes a field from a duplicate, and what a field
  becomes when the primary gives it back (``Field.empty``).

``Record``, ``ParsedRecord`` and the matching engine's ``MatchRecord`` still spell their
fields out, because mypy and the migration autodetector read class bodies;
``tests/screening/test_field_table.py`` checks that they agree with this table on every
name, kind and length. So adding a field to ``Record`` means a row here, the model field and
its migration, the ``ParsedRecord`` attribute, and what each format's parser reads into it
and its writer writes (the RIS, BibTeX and CSV round trips of that test fail until they do).

No Django here: the importers' parser process imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Kind(StrEnum):
    """What a field holds, and so how it is stored, sent and emptied."""

    TEXT = "text"  # any length: a TextField
    SHORT_TEXT = "short text"  # at most ``max_length`` characters: a CharField
    LIST = "list"  # a list of strings, stored as JSON: a JSONField
    INTEGER = "integer"  # a small whole number or None: a PositiveSmallIntegerField


@dataclass(frozen=True, slots=True)
class Field:
    """One bibliographic field of a record.

    ``listed``: the REST API's record list gives it (else only a record's detail does:
    abstracts are long, and a page of a hundred records should stay small).
    ``matched``: deduplication reads and compares it; ``match_opening``: only this many
    characters of it (the engine compares the opening of abstracts).
    ``verbatim``: an identifier or a link, kept as the source wrote it; in every other text
    field an import decodes HTML entities (``1&lt;p`` → ``1<p``), whatever the format.
    """

    name: str
    label: str
    kind: Kind
    max_length: int | None = None
    listed: bool = True
    matched: bool = False
    match_opening: int | None = None
    verbatim: bool = False

    def __post_init__(self) -> None:
        if (self.kind is Kind.SHORT_TEXT) != (self.max_length is not None):
            raise ValueError(f"{self.name}: a maximum length is for short text, and only it")
        if self.match_opening is not None and not self.matched:
            raise ValueError(f"{self.name}: an opening to match, but the field is not matched")

    @property
    def empty(self) -> str | list[str] | None:
        """The value of this field when the source did not give it (a new list each time)."""
        if self.kind is Kind.LIST:
            return []
        if self.kind is Kind.INTEGER:
            return None
        return ""


TEXT, SHORT_TEXT, LIST, INTEGER = Kind.TEXT, Kind.SHORT_TEXT, Kind.LIST, Kind.INTEGER

FIELDS: tuple[Field, ...] = (
    Field("title", "Title", TEXT, matched=True),
    Field("abstract", "Abstract", TEXT, listed=False, matched=True, match_opening=400),
    Field("authors", "Authors", LIST, matched=True),
    Field("year", "Year", INTEGER, matched=True),
    Field("journal", "Journal", SHORT_TEXT, 500, matched=True),
    Field("volume", "Volume", SHORT_TEXT, 100, matched=True),
    Field("issue", "Issue", SHORT_TEXT, 100, matched=True),
    Field("pages", "Pages", SHORT_TEXT, 100, matched=True),
    Field("doi", "DOI", SHORT_TEXT, 255, matched=True, verbatim=True),
    Field("pmid", "PMID", SHORT_TEXT, 20, matched=True, verbatim=True),
    Field("pmcid", "PMCID", SHORT_TEXT, 20, verbatim=True),
    Field("issn", "ISSN", SHORT_TEXT, 100, verbatim=True),
    Field("isbn", "ISBN", SHORT_TEXT, 100, matched=True, verbatim=True),
    Field("keywords", "Keywords", LIST),
    Field("language", "Language", SHORT_TEXT, 100),
    Field("publication_type", "Publication type", SHORT_TEXT, 200, matched=True),
    Field("url", "URL", TEXT, verbatim=True),
)

NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
BY_NAME: Mapping[str, Field] = MappingProxyType({f.name: f for f in FIELDS})
# How long each short text may be: its column's length, and what an import cuts it to.
MAX_LENGTHS: Mapping[str, int] = MappingProxyType(
    {f.name: f.max_length for f in FIELDS if f.max_length}
)
LISTED: tuple[str, ...] = tuple(f.name for f in FIELDS if f.listed)
DETAIL_ONLY: tuple[str, ...] = tuple(f.name for f in FIELDS if not f.listed)
MATCHED: tuple[Field, ...] = tuple(f for f in FIELDS if f.matched)
# The text fields written by people (titles, names, …), not identifiers or links.
PROSE: tuple[Field, ...] = tuple(f for f in FIELDS if not f.verbatim and f.kind is not INTEGER)
