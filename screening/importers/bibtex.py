"""BibTeX import, on bibtexparser's v2 API.

bibtexparser splits the file into blocks and removes the ``{…}``/``"…"`` enclosings;
our own small middlewares then lower-case field keys (keeping repeated fields), split the
``author`` field into names, and decode LaTeX (``M{\\"u}ller`` → ``Müller``) everywhere but
in fields that are identifiers or links, where ``%`` and ``_`` are literal.

Every entry bibtexparser could split becomes a record, including entries whose key
repeats an earlier one or which repeat a field: their content is readable, so they are
imported with a warning (the design asks that only empty records be rejected, and a
database export with two ``Smith2020`` keys still reported two records). Entries with
broken syntax become a ``Rejection`` with their start line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import bibtexparser
from bibtexparser.exceptions import (
    BlockAbortedException,
    ParsingException,
    PartialMiddlewareException,
)
from bibtexparser.library import Library
from bibtexparser.middlewares import (
    BlockMiddleware,
    LatexDecodingMiddleware,
    RemoveEnclosingMiddleware,
    ResolveStringReferencesMiddleware,
    SeparateCoAuthors,
)
from bibtexparser.middlewares.middleware import Middleware
from bibtexparser.middlewares.names import NameParts, parse_single_name_into_parts
from bibtexparser.model import (
    Block,
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    MiddlewareErrorBlock,
    ParsingFailedBlock,
)
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from .base import (
    FileFormatError,
    ParsedRecord,
    ParseResult,
    Rejection,
    clean_text,
    finish,
    normalise_author,
    normalise_doi,
    normalise_isbn,
    normalise_issn,
    normalise_pmcid,
    normalise_pmid,
    parse_year,
)

__all__ = ["parse_bibtex"]

# Fields whose text is an identifier or a link: LaTeX decoding would eat them
# (``%2F`` in a URL starts a LaTeX comment; ``\_`` in a DOI is kept as typed).
_VERBATIM_FIELDS = frozenset(
    {
        "doi",
        "url",
        "eprint",
        "file",
        "pdf",
        "link",
        "biburl",
        "bibsource",
        "urldate",
        "timestamp",
        "pages",
        "issn",
        "eissn",
        "isbn",
        "pmid",
        "pmcid",
        "eid",
        "unique-id",
    }
)
# Characters after which a value needs the (slow) LaTeX decoder at all.
_LATEX_SPECIAL_RE = re.compile(r"[\\{}~$]|--|``|''")
# In exported BibTeX, ``&`` and ``%`` are almost always literal text ("Taylor & Francis",
# "50% of patients"); to LaTeX they are an alignment tab and a comment.
_BARE_SPECIAL_RE = re.compile(r"(?<!\\)([&%])")
_ESCAPED_CHAR_RE = re.compile(r"\\([_%&#$])")
_PMID_NOTE_RE = re.compile(r"PMID:?\s*(\d{1,9})", re.IGNORECASE)
# A BibTeX macro name: not starting with a digit, no spaces or delimiters.
_MACRO_RE = re.compile(r"[^\d\s\"#%'(),={}][^\s\"#%'(),={}]*")
_MONTH_MACROS = frozenset(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
)
_PAGES_DASH_RE = re.compile(r"\s*[-\u2013\u2014]+\s*")


class _LowercaseFieldKeys(BlockMiddleware):
    """Lower-case field keys without dropping repeated fields.

    bibtexparser's ``NormalizeFieldKeys`` keeps only the last of ``Author``/``author``;
    we keep both so that the raw record loses nothing.
    """

    def __init__(self) -> None:
        super().__init__(allow_inplace_modification=True, allow_parallel_execution=True)

    def transform_entry(self, entry: Entry, library: Library) -> Block:
        for field in entry.fields:
            field.key = field.key.strip().lower()
        return entry


class _SplitNameParts(BlockMiddleware):
    """Split each author into first/von/last/jr parts, leniently.

    bibtexparser's ``SplitNameParts`` is strict: one name with a stray comma or brace
    turns the whole entry into an error block. Lenient parsing keeps the entry.
    """

    def __init__(self) -> None:
        super().__init__(allow_inplace_modification=True, allow_parallel_execution=True)

    def transform_entry(self, entry: Entry, library: Library) -> Block:
        for field in entry.fields:
            if field.key == "author" and isinstance(field.value, list):
                enclosing = field.enclosing
                field.value = [
                    parse_single_name_into_parts(name, strict=False) for name in field.value
                ]
                field.enclosing = enclosing
        return entry


class _DecodeLatex(LatexDecodingMiddleware):
    """LaTeX decoding for text fields that contain LaTeX at all, and for author names.

    bibtexparser decodes plain strings and single ``NameParts``; a split ``author`` field
    is a list of ``NameParts``, which we decode word by word here.
    """

    def __init__(self) -> None:
        super().__init__(allow_inplace_modification=True, decoder=_latex_decoder())

    def _decode(self, value: str, errors: list[str]) -> str:
        if not _LATEX_SPECIAL_RE.search(value):
            return value
        decoded, error = self._transform_python_value_string(_BARE_SPECIAL_RE.sub(r"\\\1", value))
        if error:
            errors.append(error)
        return decoded

    def transform_entry(self, entry: Entry, library: Library) -> Block:
        errors: list[str] = []
        for field in entry.fields:
            if field.key in _VERBATIM_FIELDS:
                continue
            if isinstance(field.value, str):
                enclosing = field.enclosing
                field.value = self._decode(field.value, errors)
                field.enclosing = enclosing
            elif isinstance(field.value, list):
                for name in field.value:
                    if isinstance(name, NameParts):
                        for part in (name.first, name.von, name.last, name.jr):
                            part[:] = [self._decode(word, errors) for word in part]
        if errors:
            return MiddlewareErrorBlock(block=entry, error=PartialMiddlewareException(errors))
        return entry


def _latex_decoder() -> LatexNodes2Text:
    """bibtexparser's decoder (its ``\\url`` rule, math kept as typed), with ``^`` read
    back as the caret BibTeX exports write as ``\\textasciicircum{}`` (pylatexenc reads it
    as the modifier letter U+02C6)."""
    context = get_default_latex_context_db()
    context.add_context_category(
        "reviewflow",
        prepend=True,
        macros=[
            MacroTextSpec("url", simplify_repl="%s"),
            MacroTextSpec("textasciicircum", simplify_repl="^"),
        ],
    )
    return LatexNodes2Text(latex_context=context, keep_braced_groups=False, math_mode="verbatim")


@cache
def _split_stack() -> tuple[Middleware, ...]:
    return (
        ResolveStringReferencesMiddleware(allow_inplace_modification=True),
        RemoveEnclosingMiddleware(allow_inplace_modification=True),
        _LowercaseFieldKeys(),
    )


@cache
def _decode_stack() -> tuple[BlockMiddleware, ...]:
    return (
        SeparateCoAuthors(allow_inplace_modification=True, name_fields=("author",)),
        _SplitNameParts(),
        _DecodeLatex(),
    )


def parse_bibtex(text: str) -> Iterator[ParseResult]:
    """Parse a BibTeX file: one result per entry (``@comment``, ``@string`` and
    ``@preamble`` blocks are not records).

    ``line`` is the line of the entry's ``@``; ``record_id`` its citation key.
    Raises ``FileFormatError`` when the text holds no BibTeX entry at all.
    """
    text = text.removeprefix("\ufeff")
    try:
        library = bibtexparser.parse_string(text, parse_stack=list(_split_stack()))
    except ParsingException as error:  # the parser's own invalid state, not bad input
        raise FileFormatError(f"the BibTeX file could not be read: {error}") from error

    position = 0
    for block in library.blocks:
        if isinstance(block, Entry):
            position += 1
            yield _read_entry(block, library, position=position, warnings=[])
        elif isinstance(block, ParsingFailedBlock):
            position += 1
            yield _read_failed_block(block, library, position=position)
    if not position:
        raise FileFormatError(
            "no BibTeX entries were found (an entry starts with @article{, @book{, …)"
        )


def _line(block: Block) -> int:
    # bibtexparser counts lines from 0.
    return (block.start_line or 0) + 1


def _read_failed_block(
    block: ParsingFailedBlock, library: Library, *, position: int
) -> ParseResult:
    inner = block.ignore_error_block
    if isinstance(block, DuplicateBlockKeyBlock) and isinstance(inner, Entry):
        previous = _line(block.previous_block)
        warning = f"citation key '{block.key}' is also used by the entry on line {previous}"
        return _read_entry(
            _prepare_set_aside_entry(inner, library), library, position=position, warnings=[warning]
        )
    if isinstance(block, DuplicateFieldKeyBlock) and isinstance(inner, Entry):
        keys = ", ".join(sorted(block.duplicate_keys))
        warning = f"fields repeated in the entry (all values kept): {keys}"
        return _read_entry(
            _prepare_set_aside_entry(inner, library), library, position=position, warnings=[warning]
        )
    if isinstance(block, MiddlewareErrorBlock) and isinstance(inner, Entry):
        warning = f"the entry was read only in part: {block.error}"
        return _read_entry(inner, library, position=position, warnings=[warning])
    error = block.error
    if isinstance(error, BlockAbortedException):
        reason = error.abort_reason.strip()
    else:
        reason = str(error).strip() or type(error).__name__
    return Rejection(line=_line(block), message=f"the entry is not valid BibTeX: {reason}")


def _prepare_set_aside_entry(entry: Entry, library: Library) -> Entry:
    """Remove enclosings and lower-case keys in an entry bibtexparser set aside as a
    duplicate (the parse stack skips such entries).

    String references (``month = jan``) stay unresolved in them: bibtexparser resolves
    them for a whole library only.
    """
    block: Block = entry
    for middleware in _split_stack()[1:]:
        assert isinstance(middleware, BlockMiddleware)
        transformed = middleware.transform_block(block, library)
        if isinstance(transformed, Block):
            block = transformed
    assert isinstance(block, Entry)
    return block


def _read_entry(
    entry: Entry, library: Library, *, position: int, warnings: list[str]
) -> ParseResult:
    raw: dict[str, list[str]] = {"ENTRYTYPE": [entry.entry_type], "ID": [entry.key]}
    for field in entry.fields:
        raw.setdefault(field.key, []).append(str(field.value))
        if field.enclosing == "no-enclosing" and _is_undefined_macro(field.value, library):
            warnings.append(
                f"{field.key} = {field.value}: no @string defines {field.value!r}; kept as written"
            )

    block: Block = entry
    for middleware in _decode_stack():
        transformed = middleware.transform_block(block, library)
        if isinstance(transformed, MiddlewareErrorBlock) and isinstance(
            transformed.ignore_error_block, Entry
        ):
            # pylatexenc gave up on some value: keep it as typed.
            warnings.append(f"some LaTeX could not be decoded: {transformed.error}")
            block = transformed.ignore_error_block
        elif isinstance(transformed, Block):
            block = transformed
    assert isinstance(block, Entry)

    values: dict[str, list[Any]] = {}
    for field in block.fields:
        values.setdefault(field.key, []).append(field.value)

    def text(*keys: str) -> str:
        for key in keys:
            for value in values.get(key, ()):
                if isinstance(value, str) and clean_text(value):
                    if key in _VERBATIM_FIELDS:  # "10.1007/x\_3" as WoS writes it
                        return clean_text(_ESCAPED_CHAR_RE.sub(r"\1", value))
                    return clean_text(value)  # ``finish`` decodes HTML entities
        return ""

    url = text("url", "link")
    doi = normalise_doi(text("doi")) or _doi_from_url(url)
    record = ParsedRecord(
        line=_line(entry),
        record_id=entry.key.strip() or str(position),
        raw=raw,
        title=text("title"),
        abstract=text("abstract"),
        authors=_authors(values.get("author", [])),
        year=parse_year(text("year")) or parse_year(text("date")),
        journal=text("journal", "journaltitle", "booktitle", "series"),
        volume=text("volume"),
        issue=text("number", "issue"),
        pages=_PAGES_DASH_RE.sub("-", text("pages")),
        doi=doi,
        pmid=_pmid(text("pmid"), text("eprinttype"), text("eprint"), text("note"), entry.key),
        pmcid=normalise_pmcid(text("pmcid")),
        issn=normalise_issn(text("issn", "eissn")),
        isbn=normalise_isbn(text("isbn")),
        keywords=_keywords(text("keywords", "keyword")),
        language=text("language", "langid"),
        # Our BibTeX export writes a type the entry type cannot say (``Journal Article``)
        # in ``type``, as biblatex does for a thesis's or report's type.
        publication_type=text("type") or entry.entry_type.strip().lower(),
        url=url.split(" ")[0] if url else "",
        warnings=warnings,
    )
    return finish(record)


def _is_undefined_macro(value: Any, library: Library) -> bool:
    """Whether a value written without braces or quotes is a name that no ``@string`` of
    the file defines (``journal = jomch``). BibTeX's month names are always defined;
    a concatenation (``jcc # { x}``) is left alone."""
    if not isinstance(value, str) or not _MACRO_RE.fullmatch(value):
        return False
    name = value.lower()
    return name not in _MONTH_MACROS and all(key.lower() != name for key in library.strings_dict)


def _authors(values: list[Any]) -> list[str]:
    authors: list[str] = []
    for value in values:
        if isinstance(value, str):  # never split (should not happen): keep the text
            names = [normalise_author(part) for part in re.split(r"\s+and\s+", value)]
            authors.extend(name for name in names if name)
            continue
        for name in value:
            if not isinstance(name, NameParts):
                continue
            family = clean_text(" ".join([*name.von, *name.last, *name.jr]))
            given = clean_text(" ".join(name.first))
            if (not family and not given) or family.lower() == "others":  # "and others"
                continue
            if family and given:
                authors.append(f"{family}, {given}")
            else:
                authors.append(family or given)
    return authors


def _keywords(value: str) -> list[str]:
    if not value:
        return []
    separator = ";" if ";" in value else ","
    out: list[str] = []
    seen: set[str] = set()
    for part in value.split(separator):
        keyword = clean_text(part)
        if keyword and keyword.lower() not in seen:
            seen.add(keyword.lower())
            out.append(keyword)
    return out


def _doi_from_url(url: str) -> str:
    if re.match(r"https?://(dx\.)?doi\.org/", url, re.IGNORECASE):
        return normalise_doi(url)
    return ""


def _pmid(pmid: str, eprinttype: str, eprint: str, note: str, key: str) -> str:
    if normalise_pmid(pmid):
        return normalise_pmid(pmid)
    if eprinttype.lower() == "pubmed":
        return normalise_pmid(eprint)
    # Taylor & Francis write "PMID: 33355555" in the note; Europe PMC keys are "PMID:18888888".
    # Only a note that is nothing but the PMID: a longer note may cite other articles.
    match = _PMID_NOTE_RE.fullmatch(note) or _PMID_NOTE_RE.fullmatch(key.strip())
    return match.group(1) if match else ""
