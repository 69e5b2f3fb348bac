"""The audit trail in words: one sentence per event, for the people who read it.

Pure functions (no ORM, no URLs): ``describe(event)`` turns what an audit event stores
(action, actor, target, before, after) into a ``Sentence``, a list of text and ``Ref``
parts; the view turns each ``Ref`` (a record, a search, the duplicates page…) into a
link. Every action the code base writes has its own words (``tests/reviewflow/
test_audit_words.py`` fails when one is added without them); an unknown action still gets a
readable sentence, never an error, because old rows outlive the code that wrote them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SYSTEM = "reviewflow"  # who acted when no person did (a background import, a deduplication)


@dataclass(frozen=True)
class Ref:
    """Something a sentence names that may have a page: ``kind`` is ``record``,
    ``search`` (by ``id``, or by ``key`` = the audit target "source: filename"),
    ``saved_search``, ``duplicates`` or ``searches``."""

    kind: str
    text: str
    id: int | None = None
    key: str = ""


Part = str | Ref


@dataclass(frozen=True)
class Event:
    """What the words read of one audit event."""

    action: str
    actor: str | None = None  # username; None: the system
    target: str = ""
    object_type: str = ""
    object_id: int | None = None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    # Whom a system event worked for (the person who uploaded the file an import read).
    initiator: str | None = None


@dataclass
class Sentence:
    parts: list[Part] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)

    def __str__(self) -> str:
        return self.text


# The kinds a reader filters by: key, label, and the action prefixes each covers (an
# action belongs to the first kind with a prefix it starts with).
KINDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("members", "Members", ("member.", "invitation.")),
    # Retraction checks (#21) keep a living review's studies current, as its searches do.
    ("imports", "Imports", ("search.", "saved_search.", "round.", "retraction_check.")),
    (
        "deduplication",
        "Deduplication",
        ("dedup.", "duplicate.", "records.merged_", "record.merged_", "record.unmerged"),
    ),
    ("conflicts", "Conflicts", ("conflict.",)),
    (
        "screening",
        "Screening",
        (
            "vote.",
            "outcome.",
            "pilot.",
            "screening.",
            "fulltext.",
            "question.",
            "answer.",
            "comment.",
            "records.",
            "record.",
            "label.applied",
            "label.removed",
        ),
    ),
    ("extraction", "Extraction", ("form.", "extraction.", "consensus.")),
    ("settings", "Settings", ("review.", "stage.", "label.", "prisma.", "admin.")),
)
KIND_LABELS = {key: label for key, label, _ in KINDS}


def kind_of(action: str) -> str:
    """The kind an action is filtered under ("other" when no kind claims it)."""
    for key, _, prefixes in KINDS:
        if action.startswith(prefixes):
            return key
    return "other"


HIDDEN_KEY = "hidden"  # the masked payload of a blinded vote (``mask_audit_events``)
_RECORD_IN = re.compile(r"\brecords? (\d+)")


def _q(value: Any) -> str:
    return f"'{value}'"


def _word(value: Any) -> str:
    """A stored value as a reader says it."""
    if value is None or value == "":
        return "nothing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return f"{value:,}" if isinstance(value, int) else str(value)
    if isinstance(value, list | tuple):
        if len(value) > 5:
            return f"{len(value)} items"
        return ", ".join(_word(v) for v in value) or "nothing"
    if isinstance(value, Mapping):
        return f"{len(value)} values"
    return str(value)


def _name(key: str) -> str:
    return key.replace("_", " ")


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    """The before/after diff in words: "title from 'A' to 'B'; blind from yes to no"."""
    before, after = before or {}, after or {}
    said = []
    for key in list(dict.fromkeys([*before, *after])):
        old, new = before.get(key), after.get(key)
        if key in before and key in after:
            if old == new:
                continue
            said.append(f"{_name(key)} from {_word(old)} to {_word(new)}")
        elif key in after:
            said.append(f"{_name(key)}: {_word(new)}")
        else:
            said.append(f"{_name(key)} was {_word(old)}")
    return "; ".join(said)


def _n(count: Any, one: str, many: str | None = None) -> str:
    if not isinstance(count, int):
        return f"? {many or one + 's'}"
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _stage(value: Any) -> str:
    return str(value) if value else "?"


def _record(event: Event, record_id: int | None = None) -> Ref:
    rid = record_id if record_id is not None else _record_id(event)
    return Ref("record", f"record {rid if rid is not None else '?'}", id=rid)


def _record_id(event: Event) -> int | None:
    if event.object_type == "record" and event.object_id is not None:
        return event.object_id
    found = _RECORD_IN.search(event.target)
    return int(found.group(1)) if found else None


def _records_in(target: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", target)]


def _search(event: Event) -> list[Part]:
    """'pubmed.nbib' from PubMed, from a target "PubMed: pubmed.nbib"."""
    source, sep, filename = event.target.partition(": ")
    text = f"{_q(filename)} from {source}" if sep else _q(event.target)
    return [Ref("search", text, key=event.target)]


def _hidden(event: Event) -> bool:
    return any(isinstance(d, Mapping) and HIDDEN_KEY in d for d in (event.before, event.after))


Words = Callable[[str, Event, Mapping[str, Any], Mapping[str, Any]], list[Part]]


def _reason(after: Mapping[str, Any]) -> str:
    return f" ({after['reason']})" if after.get("reason") else ""


# --- one function per action: (actor, event, before, after) -> parts -----------------------


def _review_created(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} created the review {_q(e.target)}"]


def _review_updated(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} changed the review's {changes(b, f) or 'settings'}"]


def _review_restored(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [
        f"{a} restored the review from a backup of {_q(f.get('from', '?'))}"
        f" made {f.get('created_at', '?')}"
    ]


def _member_added(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    who = "themselves" if e.target == a else e.target
    return [f"{a} added {who} as {f.get('role', 'member')}"]


def _member_role(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} changed {e.target}'s role from {b.get('role', '?')} to {f.get('role', '?')}"]


def _member_removed(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    role = f" ({b['role']})" if b.get("role") else ""
    return [f"{a} removed {e.target}{role} from the review"]


def _invited(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    expires = str(f.get("expires_at") or "")[:10]
    until = f", valid until {expires}" if expires else ""
    return [f"{a} invited {e.target} as {f.get('role', 'member')}{until}"]


def _uninvited(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} revoked the invitation of {e.target}"]


def _joined(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} accepted an invitation and joined as {f.get('role', 'member')}"]


def _search_created(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    fmt = f" ({f['format']})" if f.get("format") not in (None, "", "auto") else ""
    again = " as a new version of an earlier file" if f.get("supersedes") else ""
    return [f"{a} uploaded ", *_search(e), f"{fmt}{again}"]


def _search_imported(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    rejected = f.get("rejected")
    tail = f" ({_n(rejected, 'rejected line')})" if rejected else ""
    counts = f": {_n(f.get('imported'), 'record')}{tail}"
    if e.initiator:
        return [f"{e.initiator} imported ", *_search(e), counts]
    return ["The import of ", *_search(e), f" finished{counts}"]


def _search_restarted(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    silent = f.get("silent_for_seconds")
    why = f" after its worker was silent for {silent} s" if silent is not None else ""
    return ["The import of ", *_search(e), f" was restarted{why}"]


def _search_failed(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return ["The import of ", *_search(e), f" failed: {f.get('failure') or 'no reason given'}"]


def _search_deleted(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} deleted the search ", *_search(e), f" and its {_n(b.get('imported'), 'record')}"]


def _superseded(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    new, by = f.get("filename"), f.get("replaced_by")
    replaced: list[Part] = (
        [" was replaced by ", Ref("search", _q(new), id=by if isinstance(by, int) else None)]
        if new
        else [" was replaced"]
    )
    return [*_search(e), *replaced, f"; {_n(b.get('imported'), 'record')} removed"]


def _saved_created(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    query = f" ({f['query']})" if f.get("query") else ""
    return [f"{a} saved the database search ", _saved(e), query]


def _saved(e: Event) -> Ref:
    return Ref("saved_search", _q(e.target), id=e.object_id)


def _saved_asked(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} ran the saved search ", _saved(e)]


def _saved_ran(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    parts: list[Part] = [
        "The saved search ",
        _saved(e),
        f" fetched {_word(f.get('fetched'))} of {_n(f.get('reported'), 'record')}",
    ]
    if isinstance(f.get("search"), int):
        parts += [" into ", Ref("search", f"search {f['search']}", id=f["search"])]
    return parts


def _saved_failed(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return ["The saved search ", _saved(e), f" failed: {f.get('failure') or 'no reason given'}"]


def _dedup_run(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    found = re.fullmatch(r"search (\d+)", e.target)
    what: list[Part] = (
        ["Deduplication of ", Ref("search", e.target, id=int(found.group(1)))]
        if found
        else ["Deduplication of all records"]
    )
    pending = f.get("new_pending")
    return [
        *what,
        f": {_word(f.get('merged', 0))} merged automatically, "
        f"{_word(pending if pending is not None else 0)} "
        f"{'waits' if pending == 1 else 'wait'} for a person",
        " (",
        Ref("duplicates", "see the duplicates"),
        ")",
    ]


def _rules_applied(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [
        f"{a} applied the current matching rules to earlier automatic merges: "
        f"{_n(f.get('unmerged'), 'record')} unmerged, "
        f"{_n(f.get('requeued'), 'pair')} back in the queue (",
        Ref("duplicates", "see the duplicates"),
        ")",
    ]


def _auto_merged(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    merges = f.get("merges")
    counted = _records_in(e.target)
    n = len(merges) if isinstance(merges, list) else (counted[0] if counted else None)
    return [
        f"{_n(n, 'record')} merged automatically into their duplicates (",
        Ref("duplicates", "see the duplicates"),
        ")",
    ]


def _merged(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    ids = _records_in(e.target)
    primary = f.get("duplicate_of", ids[1] if len(ids) > 1 else None)
    late = " after it had been screened" if e.action == "record.merged_after_screening" else ""
    return [
        f"{a} merged ",
        _record(e),
        " into ",
        _record(e, primary if isinstance(primary, int) else None),
        late,
    ]


def _unmerged(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    primary = b.get("duplicate_of")
    returned = f.get("fields_returned") or []
    back = f"; fields given back: {_word(returned)}" if returned else ""
    return [
        f"{a} undid the merge of ",
        _record(e),
        " into ",
        _record(e, primary if isinstance(primary, int) else None),
        back,
    ]


def _pair_decided(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    ids = _records_in(e.target)
    first, second = (ids + [None, None])[:2]
    pair: list[Part] = [_record(e, first), " and ", _record(e, second)]
    if e.action == "duplicate.separated":
        return [f"{a} decided that ", *pair, " are different publications"]
    primary = f.get("primary")
    keep: list[Part] = [" (kept ", _record(e, primary), ")"] if isinstance(primary, int) else []
    return [f"{a} confirmed that ", *pair, " are duplicates", *keep]


def _voted(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    if _hidden(e):
        return [f"{a} voted on ", _record(e), " (hidden: blind screening, until it is settled)"]
    note = f"; note: {f['note']}" if f.get("note") else ""
    late = (
        f"; changed after the votes were shown (blind vote: {f.get('blind_decision')})"
        if f.get("after_reveal")
        else ""
    )
    return [
        f"{a} voted {f.get('decision', '?')} on ",
        _record(e),
        f" ({_stage(f.get('stage'))}){_reason(f)}{note}{late}",
    ]


def _vote_undone(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    if _hidden(e):
        return [f"{a} undid their vote on ", _record(e), " (hidden: blind screening)"]
    return [
        f"{a} undid their {b.get('decision', '?')} vote on ",
        _record(e),
        f" ({_stage(b.get('stage'))})",
    ]


def _vote_changed(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    if _hidden(e):
        return [f"{a} changed their vote on ", _record(e), " (hidden: blind screening)"]
    stage = f.get("stage") or b.get("stage")
    return [
        f"{a} changed their vote on ",
        _record(e),
        f" ({_stage(stage)}) from {b.get('decision', '?')} to {f.get('decision', '?')}{_reason(f)}",
    ]


def _agreed(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [
        "The reviewers agreed on ",
        _record(e),
        f" ({_stage(f.get('stage'))}): {f.get('decision', '?')}",
    ]


def _conflict_opened(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    late = " (a vote changed after the votes were shown)" if f.get("changed_after_reveal") else ""
    return ["The reviewers disagreed on ", _record(e), f" ({_stage(f.get('stage'))}){late}"]


def _resolved(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    stage = f" ({b['stage']})" if b.get("stage") else ""
    return [
        f"{a} resolved the conflict on ",
        _record(e),
        f"{stage}: {f.get('decision', '?')}{_reason(f)}",
    ]


def _pilot_started(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} started a pilot round of {_n(f.get('size'), 'record')} at {e.target}"]


def _pilot_closed(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} closed the pilot round at {e.target} ({_n(f.get('votes'), 'vote')})"]


def _stopped(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    rule = f" by the rule: {f['rule_said']}" if f.get("rule_said") else ""
    return [
        f"{a} stopped screening early at {e.target}: "
        f"{_n(f.get('records_excluded'), 'unscreened record')} excluded{rule}"
    ]


def _stop_undone(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [
        f"{a} undid the early stop at {e.target}: "
        f"{_n(f.get('records_back'), 'record')} unscreened again"
    ]


def _random_sample(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [
        f"{a} started the random sample at {e.target}: the "
        f"{_n(f.get('remaining'), 'unscreened record')} now come in a random order, for the "
        "two-phase stopping rule"
    ]


def _work_assigned(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    due = f" due {f['due_date']}" if f.get("due_date") else ""
    return [
        f"{a} assigned {_n(f.get('records'), 'record')} at {_stage(e.target)} "
        f"({_word(f.get('mode'))}) to {_word(f.get('reviewers'))}: "
        f"{_n(f.get('assignments'), 'assignment')}{due}"
    ]


def _work_reassigned(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [
        f"{a} moved the open work of {_word(f.get('from'))} at {_stage(e.target)} "
        f"({_n(f.get('released'), 'assignment')}) to {_word(f.get('to'))}: "
        f"{_n(f.get('assignments'), 'new assignment')}"
    ]


def _assignments_removed(
    a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]
) -> list[Part]:
    return [
        f"{a} removed {_n(f.get('assignments'), 'open assignment')} of "
        f"{_word(f.get('reviewer'))} at {_stage(e.target)} (their votes stay)"
    ]


def _stage_settings(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} changed the {e.target} settings: {changes(b, f) or 'no change'}"]


def _prisma_counts(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} changed the PRISMA counts entered by hand: {changes(b, f) or 'no change'}"]


def _prisma_round_counts(
    a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]
) -> list[Part]:
    of = e.target or "an update round"
    return [
        f"{a} changed the PRISMA counts entered by hand for {of}: {changes(b, f) or 'no change'}"
    ]


def _attached(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    via = {"unpaywall": "Unpaywall", "openalex": "OpenAlex", "europepmc": "Europe PMC"}.get(
        str(f.get("source"))
    )
    tail = [f" (an open-access copy found in {via})"] if via else []
    return [f"{a} attached the full text {_q(f.get('file', '?'))} to ", _record(e), *tail]


def _not_retrieved(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    note = f" ({f['note']})" if f.get("note") else ""
    return [f"{a} marked the full text of ", _record(e), f" as not retrieved{note}"]


def _pdfs_uploaded(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} uploaded {_n(f.get('files'), 'PDF')} to match to their records"]


def _pdfs_matched(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    unsure = _n(f.get("unsure"), "unsure match", "unsure matches")
    return [
        f"The matching of {e.target or 'a PDF batch'} finished: "
        f"{_n(f.get('attached'), 'PDF')} attached, {unsure}, "
        f"{_n(f.get('unmatched'), 'unmatched PDF')}"
    ]


def _oa_started(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} looked for open-access copies of {_n(f.get('records'), 'record')} without a PDF"]


def _oa_finished(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [
        f"The look-up of {e.target or 'open-access copies'} finished: "
        f"{_n(f.get('attached'), 'PDF')} attached, "
        f"{_n(f.get('not_found'), 'record')} with no open-access copy, "
        f"{_n(f.get('failed'), 'record')} failed"
    ]


def _pdf_resolved(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    record = f.get("record")
    if isinstance(record, int):
        return [f"{a} attached the uploaded PDF {_q(e.target or '?')} to ", _record(e, record)]
    return [f"{a} matched the uploaded PDF {_q(e.target or '?')} to no record"]


def _study_linked(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    other = f.get("same_study_as")
    if isinstance(other, int):
        return [f"{a} said ", _record(e), " reports the same study as ", _record(e, other)]
    return [f"{a} said ", _record(e), " reports a study of its own"]


def _label_created(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} created the label {_q(e.target)}"]


def _label_changed(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} changed the label {_q(e.target)}: {changes(b, f) or 'no change'}"]


def _label_deleted(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    return [f"{a} deleted the label {_q(e.target)} (it was on {_n(b.get('records'), 'record')})"]


_FORM_WORDS = {
    "form.created": "created the extraction form",
    "form.updated": "edited the draft of",
    "form.published": "published",
    "form.draft_deleted": "deleted the draft of",
}


def _form(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    if e.action == "form.superseded":
        return [f"{e.target} was replaced by version {_word(f.get('by_version'))}"]
    if e.action == "form.version_created":
        return [f"{a} started {e.target} from version {_word(f.get('from_version'))}"]
    return [f"{a} {_FORM_WORDS[e.action]} {e.target}"]


def _grade_saved(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    rating = str(f.get("certainty") or "?").replace("_", " ")
    return [f"{a} rated the certainty of {_q(f.get('outcome') or '?')} in {e.target}: {rating}"]


_GRADE_METHODS = {
    "FE": "fixed effect (inverse variance)",
    "MH": "fixed effect (Mantel–Haenszel)",
    "DL": "random effects (DerSimonian–Laird)",
    "REML": "random effects (REML)",
}
_CONTROL_RISKS = {
    "pooled": "the control arms pooled",
    "median": "the median of the control arms",
    "mean": "the mean of the control arms",
}


def _grade_settings_saved(
    a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]
) -> list[Part]:
    method = _GRADE_METHODS.get(str(f.get("method")), _word(f.get("method")))
    if f.get("knha"):
        method += " with Hartung–Knapp"
    risk = f.get("control_risk")
    if risk == "typed":
        per_1000 = f.get("control_risk_per_1000")
        acr = f"{per_1000:g} per 1,000" if isinstance(per_1000, int | float) else "?"
        acr += f" from {_q(f.get('control_risk_source'))}"
    else:
        acr = _CONTROL_RISKS.get(str(risk), _word(risk))
    return [
        f"{a} set how {_q(f.get('outcome') or '?')} in {e.target} is pooled: {method}; "
        f"assumed control risk {acr}"
    ]


def _study(e: Event) -> list[Part]:
    """ "record 12, Form (version 2)" → a record link and the form's name."""
    rid = _record_id(e)
    _, _, form = e.target.partition(", ")
    return [_record(e, rid), f" ({form})" if form else ""]


