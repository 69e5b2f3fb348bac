"""Text normalisers for duplicate matching: what "the same title" or "the same pages" means.

Everything here is a pure function over plain strings, computed once per record. Databases
export one publication in many spellings, and each rule below comes from a difference seen
in real exports:

- **Text** (titles, journals, names) is *folded*: double-encoded UTF-8 repaired
  (``KÃ¶nig`` → ``König``), HTML tags and entities dropped, Greek letters spelt out
  (``α`` → ``alpha``), accents removed, lower-cased, punctuation turned into spaces.
- **Titles** also lose the brackets MEDLINE puts around translated titles, the notes
  databases add (``[Review]``, ``[33 refs]``, ``[Chinese]``, ``(author's transl)``,
  ``[Erratum appears in …]``) and a leading notice phrase (``Erratum:``, ``Re:``); the
  notice itself is kept apart as the record's *kind* (see :func:`notice_kind`) so an
  erratum never passes for the article it corrects.
- **Pages** are read as a first and last page: ``123-30`` is 123-130, ``S145-S146`` is
  145-146, and a range that a spreadsheet turned into a date (``06-Oct`` for 6-10,
  ``Nov-19`` for 11-19) is read back. Electronic article numbers (``e0123``, ``a1754``)
  are not compared with printed pages; unreadable values (``Suppl-6``) count as unknown.
- **Volumes and issues** keep their first number; a supplement marker (``Suppl``) is noted;
  a fragment such as ``1)`` counts as unknown.
- **Journals** compare as equal when one is an abbreviation or the acronym of the other
  (``Curr Opin Lipidol`` = ``Current Opinion in Lipidology``, ``BMJ``).
- **DOIs** drop supplementary-file suffixes (``.s001``) and HTML entities.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Indel

from screening.importers.base import normalise_doi

__all__ = [
    "STOPWORDS",
    "fold",
    "repair_mojibake",
    "title_for_matching",
    "notice_kind",
    "generic_title",
    "is_meeting_abstract",
    "title_numbers",
    "Pages",
    "parse_pages",
    "compare_pages",
    "first_page",
    "first_number",
    "is_supplement",
    "journal_tokens",
    "journals_compatible",
    "author_parts",
    "match_doi",
    "dois_compatible",
]

# Words too common to tell titles apart; dropped from blocking keys (not from similarity).
_STOPWORD_TEXT = (
    "a an and are as at be by for from has have in into is it its of on or that the their "
    "this to was were with without versus vs via"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_GREEK = {
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
    "δ": "delta",
    "ε": "epsilon",
    "κ": "kappa",
    "λ": "lambda",
    "μ": "mu",
    "π": "pi",
    "σ": "sigma",
    "τ": "tau",
    "ω": "omega",
    "Δ": "delta",
    "ß": "ss",
    "æ": "ae",
    "ø": "o",
    "Ø": "o",
    "đ": "d",
    "ł": "l",
    "Ł": "l",
}
_GREEK_RE = re.compile("|".join(map(re.escape, _GREEK)))
_TAG_RE = re.compile(r"<[^<>]{1,40}>")
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")
_MOJIBAKE_HINT = re.compile("[ÃÂâÅ][\u0080-\u00bf\u2000-\u203a\u0152-\u0178]")


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as Latin-1/cp1252 (``KÃ¶nig`` → ``König``)."""
    if not _MOJIBAKE_HINT.search(text):
        return text
    for codec in ("cp1252", "latin-1"):
        try:
            return text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return text


def fold(text: str) -> str:
    """Lower-case ASCII words separated by single spaces; see the module docstring."""
    if not text:
        return ""
    if "&" in text:
        text = html.unescape(text)
    if "<" in text:
        text = _TAG_RE.sub("", text)  # K<inf>Ca</inf>3.1 = KCa3.1
    if not text.isascii():
        text = _fold_unicode(text)
    return _NON_ALNUM_RE.sub(" ", text.lower()).strip()


@lru_cache(maxsize=16384)
def _fold_unicode(text: str) -> str:
    text = repair_mojibake(text)
    text = _GREEK_RE.sub(lambda m: f" {_GREEK[m.group(0)]} ", text)
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


