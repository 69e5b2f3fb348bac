"""The audit trail in words: every action the code writes has its own sentence."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from reviewflow.reviews.audit_words import (
    SYSTEM,
    WORDS,
    Event,
    Ref,
    changes,
    describe,
    has_words,
    kind_of,
)

ROOT = Path(__file__).resolve().parents[2]
ACTION = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)+")
AUDIT_CALLS = {"record_audit", "record_audit_for_record", "audit_fields"}


def _strings(node: ast.AST) -> list[str]:
    """The action names an expression can give: a literal, either branch of ``a if c else
    b``, or the fixed start of an f-string (``f"admin.{model}.added"`` → ``admin.``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return [first.value + "*"]
    if isinstance(node, ast.Tuple):
        return [s for elt in node.elts for s in _strings(elt)]
    return []


def _called(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def collect_actions() -> set[str]:
    """Every audit action name the application code writes, read from its source: the
    ``action=`` of any call, the action argument of the ``_audit_*`` helpers, and values
    assigned to a variable named ``action``."""
    found: set[str] = set()
    for package in ("reviewflow", "screening", "extraction"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or "management" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                values: list[ast.AST] = []
                if isinstance(node, ast.Call):
                    values += [k.value for k in node.keywords if k.arg == "action"]
                    name = _called(node)
                    if name.startswith("_audit") and len(node.args) >= 3:
                        values.append(node.args[2])
                    if name in AUDIT_CALLS and node.args:
                        values += node.args
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name) and target.id == "action":
                            values.append(node.value)
                        elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                            for elt, value in zip(target.elts, node.value.elts, strict=False):
                                if isinstance(elt, ast.Name) and elt.id == "action":
                                    values.append(value)
                for value in values:
                    for text in _strings(value):
                        if ACTION.fullmatch(text.rstrip("*.")) or text.endswith(".*"):
                            found.add(text)
    return found


ACTIONS = sorted(collect_actions())


def test_the_collector_finds_the_actions_written_every_way():
    # A literal, a conditional, a helper's argument, a tuple assignment, an f-string family.
    for action in [
        "member.role_changed",
        "duplicate.separated",
        "form.created",
        "outcome.agreed",
        "consensus.saved",
        "admin.*",
    ]:
        assert action in ACTIONS
    assert len(ACTIONS) >= 60


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_in_the_code_has_its_own_words(action):
    name = action.replace("*", "thing.changed")
    assert has_words(name), f"{action} has no sentence in reviewflow/reviews/audit_words.py"
    sentence = describe(Event(action=name, actor="alice", target="record 5"))
    assert "—" not in sentence.text  # the unknown action's fallback
    assert kind_of(name) != "other", f"{action} belongs to no kind of the audit filter"


def test_every_word_function_survives_an_empty_or_odd_payload():
    for action in WORDS:
        for before, after in [(None, None), ({"x": [1, 2]}, {"stage": None}), ("?", 7)]:
            event = Event(action=action, actor=None, before=before, after=after)  # type: ignore[arg-type]
            assert describe(event).text.strip()


SENTENCES = [
    (
        Event(
            "member.role_changed",
            "alice",
            "bob",
            before={"role": "reviewer"},
            after={"role": "owner"},
        ),
        "alice changed bob's role from reviewer to owner",
    ),
    (
        Event(
            "search.imported",
            None,
            "PubMed: pubmed.nbib",
            after={"read": 645, "imported": 645, "rejected": 0, "format": "nbib"},
            initiator="alice",
        ),
        "alice imported 'pubmed.nbib' from PubMed: 645 records",
    ),
    (
        Event(
            "search.imported",
            None,
            "PubMed: pubmed.nbib",
            after={"imported": 1200, "rejected": 3},
        ),
        "The import of 'pubmed.nbib' from PubMed finished: 1,200 records (3 rejected lines)",
    ),
    (
        Event(
            "vote.cast",
            "bob",
            "record 123",
            "record",
            123,
            after={"stage": "title-abstract", "decision": "include", "reason": "", "note": ""},
        ),
        "bob voted include on record 123 (title-abstract)",
    ),
    (
        Event(
            "conflict.resolved",
            "carol",
            "record 9",
            "record",
            9,
            before={"stage": "full-text"},
            after={"decision": "exclude", "reason": "wrong population"},
        ),
        "carol resolved the conflict on record 9 (full-text): exclude (wrong population)",
    ),
    (
        Event(
            "dedup.run",
            None,
            "search 4",
            after={
                "compared": 700,
                "new_auto": 212,
                "new_pending": 14,
                "merged": 212,
                "pending": 20,
            },
        ),
        "Deduplication of search 4: 212 merged automatically, 14 wait for a person"
        " (see the duplicates)",
    ),
    (
        Event("records.merged_automatically", None, "3 records", after={"merges": [[1, 2]] * 3}),
        "3 records merged automatically into their duplicates (see the duplicates)",
    ),
    (
        Event(
            "duplicate.confirmed",
            "alice",
            "records 4 and 7",
            "pair",
            2,
            after={"decision": "confirmed", "primary": 7},
        ),
        "alice confirmed that record 4 and record 7 are duplicates (kept record 7)",
    ),
    (
        Event(
            "stage.settings_changed",
            "alice",
            "full-text",
            before={"blind": True, "reviewers_needed": 2},
            after={"blind": False, "reviewers_needed": 3},
        ),
        "alice changed the full-text settings: blind from yes to no; reviewers needed from 2 to 3",
    ),
    (
        Event("member.added", "olivia", "rachel", after={"role": "reviewer"}),
        "olivia added rachel as reviewer",
    ),
    (
        Event(
            "extraction.submitted",
            "rachel",
            "record 12, Outcomes (version 2)",
            "extraction",
            40,
            after={"fields": ["n", "mean"]},
        ),
        "rachel submitted their extraction of record 12 (Outcomes (version 2)); fields: n, mean",
    ),
    (
        Event(
            "admin.membership.changed",
            "root",
            "rachel (owner) in X",
            before={"role": "reviewer"},
            after={"role": "owner"},
        ),
        "root changed the membership 'rachel (owner) in X' in the admin site:"
        " role from reviewer to owner",
    ),
    (
        Event(
            "outcome.agreed",
            None,
            "record 3",
            "record",
            3,
            after={"stage": "title-abstract", "decision": "exclude"},
        ),
        "The reviewers agreed on record 3 (title-abstract): exclude",
    ),
]


@pytest.mark.parametrize(("event", "text"), SENTENCES, ids=[e.action for e, _ in SENTENCES])
def test_sentence_says_what_happened(event, text):
    assert describe(event).text == text


def test_a_record_in_a_sentence_is_a_reference_the_page_links():
    parts = describe(SENTENCES[3][0]).parts
    assert Ref("record", "record 123", id=123) in parts


def test_a_blinded_vote_says_who_voted_but_not_how():
    hidden = {"hidden": "blind screening: shown once the record is settled"}
    text = describe(Event("vote.cast", "bob", "record 5", "record", 5, after=hidden)).text
    assert text == "bob voted on record 5 (hidden: blind screening, until it is settled)"
    undone = describe(Event("vote.undone", "bob", "record 5", "record", 5, before=hidden)).text
    assert "include" not in undone and "exclude" not in undone and "hidden" in undone


def test_an_unknown_action_gets_a_readable_sentence():
    text = describe(
        Event("question.answered", "rachel", "record 8", "record", 8, after={"answer": "yes"})
    ).text
    assert text == "rachel — question: answered on record 8: answer: yes"
    odd = describe(Event("weird", None, "", before=["not", "a", "dict"])).text  # type: ignore[arg-type]
    assert odd == f"{SYSTEM} — weird"


def test_changes_name_each_field_that_moved():
    assert changes({"a": 1, "b": "x"}, {"a": 2, "b": "x", "c": None}) == "a from 1 to 2; c: nothing"
    assert changes({"title": "Old"}, None) == "title was Old"
    assert changes({"pairs": list(range(500))}, {}) == "pairs was 500 items"
