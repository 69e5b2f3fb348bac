"""Benchmark of the duplicate engine: accuracy and speed, side by side with BibDedupe.

Run by hand (not in tests)::

    .venv/bin/python bench/dedup.py            # labelled sets + synthetic 100k and 500k
    .venv/bin/python bench/dedup.py --quick    # labelled sets + synthetic 100k only
    .venv/bin/python bench/dedup.py --no-bibdedupe
    .venv/bin/python bench/dedup.py --folds-only  # leave one set out, nothing else

1. **Labelled sets** (``../shared/data/dedup``): our engine and BibDedupe on the same CSV
   files, scored the same way (``bench/dedup_data.py``: record-level sensitivity and
   specificity as ASySD defines them, pairwise precision and recall, false merges).
   BibDedupe runs in a throw-away virtualenv (``/tmp/bibdedupe-venv``, created on first use
   with ``pip install bib-dedupe``; never a dependency of reviewflow) through a small script
   in a subprocess. Both times cover reading the CSV to the clusters, inside the process
   (interpreter start-up and imports excluded); BibDedupe uses all CPUs, ours one.
2. **Leave one set out** (``bench/dedup_folds.py``): the title levels chosen on four sets,
   measured on the fifth, for each of the five, with the worst case.
3. **Synthetic scale**: 100k and 500k records made from the labelled sets (see
   :func:`dedup_data.synthesise`), each size in a fresh process so its peak memory
   (``ru_maxrss``) is its own. The engine's time covers ``find_matches`` + ``build_clusters``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TypedDict

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.dedup_data import (  # noqa: E402  (needs the repository on sys.path)
    ALL_SETS,
    Scores,
    connected,
    load_labelled_set,
    read_rows,
    record_number,
    records_csv,
    row_to_record,
    score,
    synthesise,
)
from bench.dedup_folds import fold_table  # noqa: E402
from screening.dedup import build_clusters, find_matches  # noqa: E402

DATA = Path(os.environ.get("REVIEWFLOW_SHARED_DATA", REPO.parent / "shared" / "data")) / "dedup"
BIBDEDUPE_VENV = Path("/tmp/bibdedupe-venv")

BIBDEDUPE_SCRIPT = r"""
import contextlib, io, json, sys, time
import pandas as pd
from bib_dedupe.bib_dedupe import block, cluster, match, prep

started = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    records = pd.read_csv(sys.argv[1])
    prepared = prep(records, verbosity_level=0)
    pairs = block(prepared, verbosity_level=0)
    matched = match(pairs, verbosity_level=0)
    clusters = cluster(matched, verbosity_level=0)