# ------------------------------------------------------------------------------ titles

# Notices about another publication. Their title repeats the article's title after a
# leading phrase, so without this rule "Erratum: X" looks like a duplicate of "X". The
# phrases are narrow on purpose: "Correction of hyponatraemia", "Retraction of the tongue",
# "Withdrawal of antiepileptic drugs" and "Response to treatment" are ordinary articles.
_END = r"(?:\s*[:.\-\]]|\s+(?:to|for|regarding)\b|\s*$)"
_NOTICE_PHRASES: dict[str, str] = {
    "erratum": (
        r"(?:published\s+)?(?:errat(?:um|a)|corrigend(?:um|a))\b"
        rf"|(?:author\s+|publisher\s+)?corrections?{_END}|correction\s+notice\b"
        rf"|addendum{_END}"
    ),
    "retraction": (
        r"notice\s+of\s+retraction\b|retraction\s+(?:notice|note)\b"
        rf"|retraction{_END}|withdrawal\s+notice\b|withdrawn\s*:"
        r"|(?:editorial\s+)?expression\s+of\s+concern\b"
    ),
    "comment": (
        r"comments?\s+(?:on|to)\b|commentary\s+on\b|re\s*:|reply\s*(?:to\b|:)"
        r"|in\s+reply\b|a\s+reply\b|authors?'?\s*(?:reply|response)\b"
        r"|letter\s+(?:to\s+the\s+editor\s+)?regarding\b|letter\s+to\s+the\s+editor\s*:"
    ),
}
_NOTICE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rf"^\s*[\[(]?\s*(?:{phrase})", re.IGNORECASE))
    for name, phrase in _NOTICE_PHRASES.items()
)
_NOTICE_TYPES = {
    "erratum": "erratum",
    "published erratum": "erratum",
    "correction": "erratum",
    "corrigendum": "erratum",
    "retraction of publication": "retraction",
    "retraction notice": "retraction",
    "expression of concern": "retraction",
}
# The notice phrase and what links it to the repeated title ("Erratum to: ", "Re: ").
_LEADING_NOTICE_RE = re.compile(
    r"^\s*[\[(]?\s*(?:" + "|".join(_NOTICE_PHRASES.values()) + r")"
    r"\s*(?:to|on|of|for|regarding)?\s*[:.\-\])]*\s*",
    re.IGNORECASE,
)
# Bracketed notes databases add to a title: "[Review]", "[33 refs]", "[Abstract]",
# "[Chinese]", "(author's transl)", "[Erratum appears in …]", "[Comment in …]". A note about
# an erratum or comment sits on the *article*, so it is dropped, not read as a notice.
_NOTE_WORDS = (
    r"review|\d+\s+refs?|abstract(?:\s+no\b.*?)?|electronic\s+resource|corrected|poster\b.*?"
    r"|see\s+comments?|editorial|letter|published\s+erratum\b.*?|errat(?:um|a)\s+(?:appears|in)\b.*?"
    r"|comment(?:ed)?\s+(?:in|on)\b.*?|update\s+(?:in|of)\b.*?|retraction\s+(?:in|of)\b.*?"
    r"|expression\s+of\s+concern\s+in\b.*?"
    r"|(?:article\s+in\s+)?(?:english|chinese|german|french|spanish|italian|japanese|russian"
    r"|portuguese|polish|dutch|korean|turkish|czech|hungarian|danish|swedish|norwegian"
    r"|finnish|hebrew|persian|croatian)(?:\s+abstract)?|author'?s\s+transl?"
)
_TITLE_NOTE_RE = re.compile(
    rf"\s*(?:\[\s*(?:{_NOTE_WORDS})\s*\]|\(\s*(?:{_NOTE_WORDS})\s*\))", re.IGNORECASE
)


