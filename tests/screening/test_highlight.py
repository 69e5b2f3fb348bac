"""Term highlighting (pure Python, no database): matching rules, overlaps, escaping, speed."""

from __future__ import annotations

import timeit
import unicodedata
from collections.abc import Sequence

import pytest
from django.utils.safestring import SafeString

from screening.highlight import compile_terms


def inc(text: str) -> str:
    return f'<mark class="hl-include">{text}</mark>'


def exc(text: str) -> str:
    return f'<mark class="hl-exclude">{text}</mark>'


def highlight(text: str, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> str:
    return str(compile_terms(include, exclude).highlight(text))


# ------------------------------------------------------------------------------ matching


def test_trailing_wildcard_marks_the_word_and_stops_at_a_hyphen():
    assert highlight("Mesenchymal-derived cells; mesenchymal.", ["mesenchymal*"]) == (
        f"{inc('Mesenchymal')}-derived cells; {inc('mesenchymal')}."
    )


def test_wildcards_on_both_sides_mark_the_whole_word():
    assert highlight("Osteoblasts, fibroblast and blast cells", [], ["*blast*"]) == (
        f"{exc('Osteoblasts')}, {exc('fibroblast')} and {exc('blast')} cells"
    )


def test_a_wildcard_in_the_middle():
    assert highlight("randomised or randomized, not random", ["random*ed"]) == (
        f"{inc('randomised')} or {inc('randomized')}, not random"
    )


def test_a_term_matches_whole_words_only():
    assert (
        highlight("excellent cells in the cell", ["cell"])
        == f"excellent cells in the {inc('cell')}"
    )
    assert highlight("excellent cells", ["cell*"]) == f"excellent {inc('cells')}"


def test_a_lone_star_word_is_one_word():
    assert highlight("stem cell therapy, stem therapy", ["stem * therapy"]) == (
        f"{inc('stem cell therapy')}, stem therapy"
    )


def test_multi_word_terms_match_across_any_whitespace():
    text = "Human stem\n  cells and stem\tcell-based therapy"
    assert highlight(text, ["stem cell*"]) == (
        "Human " + inc("stem\n  cells") + " and " + inc("stem\tcell") + "-based therapy"
    )


def test_case_and_accents_do_not_matter_and_the_original_is_kept():
    text = "STROMAL and Strómal cells (Müller, Muller)"
    assert highlight(text, ["stromal", "müller"]) == (
        f"{inc('STROMAL')} and {inc('Strómal')} cells ({inc('Müller')}, {inc('Muller')})"
    )
    assert highlight("Müller glia", ["Muller"]) == f"{inc('Müller')} glia"


def test_decomposed_accents_are_wrapped_with_their_letter():
    text = unicodedata.normalize("NFD", "strómal Müller")
    assert len(text) == 16  # two combining marks
    assert highlight(text, ["stromal", "muller"]) == f"{inc(text[:8])} {inc(text[9:])}"


def test_letters_that_fold_to_two_letters_are_wrapped_whole():
    assert highlight("Straße, Œdema and ﬁbroblasts", ["strasse", "oedema", "fibroblast*"]) == (
        f"{inc('Straße')}, {inc('Œdema')} and {inc('ﬁbroblasts')}"
    )


def test_blank_items_are_ignored_and_terms_are_stripped():
    highlighter = compile_terms(["", "   ", "  cell  "], ["\t"])
    assert str(highlighter.highlight("a cell")) == f"a {inc('cell')}"


def test_no_terms_is_empty_and_still_escapes():
    highlighter = compile_terms(["", " "], [])
    assert highlighter.is_empty
    assert str(highlighter.highlight("<i>x</i>")) == "&lt;i&gt;x&lt;/i&gt;"
    assert not compile_terms(["cell"], []).is_empty


def test_terms_of_only_wildcards_are_ignored():
    assert compile_terms(["*", "**", "* *"], []).is_empty


def test_compiled_terms_are_reused():
    assert compile_terms(["cell*"], ["rat"]) is compile_terms(("cell*",), ["rat"])


def test_the_result_is_a_safe_string():
    assert isinstance(compile_terms(["cell"], []).highlight("cell"), SafeString)


def test_empty_text():
    assert highlight("", ["cell"]) == ""


# ------------------------------------------------------------------------------ overlaps


def test_the_longest_overlapping_match_wins():
    text = "mesenchymal stem cells"
    assert highlight(text, ["mesenchymal stem cell*"], ["stem"]) == inc(text)
    assert highlight(text, ["stem"], ["mesenchymal stem cell*"]) == exc(text)


def test_a_partly_overlapping_shorter_match_is_dropped_whole():
    assert highlight("stem cell therapy", ["stem cell"], ["cell therapy"]) == (
        f"stem {exc('cell therapy')}"
    )


def test_on_a_tie_exclude_wins():
    assert highlight("rat cells", ["cell*"], ["cells"]) == f"rat {exc('cells')}"
    assert highlight("rat cells", ["rat"], ["rat"]) == f"{exc('rat')} cells"


def test_matches_that_do_not_overlap_are_all_kept():
    assert highlight("rat and mouse and rat", ["mouse"], ["rat"]) == (
        f"{exc('rat')} and {inc('mouse')} and {exc('rat')}"
    )


# ------------------------------------------------------------------------------ security


def test_markup_in_the_text_is_escaped_inside_and_outside_marks():
    text = '<script>alert(1)</script> Stem cells <img src=x onerror="alert(2)">'
    assert highlight(text, ["stem cell*", "<script>alert(1)"]) == (
        inc("&lt;script&gt;alert(1)")
        + "&lt;/script&gt; "
        + inc("Stem cells")
        + " &lt;img src=x onerror=&quot;alert(2)&quot;&gt;"
    )


def test_a_term_cannot_inject_markup():
    out = highlight("bold <b>here</b> and R&D", ["<b>", 'x" onclick="y'], ["r&d"])
    assert out == f"bold {inc('&lt;b&gt;')}here&lt;/b&gt; and {exc('R&amp;D')}"
    assert "<b>" not in highlight("no match", ["<b>"])
    assert highlight("""a x" onclick='y' b""", ["""x" onclick='y'"""]) == (
        f"a {inc('x&quot; onclick=&#x27;y&#x27;')} b"
    )


@pytest.mark.parametrize(
    "term",
    ["c++", "(", ")", "[", "a+b", "?", ".", "\\d", "\\", "^", "$", "|", "{2}", "(?i)x"],
)
def test_regex_metacharacters_in_terms_are_literal(term: str):
    text = "C++ (a+b)? [x] 1.5 \\d ^$| {2} (?i)x abc 123"
    out = highlight(text, [term])
    # Every character of the term is literal: whatever is marked is the term itself.
    marked = [part.split("</mark>")[0] for part in out.split('<mark class="hl-include">')[1:]]
    assert marked
    assert {m.lower() for m in marked} == {term.replace("&", "&amp;").lower()}


def test_c_plus_plus_matches_as_a_word():
    assert highlight("C++ and c++11", ["c++"]) == f"{inc('C++')} and {inc('c++')}11"


def test_a_dot_term_does_not_match_any_character():
    assert highlight("abc 123", [".", "\\d", "[a-z]", "a|b"]) == "abc 123"


# ------------------------------------------------------------------------------ speed


# Written for this test in the manner of a trial abstract; about one word in twelve is a term.
ABSTRACT = (
    "Background: Type 2 diabetes remains a leading cause of morbidity despite advances in "
    "pharmacological treatment, and cell-based approaches have been proposed to restore "
    "endogenous insulin secretion. Methods: In this randomized, double-blind clinical trial "
    "we enrolled adults aged 30 to 65 years with a disease duration of less than ten years "
    "and assigned them to intravenous infusion of umbilical cord derived mesenchymal stromal "
    "cells or to placebo. The primary outcome was the change in fasting C-peptide at twelve "
    "months; secondary outcomes included HbA1c, daily insulin dose and adverse events. "
    "Results: Of 91 patients screened, 60 were randomized and 57 completed follow-up. "
    "Participants receiving cells showed a larger reduction in HbA1c and a modest rise in "
    "C-peptide, while the frequency of hypoglycaemia did not differ between the groups. "
    "No serious adverse event was attributed to the therapy, and the findings were "
    "consistent across the prespecified subgroups defined by age, sex and baseline body "
    "mass index. Conclusions: Infusion of stromal cells was safe and may preserve residual "
    "beta cell function; larger trials with longer follow-up are warranted. "
)
INCLUDE_TERMS = [
    "diabet*", "insulin*", "glucose", "glyc*", "islet*", "beta cell*", "stem cell*",
    "mesenchymal*", "strom*", "transplant*", "randomi*", "clinical trial", "patients",
    "type 1", "type 2", "hba1c", "c-peptide", "human", "therap*", "adipose", "bone marrow",
    "umbilical cord", "msc*", "regenerat*", "infusion",
]  # fmt: skip
EXCLUDE_TERMS = [
    "rat", "rats", "mice", "mouse", "murine", "in vitro", "animal*", "review", "editorial",
    "case report", "*blast*", "porcine", "canine", "cell line*", "protocol", "meta-analysis",
    "systematic review", "letter", "comment*", "zebrafish", "rodent*", "pig*", "dog*",
    "monkey*", "(",
]  # fmt: skip


def test_a_3000_character_abstract_with_50_terms_takes_well_under_a_millisecond():
    text = (ABSTRACT * 3)[:3000]
    highlighter = compile_terms(INCLUDE_TERMS, EXCLUDE_TERMS)
    assert len(INCLUDE_TERMS) + len(EXCLUDE_TERMS) == 50
    assert str(highlighter.highlight(text)).count("<mark") > 30
    # The best of many runs, so that a busy machine does not fail the test (0.2 ms here).
    seconds = min(timeit.repeat(lambda: highlighter.highlight(text), number=5, repeat=20)) / 5
    assert seconds < 0.001


def test_a_hostile_long_word_does_not_blow_up():
    highlighter = compile_terms(["a*b*c*d*e", "*b*b*b*x"], ["b*b*b*b*z"])
    text = "a" + "b" * 3000 + " " + "b" * 3000
    seconds = min(timeit.repeat(lambda: highlighter.highlight(text), number=1, repeat=3))
    assert str(highlighter.highlight(text)) == text
    assert seconds < 0.1  # polynomial backtracking would take minutes