seconds = time.perf_counter() - started
maybe = matched[matched["duplicate_label"] == "maybe"][["ID_1", "ID_2"]].values.tolist()
sure = matched[matched["duplicate_label"] == "duplicate"][["ID_1", "ID_2"]].values.tolist()
json.dump({"seconds": seconds, "clusters": clusters, "maybe": maybe, "sure": sure}, sys.stdout)
"""


def ensure_bibdedupe() -> Path | None:
    """The BibDedupe interpreter, installing it in its throw-away virtualenv if needed."""
    python = BIBDEDUPE_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing bib-dedupe into {BIBDEDUPE_VENV} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(BIBDEDUPE_VENV)], check=True)
        subprocess.run(
            [str(BIBDEDUPE_VENV / "bin" / "pip"), "install", "-q", "bib-dedupe"], check=True
        )
    probe = subprocess.run(
        [str(python), "-c", "import bib_dedupe"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        print(f"BibDedupe unavailable: {probe.stderr.strip()[-300:]}")
        return None
    return python


class BibDedupeResult(TypedDict):
    seconds: float
    clusters: list[list[str]]
    sure: list[list[str]]
    maybe: list[list[str]]


def run_bibdedupe(python: Path, csv_path: Path) -> BibDedupeResult:
    """BibDedupe's clusters and pairs for one CSV, with its own wall time."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(BIBDEDUPE_SCRIPT)
        script = handle.name
    try:
        done = subprocess.run(
            [str(python), script, str(csv_path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
        )
    finally:
        os.unlink(script)
    result: BibDedupeResult = json.loads(done.stdout)
    return result


def run_ours(csv_path: Path) -> tuple[float, float, list[set[int]], list[set[int]], int]:
    """Our engine from the CSV: (seconds incl. reading, engine seconds, auto, +pending, n)."""
    started = time.perf_counter()
    records = [row_to_record(row) for row in read_rows(csv_path)]
    engine_started = time.perf_counter()
    matches = find_matches(records)
    clusters = build_clusters(matches)
    finished = time.perf_counter()
    pending = [m for m in matches if m.outcome == "pending"]
    with_pending = build_clusters(matches, confirmed=[frozenset((m.a, m.b)) for m in pending])
    return (
        finished - started,
        finished - engine_started,
        clusters,
        with_pending,
        len(pending),
    )


def fmt(scores: Scores) -> str:
    return (
        f"{scores.sensitivity:6.4f} {scores.specificity:6.4f} "
        f"{scores.pair_precision:6.4f} {scores.pair_recall:6.4f} {scores.false_merges:3d}"
    )


def labelled_table(bibdedupe: Path | None) -> None:
    print("\n== Labelled sets (record-level sensitivity/specificity as in ASySD) ==")
    header = (
        f"{'set':19s} {'n':>5s} {'tool':10s} {'time s':>7s}  {'sens':>6s} {'spec':>6s} "
        f"{'pairP':>6s} {'pairR':>6s} {'FM':>3s} | {'sens+pend':>9s} {'pending':>7s}"
    )
    print(header)
    print("-" * len(header))
    speedups: list[float] = []
    for name in ALL_SETS:
        folder = DATA / name
        labelled = load_labelled_set(folder)
        ids = [r.id for r in labelled.records]
        csv_path = records_csv(folder)
        seconds, engine_seconds, auto, with_pending, pending = run_ours(csv_path)
        ours = score(ids, auto, labelled.groups)
        ours_all = score(ids, with_pending, labelled.groups)
        print(
            f"{name:19s} {len(ids):5d} {'reviewflow':10s} {seconds:7.3f}  {fmt(ours)} | "
            f"{ours_all.sensitivity:9.4f} {pending:7d}   (engine alone {engine_seconds:.3f} s)"
        )
        if bibdedupe is None:
            continue
        result = run_bibdedupe(bibdedupe, csv_path)
        clusters = [{record_number(i) for i in c} for c in result["clusters"]]
        theirs = score(ids, clusters, labelled.groups)
        sure = [(record_number(a), record_number(b)) for a, b in result["sure"]]
        maybe = [(record_number(a), record_number(b)) for a, b in result["maybe"]]
        theirs_all = score(ids, connected(sure + maybe), labelled.groups)
        their_seconds = result["seconds"]
        speedups.append(their_seconds / seconds)
        print(
            f"{'':19s} {'':5s} {'BibDedupe':10s} {their_seconds:7.3f}  {fmt(theirs)} | "
            f"{theirs_all.sensitivity:9.4f} {len(maybe):7d}   ({their_seconds / seconds:.0f}x ours)"
        )
    if speedups:
        print(f"speed-up over BibDedupe: {min(speedups):.0f}x to {max(speedups):.0f}x")


def synthetic_worker(size: int) -> None:
    """Run in a child process: generate ``size`` records, time the engine, print JSON."""
    seeds = [r for name in ALL_SETS for r in load_labelled_set(DATA / name).records]
    records, groups = synthesise(seeds, size)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    cpu_started = time.process_time()
    matches = find_matches(records)
    clusters = build_clusters(matches)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scores = score([r.id for r in records], clusters, groups)
    json.dump(
        {
            "size": size,
            "seconds": seconds,
            "cpu": cpu,
            "peak_mb": peak / 1024,
            "input_mb": rss_before / 1024,
            "pending": sum(m.outcome == "pending" for m in matches),
            "sensitivity": scores.sensitivity,
            "false_merges": scores.false_merges,
        },
        sys.stdout,
    )


def synthetic_table(sizes: list[int]) -> None:
    print("\n== Synthetic scale (records generated from the labelled sets) ==")
    header = (
        f"{'records':>8s} {'time s':>7s} {'cpu s':>6s} {'peak MB':>8s} {'input MB':>9s} "
        f"{'sens':>7s} {'FM':>3s} {'pending':>7s}"
    )
    print(header)
    print("-" * len(header))
    times: dict[int, float] = {}
    cpu: dict[int, float] = {}
    for size in sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--synthetic-worker", str(size)],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(done.stdout)
        times[size] = row["seconds"]
        cpu[size] = row["cpu"]
        print(
            f"{size:8d} {row['seconds']:7.2f} {row['cpu']:6.2f} {row['peak_mb']:8.0f} "
            f"{row['input_mb']:9.0f} {row['sensitivity']:7.4f} {row['false_merges']:3d} "
            f"{row['pending']:7d}"
        )
    if 100_000 in times and 500_000 in times:
        print(
            f"growth 100k → 500k: {times[500_000] / times[100_000]:.1f}x wall, "
            f"{cpu[500_000] / cpu[100_000]:.1f}x CPU (linear would be 5x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the 500k synthetic run")
    parser.add_argument("--no-bibdedupe", action="store_true", help="run our engine only")
    parser.add_argument(
        "--folds-only", action="store_true", help="only the leave-one-set-out table"
    )
    parser.add_argument("--synthetic-worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.synthetic_worker:
        synthetic_worker(args.synthetic_worker)
        return
    if not DATA.exists():
        sys.exit(f"labelled sets not found in {DATA} (set REVIEWFLOW_SHARED_DATA)")
    bibdedupe = None if args.no_bibdedupe or args.folds_only else ensure_bibdedupe()
    if not args.folds_only:
        labelled_table(bibdedupe)
    fold_table(DATA)
    if not args.folds_only:
        synthetic_table([100_000] if args.quick else [100_000, 500_000])


if __name__ == "__main__":
    main()