def notice_kind(title: str, publication_type: str = "") -> str:
    """``"erratum"``, ``"retraction"``, ``"comment"`` or ``""`` for an ordinary publication.

    Read from the publication type when a database gives one that is unambiguous
    (``Published Erratum``), else from the title's opening words (``Erratum:``,
    ``Notice of retraction``, ``Comment on``, ``Re:``, ``Reply to``, ``Authors' reply``).
    A plain *letter* is not a notice: the same letter is often typed "Letter" by one
    database and "Journal Article" by another.
    """
    kind = _NOTICE_TYPES.get(publication_type.strip().lower(), "")
    if kind:
        return kind
    for name, pattern in _NOTICE_PATTERNS:
        if pattern.match(title):
            return name
    return ""


_MEETING_TYPE_RE = re.compile(
    r"conference|congress|meeting|proceeding|symposium|abstract|poster", re.IGNORECASE
)
_MEETING_JOURNAL_RE = re.compile(
    r"\b(?:abstracts?|conference|congress|meeting|proceedings|symposium|annual scientific)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=65536)
def is_meeting_abstract(publication_type: str, journal: str, issue: str = "") -> bool:
    """True when a record says it is a conference/meeting abstract.

    Read from the publication type, the journal name (``… Abstracts``, ``Conference: …``)
    or an issue such as ``Meeting Abstracts``.
    """
    return bool(
        (publication_type and _MEETING_TYPE_RE.search(publication_type))
        or (journal and _MEETING_JOURNAL_RE.search(journal))
        or (issue and _MEETING_JOURNAL_RE.search(issue.replace("Abstracts", " Abstracts")))
    )


def title_for_matching(title: str) -> str:
    """The folded title without notice words, brackets and language notes."""
    if not title:
        return ""
    text = title.strip()
    if "[" in text or "(" in text:
        without_notes = _TITLE_NOTE_RE.sub(" ", text)
        if len(without_notes) >= 10:
            text = without_notes
    stripped = _LEADING_NOTICE_RE.sub("", text, count=1)
    if len(stripped) >= 10:  # keep titles that are only a notice word ("Erratum")
        text = stripped
    return fold(text)


_ROMAN = frozenset(["ii", "iii", "iv", "vi", "vii", "viii", "ix", "xi", "xii", "xiii", "xiv", "xv"])
_NUMBER_CONTEXT = frozenset(["part", "phase", "type", "stage", "grade", "study", "trial", "series"])


_DIGITS_RE = re.compile(r"\d+")


def title_numbers(title: str) -> str:
    """The numbers of a folded title, in order, as one string of digits.

    Digits are read wherever they stand and joined, so spacing doesn't matter
    (``10 000`` = ``10000``, ``Mecp2(1lox)`` = ``Mecp21lox``); roman numerals count from
    ``ii`` (or ``i`` after "part", "phase", "type", …). Two titles alike except for their
    numbers are usually different papers (``Part I`` / ``Part II``, ``type 1`` / ``type 2``).
    """
    tokens = title.split()
    if _ROMAN.isdisjoint(tokens) and _NUMBER_CONTEXT.isdisjoint(tokens):
        return "".join(_DIGITS_RE.findall(title))
    out: list[str] = []
    previous = ""
    for token in tokens:
        if not token.isalpha():
            out.extend(_DIGITS_RE.findall(token))
        elif token in _ROMAN or (token in ("i", "v", "x") and previous in _NUMBER_CONTEXT):
            out.append(_roman_to_int(token))
        previous = token
    return "".join(out)


def _roman_to_int(token: str) -> str:
    values = {"i": 1, "v": 5, "x": 10}
    total = 0
    for i, char in enumerate(token):
        value = values[char]
        if i + 1 < len(token) and values[token[i + 1]] > value:
            total -= value
        else:
            total += value
    return str(total)


# ------------------------------------------------------------------- pages, volume, issue

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
_PLAIN_RANGE_RE = re.compile(r"(\d{1,9})(?:-(\d{1,9}))?$")
_DAY_MONTH_RE = re.compile(r"^\s*(\d{1,2})-([A-Za-z]{3})\s*$")
_MONTH_YEAR_RE = re.compile(r"^\s*([A-Za-z]{3})-(\d{1,2})\s*$")
_RANGE_RE = re.compile(
    r"^\s*(?:pp?\.?\s*)?([A-Za-z]{0,4})(\d{1,9})[A-Za-z]?"
    r"(?:\s*[-\u2010-\u2015]+\s*(?:[A-Za-z]{0,4})(\d{1,9}))?"
)
# Prefixes that number pages like plain pages do (supplements S12, roman front matter iii4).
_PAGE_PREFIXES = frozenset({"", "s", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii"})


@dataclass(frozen=True, slots=True)
class Pages:
    """A first and last page, and whether they count pages or name an article.

    ``article`` is true for electronic article numbers (``e0192222``, ``a1754``, a lone
    number of five digits or more); these cannot be compared with printed pages.
    """

    first: int
    last: int
    article: bool


def parse_pages(pages: str) -> Pages | None:
    """Read a pages field; ``None`` when it can't be read (``Suppl-6``, ``t-8``, empty).

    ``123-30`` → 123-130; ``S145-S146`` → 145-146; ``e1234`` → article 1234;
    ``06-Oct`` (a spreadsheet's date for 6-10) → 6-10; ``Nov-19`` (for 11-19) → 11-19.
    """
    if not pages:
        return None
    match = _PLAIN_RANGE_RE.match(pages)
    if match:  # the common "123-130" / "123-30" / "123"
        first_text, last_text = match.groups()
        if not last_text:
            return Pages(int(first_text), int(first_text), len(first_text) >= 5)
        return _expand(int(first_text), last_text, False)
    match = _DAY_MONTH_RE.match(pages)
    if match and match.group(2).lower() in _MONTHS:
        return _expand(int(match.group(1)), str(_MONTHS[match.group(2).lower()]), False)
    match = _MONTH_YEAR_RE.match(pages)
    if match and match.group(1).lower() in _MONTHS:
        return _expand(_MONTHS[match.group(1).lower()], match.group(2), False)
    match = _RANGE_RE.match(pages)
    if not match:
        return None
    prefix, first_text, last_text = match.groups()
    first = int(first_text)
    article = prefix.lower() not in _PAGE_PREFIXES or (not last_text and len(first_text) >= 5)
    if not last_text:
        return Pages(first, first, article)
    return _expand(first, last_text, article)


def _expand(first: int, last_text: str, article: bool) -> Pages:
    """``221-8`` → 221-228: a last page shorter than the first borrows its leading digits."""
    first_text = str(first)
    last = int(last_text)
    if last < first and len(last_text) < len(first_text):
        last = int(first_text[: len(first_text) - len(last_text)] + last_text)
    if last < first:
        last = first
    return Pages(first, last, article)


def first_page(pages: str) -> str:
    """The first page as a string of digits, or ``""`` when it can't be read."""
    parsed = parse_pages(pages)
    return str(parsed.first) if parsed else ""


def compare_pages(a: Pages | None, b: Pages | None) -> bool | None:
    """``True`` same first page, ``False`` ranges that can't be the same article, else ``None``.

    Ranges that overlap without the same first page (``945-948`` / ``948-961``, or a
    single page inside the other's range) are no evidence either way; neither are an
    article number and printed pages.
    """
    if a is None or b is None or a.article != b.article:
        return None
    if a.first == b.first:
        return True
    if a.first <= b.last and b.first <= a.last:
        return None
    return False


_NUMBER_RE = re.compile(r"\d+")


def first_number(value: str) -> str:
    """First run of digits without leading zeros (``"19 Suppl 2"`` → ``"19"``).

    A fragment such as ``1)`` (the tail of ``58 (Supplement 1)`` cut by an export) says
    nothing about the volume and gives ``""``.
    """
    if not value:
        return ""
    if value.isdigit():
        return value.lstrip("0") or "0"
    if ")" in value and "(" not in value:
        return ""
    match = _NUMBER_RE.search(value)
    if not match:
        return ""
    return match.group(0).lstrip("0") or "0"


_SUPPL_RE = re.compile(r"suppl|supplement|\bS\d", re.IGNORECASE)


def is_supplement(volume: str, issue: str, pages: str) -> bool:
    """True when the volume, issue or pages point at a supplement (meeting abstracts live there)."""
    if (volume.isdigit() or not volume) and (issue.isdigit() or not issue):
        return pages[:1] in ("S", "s") and pages[1:2].isdigit()
    return bool(_SUPPL_RE.search(f"{volume} {issue}") or re.match(r"\s*S\d", pages))


# ------------------------------------------------------------------------------- journals

_JOURNAL_DROP = frozenset({"the", "of", "and", "in", "for", "on", "de", "la", "y", "et", "und"})


_JOURNAL_SUBTITLE_RE = re.compile(r"\s[=:]\s|\.\s*[=:]")
#: A qualifier in brackets: "Nutr Metab (Lond)", "J Med (Online)", "Stroke [Electronic]".
_JOURNAL_QUALIFIER_RE = re.compile(r"\s*[(\[][^)\]]*[)\]]")
#: A possessive's apostrophe: "Alzheimer's" and "Alzheimers" are one word.
_APOSTROPHE_RE = re.compile(r"(?<=\w)['\u2019\u02bc`](?=s\b)")


@lru_cache(maxsize=65536)
def journal_tokens(journal: str) -> tuple[str, ...]:
    """Folded journal words without connectives, cut at a ``=`` or ``:`` subtitle, without a
    qualifier in brackets."""
    if not journal:
        return ()
    head = _JOURNAL_SUBTITLE_RE.split(journal, maxsplit=1)[0]
    words: list[str] = []
    head = _JOURNAL_QUALIFIER_RE.sub(" ", _APOSTROPHE_RE.sub("", head))
    for t in fold(head).split():
        if t not in _JOURNAL_DROP and (not words or words[-1] != t):
            words.append(t)  # a word written twice ("Transl Psychiatry Psychiatry") once
    return tuple(words)


def journals_compatible(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Same journal, allowing one name to be an abbreviation of the other.

    Each word of one form must start the matching word of the other, in order
    (``curr opin lipidol`` ~ ``current opinion lipidology``; words of the fuller form may be
    skipped), or one is the acronym of the other (``bmj`` ~ ``british medical journal``).
    Spelling variants of a long word count as the same word (``logopaedica`` /
    ``logopedica``). ``j neurosci`` ~ ``journal of the neurological sciences`` is *not*
    accepted: ``neurosci`` doesn't start ``neurological``.
    """
    if not a or not b:
        return False
    if a == b:
        return True
    short, long_ = (a, b) if len("".join(a)) <= len("".join(b)) else (b, a)
    if len(short) == 1 and len(short[0]) >= 3 and short[0] == "".join(w[0] for w in long_):
        return True  # an acronym: BMJ, JAMA, JPEN
    return _abbreviates(short, long_) or _abbreviates(long_, short)


def _abbreviates(short: tuple[str, ...], long_: tuple[str, ...]) -> bool:
    """Whether each word of ``short`` starts (or is a variant of) a word of ``long_``, in
    order."""
    i = 0
    for word in short:
        while i < len(long_) and not _word_abbreviates(word, long_[i]):
            i += 1
        if i == len(long_):
            return False
        i += 1
    return True


def _word_abbreviates(word: str, full: str) -> bool:
    if full.startswith(word):
        return True
    return min(len(word), len(full)) >= 7 and Indel.normalized_similarity(word, full) >= 0.9


# -------------------------------------------------------------------------------- authors

_ANONYMOUS = frozenset({"anonymous", "anon", "unknown", "noauthorshipindicated", "etal", "null"})


def author_parts(author: str) -> tuple[str, str]:
    """``("family", "initial")`` of one ``Family, Given`` author, folded; ``("", "")`` if none.
    A name without a comma is read as MEDLINE writes it (``Zheng AZ``) or given names first
    (``A.Z. Zheng``, ``Alvin Zuyin Zheng``).

    The family name keeps its letters only (``van den Bent`` → ``vandenbent``) so particles
    and hyphens don't matter; the initial is the first letter of the given names.
    """
    if not author:
        return ("", "")
    family, comma, given = author.partition(",")
    if not comma:
        family, given = _split_uncommaed(author)
    if family.isascii() and family.isalpha():  # the common case, without regular expressions
        family_folded = family.lower()
    else:
        family_folded = fold(family).replace(" ", "")
    if not family_folded or family_folded in _ANONYMOUS:
        return ("", "")
    given = given.lstrip(" .-")
    initial = given[:1].lower()
    if initial and not (initial.isascii() and initial.isalpha()):
        initial = fold(given)[:1]
    return (family_folded, initial)


_ORGANISATION_RE = re.compile(
    r"\b(?:group|consortium|collaborat\w*|committee|society|investigators|association|network"
    r"|team|trial|study|council|institute|organi[sz]ation|anonymous)\b",
    re.IGNORECASE,
)


def _split_uncommaed(author: str) -> tuple[str, str]:
    """``(family, given)`` of a name written without a comma: ``Zheng AZ`` (MEDLINE's
    family name and initials), ``A.Z. Zheng`` or ``Alvin Zuyin Zheng`` (given names first).
    An organisation ("FUTURE II Study Group") or a single word stays whole."""
    tokens = [t for t in (t.strip(".") for t in author.replace(".", ". ").split()) if t]
    if len(tokens) < 2 or len(tokens) > 4 or _ORGANISATION_RE.search(author):
        return author, ""
    last = tokens[-1]
    initials = last.isalpha() and last.isupper() and len(last) <= 3
    if initials and (not tokens[0].isupper() or len(tokens[0]) > 3):
        return " ".join(tokens[:-1]), last  # "Zheng AZ", "Ghelardi A.", "ZHENG AZ"
    return last, " ".join(tokens[:-1])


# ----------------------------------------------------------------------------------- DOIs

_DOI_SUFFIX_RE = re.compile(
    r"(?:[./](?:s\d{1,3}|sup+l?\d*|supplementary[-_a-z0-9]*|suppl_file.*|figures?.*|t\d{1,3}"
    r"|g\d{1,3}|abstract|full|pdf|html?|epub)|\[doi\]|\.)$"
)


def match_doi(doi: str) -> str:
    """A DOI reduced for comparison: normalised, without supplementary-file suffixes."""
    if "&" in doi:
        doi = html.unescape(doi)  # "&lt;73::aid-ajmg16&gt;" in old Wiley DOIs
    doi = normalise_doi(doi)
    for _ in range(2):
        shorter = _DOI_SUFFIX_RE.sub("", doi)
        if shorter == doi:
            break
        doi = shorter
    return doi


def dois_compatible(a: str, b: str) -> bool:
    """Equal DOIs, or one extends the other after a separator (a part or version of it)."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return long_.startswith(short) and long_[len(short)] in "./-_;"


# Words of titles that name a kind of item rather than what it is about: every issue of a
# journal has its "Editor's Comments", "Introduction", "Letter to the editor" or "Erratum",
# so two such records are one publication only if their volume, issue and pages agree.
_GENERIC_WORDS = frozenset(
    """
    a an and by for from in of on our the this to s
    editor editors editorial editorials guest comment comments commentary note notes
    introduction preface foreword prologue epilogue letter letters reply replies response
    responses rejoinder erratum errata corrigendum corrigenda correction corrections
    addendum issue information contents content table index front back matter cover
    masthead announcement announcements news reviewers referees acknowledgement
    acknowledgements acknowledgment acknowledgments thanks obituary memoriam book books
    review reviews abstracts proceedings conference program programme call papers special
    section president presidential message address welcome readers reader year volume
    """.split()  # noqa: SIM905 - a list of words reads best as text
)


def generic_title(title: str) -> bool:
    """Whether a (folded) title carries no information of its own: every word of it names
    a kind of item ("editor s comments", "letter to the editor", "introduction to this
    issue", "erratum"), numbers aside."""
    found = False
    for word in title.split():
        if word.isdigit():
            continue
        if word not in _GENERIC_WORDS:
            return False
        found = True
    return found