_EXTRACTION_WORDS = {
    "extraction.started": "started an extraction of",
    "extraction.saved": "saved their extraction of",
    "extraction.submitted": "submitted their extraction of",
    "extraction.reopened": "reopened the extraction of",
}


def _extraction(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    if e.action == "extraction.assigned":
        return [f"{a} assigned {f.get('extractor', '?')} to extract ", *_study(e)]
    if e.action == "extraction.unassigned":
        return [f"{a} took ", *_study(e), f" away from {b.get('extractor', '?')}"]
    if e.action == "extraction.carried":
        return [
            f"{a} carried their extraction of ",
            *_study(e),
            f" over from version {_word(f.get('from_version'))}",
        ]
    fields = f.get("fields")
    which = f"; fields: {_word(fields)}" if fields else ""
    return [f"{a} {_EXTRACTION_WORDS[e.action]} ", *_study(e), which]


_CONSENSUS_WORDS = {
    "consensus.opened": "The consensus of",
    "consensus.refreshed": "The consensus of",
    "consensus.finalised": "finalised the consensus of",
    "consensus.reopened": "reopened the consensus of",
    "consensus.saved": "saved the consensus of",
}


def _consensus(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    if e.action == "consensus.opened":
        return [
            "The consensus of ",
            *_study(e),
            " was opened with the values the extractors agreed on",
        ]
    if e.action == "consensus.refreshed":
        return ["The consensus of ", *_study(e), " was refreshed from resubmitted extractions"]
    if e.actor is None and e.action == "consensus.finalised":
        return ["The consensus of ", *_study(e), " was final at once (one extractor)"]
    return [f"{a} {_CONSENSUS_WORDS[e.action]} ", *_study(e)]


def _invitation_sent(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    if e.action == "invitation.resent":
        return [f"{a} sent the invitation to {e.target} again"]
    return [f"{a} e-mailed an invitation to {e.target} as {f.get('role', 'member')}"]


def _email_failed(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    tries = f" after {_n(f.get('attempts'), 'attempt')}" if f.get("attempts") else ""
    return [
        f"The invitation e-mail to {e.target} could not be sent{tries}: "
        f"{f.get('error') or 'no reason given'}"
    ]


def _round_started(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    label = f" ({f['label']})" if f.get("label") else ""
    return [f"{a} started update round {_word(f.get('number', '?'))}{label} of the review"]


def _comment(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    data = f or b
    rid = data.get("record")
    record = _record(e, rid if isinstance(rid, int) else None)
    stage = f" ({data['stage']})" if data.get("stage") else ""
    mentions = data.get("mentions") or []
    named = f", mentioning {_word(mentions)}" if mentions and e.action != "comment.deleted" else ""
    verb = {
        "comment.added": "commented on",
        "comment.edited": "edited their comment on",
        "comment.deleted": "deleted a comment on",
    }[e.action]
    return [f"{a} {verb} ", record, f"{stage}{named}"]


def _question(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    what = f"the screening question {_q(e.target)}"
    if e.action == "question.created":
        stage = f" at {f['stage']}" if f.get("stage") else ""
        return [f"{a} added {what}{stage}"]
    if e.action == "question.moved":
        return [
            f"{a} moved {what} from place {_word(b.get('position'))}"
            f" to place {_word(f.get('position'))}"
        ]
    if e.action == "question.deleted":
        return [f"{a} deleted {what} and its {_n(b.get('answers'), 'answer')}"]
    return [f"{a} changed {what}: {changes(b, f) or 'no change'}"]


def _label_bulk(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    chosen = f" (selected: {f['selection']})" if f.get("selection") else ""
    if e.action == "label.removed_in_bulk":
        return [
            f"{a} took their label {_q(e.target)} off {_word(f.get('removed'))}"
            f" of {_n(f.get('records'), 'selected record')}{chosen}"
        ]
    return [
        f"{a} put the label {_q(e.target)} on {_n(f.get('records'), 'record')}"
        f" ({_word(f.get('added'))} new){chosen}"
    ]


def _saved_scheduled(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    schedule = f.get("schedule") or "never"
    when = str(f.get("next_run_at") or "")[:16].replace("T", " ")
    nxt = f"; next run {when}" if when else ""
    return [f"{a} set the saved search ", _saved(e), f" to run {_word(schedule)}{nxt}"]


def _admin(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    parts = e.action.split(".")
    model = parts[1] if len(parts) > 2 else "object"
    verb = {"added": "added", "changed": "changed", "deleted": "deleted"}.get(parts[-1], parts[-1])
    diff = changes(b, f)
    return [f"{a} {verb} the {model} {_q(e.target)} in the admin site{': ' + diff if diff else ''}"]


def _retraction_check(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    """Retraction watch (#21): a check asked for, finished or failed."""
    if e.action == "retraction_check.requested":
        why = " (an update round started)" if f.get("trigger") == "round start" else ""
        return [
            f"{a} asked for a check of the included studies against Crossref's retraction "
            f"and correction notices{why}"
        ]
    if e.action == "retraction_check.failed":
        return [f"The retraction check failed: {f.get('error') or 'no reason given'}"]
    return [
        f"The retraction check read {_n(f.get('records'), 'record')} and found "
        f"{_n(f.get('new_notices'), 'new notice')}"
    ]


def _notice_found(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    kind = str(f.get("label") or f.get("kind") or "notice").lower()
    doi = f" ({f['notice_doi']})" if f.get("notice_doi") else ""
    when = f", dated {f['date']}" if f.get("date") else ""
    return ["Crossref reports a ", f"{kind}{doi}{when} of ", _record(e)]


WORDS: dict[str, Words] = {
    "review.created": _review_created,
    "review.updated": _review_updated,
    "review.restored": _review_restored,
    "member.added": _member_added,
    "member.role_changed": _member_role,
    "member.removed": _member_removed,
    "invitation.created": _invited,
    "invitation.revoked": _uninvited,
    "invitation.accepted": _joined,
    "invitation.sent": _invitation_sent,
    "invitation.resent": _invitation_sent,
    "invitation.email_failed": _email_failed,
    "round.started": _round_started,
    "search.created": _search_created,
    "search.imported": _search_imported,
    "search.restarted": _search_restarted,
    "search.failed": _search_failed,
    "search.deleted": _search_deleted,
    "search.superseded": _superseded,
    "saved_search.created": _saved_created,
    "saved_search.run_requested": _saved_asked,
    "saved_search.ran": _saved_ran,
    "saved_search.failed": _saved_failed,
    "saved_search.scheduled": _saved_scheduled,
    "dedup.run": _dedup_run,
    "dedup.rules_applied": _rules_applied,
    "records.merged_automatically": _auto_merged,
    "record.merged_by_person": _merged,
    "record.merged_after_screening": _merged,
    "record.unmerged": _unmerged,
    "duplicate.confirmed": _pair_decided,
    "duplicate.separated": _pair_decided,
    "vote.cast": _voted,
    "vote.undone": _vote_undone,
    "vote.changed": _vote_changed,
    "outcome.agreed": _agreed,
    "conflict.opened": _conflict_opened,
    "conflict.resolved": _resolved,
    "pilot.started": _pilot_started,
    "pilot.closed": _pilot_closed,
    "screening.stopped_early": _stopped,
    "screening.random_sample_started": _random_sample,
    "screening.stop_undone": _stop_undone,
    "screening.work_assigned": _work_assigned,
    "screening.work_reassigned": _work_reassigned,
    "screening.assignments_removed": _assignments_removed,
    "stage.settings_changed": _stage_settings,
    "prisma.counts_changed": _prisma_counts,
    "prisma.round_counts_changed": _prisma_round_counts,
    "fulltext.attached": _attached,
    "fulltext.not_retrieved": _not_retrieved,
    "fulltext.study_linked": _study_linked,
    "fulltext.batch_uploaded": _pdfs_uploaded,
    "fulltext.batch_matched": _pdfs_matched,
    "fulltext.batch_resolved": _pdf_resolved,
    "fulltext.oa_started": _oa_started,
    "fulltext.oa_finished": _oa_finished,
    "retraction_check.requested": _retraction_check,
    "retraction_check.finished": _retraction_check,
    "retraction_check.failed": _retraction_check,
    "record.editorial_notice_found": _notice_found,
    "label.created": _label_created,
    "label.changed": _label_changed,
    "label.deleted": _label_deleted,
    "label.applied_in_bulk": _label_bulk,
    "label.removed_in_bulk": _label_bulk,
    "comment.added": _comment,
    "comment.edited": _comment,
    "comment.deleted": _comment,
    "question.created": _question,
    "question.changed": _question,
    "question.moved": _question,
    "question.deleted": _question,
    **dict.fromkeys([*_FORM_WORDS, "form.superseded", "form.version_created"], _form),
    "form.grade_saved": _grade_saved,  # GRADE certainty of an outcome (#23)
    "form.grade_settings_saved": _grade_settings_saved,  # its pooling and control risk (#23)
    **dict.fromkeys(
        [*_EXTRACTION_WORDS, "extraction.assigned", "extraction.unassigned", "extraction.carried"],
        _extraction,
    ),
    **dict.fromkeys(_CONSENSUS_WORDS, _consensus),
}
# Families whose action names are built at run time (``admin.<model>.<verb>``).
PREFIX_WORDS: dict[str, Words] = {"admin.": _admin}


def has_words(action: str) -> bool:
    return action in WORDS or action.startswith(tuple(PREFIX_WORDS))


def _generic(a: str, e: Event, b: Mapping[str, Any], f: Mapping[str, Any]) -> list[Part]:
    """Words for an action this module does not know: its name made readable, its target
    and its changes."""
    what = e.action.replace("_", " ").replace(".", ": ", 1).replace(".", " ")
    parts: list[Part] = [f"{a} — {what}"]
    rid = _record_id(e)
    if rid is not None:
        parts += [" on ", _record(e, rid)]
    elif e.target:
        parts.append(f" ({e.target})")
    diff = changes(b, f)
    if diff:
        parts.append(f": {diff}")
    return parts


def describe(event: Event) -> Sentence:
    """The sentence that tells a person what ``event`` did. Never raises: a payload that is
    not what the words expect falls back to the generic sentence."""
    actor = event.actor or SYSTEM
    before = event.before if isinstance(event.before, Mapping) else {}
    after = event.after if isinstance(event.after, Mapping) else {}
    words = WORDS.get(event.action) or next(
        (w for prefix, w in PREFIX_WORDS.items() if event.action.startswith(prefix)), _generic
    )
    try:
        parts = words(actor, event, before, after)
    except Exception:  # noqa: BLE001 -- an old or odd row must not take the page down
        parts = _generic(actor, event, before, after)
    return Sentence([p for p in parts if p != ""])


def refs(sentences: Iterable[Sentence]) -> Sequence[Ref]:
    """Every ``Ref`` of these sentences (the view looks their pages up in one go)."""
    return [p for s in sentences for p in s.parts if isinstance(p, Ref)]
