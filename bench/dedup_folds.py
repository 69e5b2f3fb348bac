"""Leave one set out: are the engine's title levels fitted to the labelled sets?

The rules of ``screening/dedup/rules.py`` are written from what makes two records one
publication; the only figures a benchmark could tune are the title levels of
:class:`~screening.dedup.rules.Levels`. For each labelled set in turn, this chooses the
levels on the other four (from a grid around the shipped ones: no false automatic merge on
any of the four, pending at most 3 % of each, then the best mean automatic sensitivity,
then the fewest pending, then the shipped levels) and measures the left-out set with them.
A left-out set that does as well as with the shipped levels says the levels are not tuned
to it.

Each set's candidate pairs are compared once (the facts of each pair don't depend on the
levels); each grid point then only re-reads the rule table, so the whole search takes
seconds. :func:`fold_table` prints the table; ``bench/dedup.py`` calls it.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

from bench.dedup_data import ALL_SETS, Scores, load_labelled_set, score
from screening.dedup.blocking import candidate_pairs
from screening.dedup.clustering import build_clusters, one_question_per_cluster_pair
from screening.dedup.records import Match, Prepared
from screening.dedup.rules import Levels, Rule, RuleTable, rules_for, screen

#: Values tried for each level, around the shipped ones.
GRID: dict[str, tuple[float, ...]] = {
    "identical": (97, 98, 99),
    "same": (93, 95, 97),
    "close": (88, 90, 92),
    "shared_id": (80, 85, 90),
    "similar": (75, 80, 85),
}
#: Largest pending share a choice may leave on a training set.
MAX_PENDING = 0.03


class _Recorder(RuleTable):
    """The loosest table of the grid, remembering the facts of the last pair it decided."""

    __slots__ = ("last",)

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        super().__init__(rules)
        self.last: tuple[int, float] = (0, 0.0)

    def decide(self, facts: int, title: float) -> Rule:
        self.last = (facts, title)
        return super().decide(facts, title)


@dataclass
class _Pair:
    a: int
    b: int
    facts: int
    title: float
    match: Match


@dataclass
class _Set:
    name: str
    ids: list[int]
    groups: list[set[int]]
    pairs: list[_Pair]


def _loosest() -> Levels:
    return Levels(**{name: min(values) for name, values in GRID.items()})


def _prepare(name: str, data: Path) -> _Set:
    """Compare a set's candidate pairs once, with the loosest levels of the grid (any
    stricter levels decide distinct at least where these do)."""
    labelled = load_labelled_set(data / name)
    prepared = [Prepared(r, True) for r in labelled.records]
    recorder = _Recorder(rules_for(_loosest()))
    pairs: list[_Pair] = []
    for i, j in candidate_pairs(prepared):
        a, b = prepared[i], prepared[j]
        verdict = screen(a, b, recorder)
        if verdict is None or verdict[0] == "distinct":
            continue
        outcome, points, reasons = verdict
        low, high = sorted((a.id, b.id))
        facts, title = recorder.last
        pairs.append(_Pair(low, high, facts, title, Match(low, high, outcome, points, reasons)))
    return _Set(name, [r.id for r in labelled.records], labelled.groups, pairs)


@dataclass(frozen=True)
class Outcome:
    auto: Scores
    with_pending: Scores
    pending: int


def _evaluate(data: _Set, table: RuleTable) -> Outcome:
    matches = []
    for pair in data.pairs:
        verdict = table.decide(pair.facts, pair.title).verdict
        if verdict != "distinct":
            matches.append(replace(pair.match, outcome=verdict))
    matches.sort(key=lambda m: (-m.score, m.a, m.b))
    matches = one_question_per_cluster_pair(matches, {}, ())
    pending = [m for m in matches if m.outcome == "pending"]
    auto = build_clusters(matches)
    everything = build_clusters(matches, confirmed=[m.pair for m in pending])
    return Outcome(
        score(data.ids, auto, data.groups), score(data.ids, everything, data.groups), len(pending)
    )


def _grid() -> list[Levels]:
    names = [f.name for f in fields(Levels)]
    return [
        Levels(**dict(zip(names, values, strict=True)))
        for values in itertools.product(*(GRID[name] for name in names))
    ]


def fold_table(data: Path) -> None:
    """Print, per left-out set: the levels chosen on the other four and the left-out
    set's false merges, sensitivity (auto; auto + pending) and pending share, beside the
    same figures with the shipped levels."""
    started = time.perf_counter()
    sets = {name: _prepare(name, data) for name in ALL_SETS}
    grid = _grid()
    tables = [RuleTable(rules_for(levels)) for levels in grid]
    results = {name: [_evaluate(sets[name], table) for table in tables] for name in ALL_SETS}
    shipped = grid.index(Levels())
    print("\n== Leave one set out: title levels chosen on the other four sets ==")
    header = (
        f"{'left out':19s} {'levels chosen (identical/same/close/id/similar)':48s} "
        f"{'FM':>3s} {'sens':>6s} {'sens+p':>6s} {'pend %':>6s} | {'shipped: FM':>11s} "
        f"{'sens':>6s} {'sens+p':>6s} {'pend %':>6s}"
    )
    print(header)
    print("-" * len(header))
    worst: list[tuple[float, float, int, float]] = []
    for left_out in ALL_SETS:
        training = [name for name in ALL_SETS if name != left_out]

        def merit(k: int, training: list[str] = training) -> tuple[float, ...]:
            outcomes = [results[name][k] for name in training]
            safe = all(
                o.auto.false_merges == 0 and o.pending <= MAX_PENDING * o.auto.records
                for o in outcomes
            )
            mean = sum(o.auto.sensitivity for o in outcomes) / len(outcomes)
            pending = sum(o.pending for o in outcomes)
            return (safe, round(mean, 6), -pending, k == shipped)

        chosen = max(range(len(grid)), key=merit)
        levels = grid[chosen]
        got = results[left_out][chosen]
        ref = results[left_out][shipped]
        share = got.pending / got.auto.records
        ref_share = ref.pending / ref.auto.records
        described = "/".join(f"{getattr(levels, f.name):g}" for f in fields(Levels))
        if not merit(chosen)[0]:
            described += " (no safe choice)"
        print(
            f"{left_out:19s} {described:48s} {got.auto.false_merges:3d} "
            f"{got.auto.sensitivity:6.4f} {got.with_pending.sensitivity:6.4f} "
            f"{100 * share:6.2f} | {ref.auto.false_merges:11d} {ref.auto.sensitivity:6.4f} "
            f"{ref.with_pending.sensitivity:6.4f} {100 * ref_share:6.2f}"
        )
        worst.append(
            (got.auto.sensitivity, got.with_pending.sensitivity, got.auto.false_merges, share)
        )
    print(
        f"worst left-out set: sensitivity {min(w[0] for w in worst):.4f} (auto), "
        f"{min(w[1] for w in worst):.4f} (auto + pending), "
        f"false merges {max(w[2] for w in worst)}, pending {100 * max(w[3] for w in worst):.2f} %"
        f"  ({len(grid)} grid points, {time.perf_counter() - started:.1f} s)"
    )
