"""End-to-end deduplication speed in the database: engine + writing pairs and merges.

Run by hand:  .venv/bin/python bench/dedup_db.py [--records 100000] [--databases sqlite,postgres]

Generates records from the labelled sets (``bench/dedup_data.synthesise``, about a third
duplicates), stores them as four searches of one review, then times
``screening.services.dedup.run_dedup`` (a full pass: blocking, comparing, storing every pair,
clustering, merging, filling primaries, audit events). Each database runs in its own
subprocess; peak memory is that process's maximum resident size. Prints a table.
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

REPO = Path(__file__).resolve().parent.parent
PG_URL = "postgres://postgres@127.0.0.1:5432/reviewflow_bench_dedup"


def worker(size: int) -> None:
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from bench.dedup import DATA
    from bench.dedup_data import ALL_SETS, load_labelled_set, score, synthesise
    from reviewflow.reviews.services import create_review
    from screening.models import Record, Search
    from screening.services.dedup import run_dedup

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("bench")
    review = create_review(title="Dedup bench", slug="dedup-bench", owner=owner)
    seeds = [r for name in ALL_SETS for r in load_labelled_set(DATA / name).records]
    records, groups = synthesise(seeds, size)
    searches = [
        Search.objects.create(
            review=review, source=name, filename=f"{name}.ris", status="done", file="x"
        )
        for name in ("PubMed", "Embase", "Scopus", "WoS")
    ]
    rows = []
    for i, r in enumerate(records):
        rows.append(
            Record(
                id=r.id,
                review=review,
                search=searches[i % 4],
                position=i + 1,
                line=1,
                title=r.title,
                authors=list(r.authors),
                year=r.year,
                journal=r.journal,
                volume=r.volume,
                issue=r.issue,
                pages=r.pages,
                doi=r.doi,
                pmid=r.pmid,
                abstract=r.abstract,
            )
        )
    Record.objects.bulk_create(rows, batch_size=5000)
    del rows
    started = time.perf_counter()
    result = run_dedup(review_id=review.pk)
    seconds = time.perf_counter() - started
    merged = Record.objects.filter(review=review, duplicate_of__isnull=False).values_list(
        "id", "duplicate_of_id"
    )
    clusters: dict[int, set[int]] = {}
    for rid, primary in merged:
        clusters.setdefault(primary, {primary}).add(rid)
    scores = score([r.id for r in records], list(clusters.values()), groups)
    json.dump(
        {
            "seconds": seconds,
            "merged": result.merged,
            "pending": result.pending_total,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "sensitivity": scores.sensitivity,
            "false_merges": scores.false_merges,
        },
        sys.stdout,
    )


def run(database: str, size: int) -> dict[str, float] | None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reviewflow.settings",
        "DEBUG": "1",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "REVIEWFLOW_DATA_DIR": tempfile.mkdtemp(),
    }
    env.pop("DATABASE_URL", None)
    if database == "postgres":
        subprocess.run(
            [
                "dropdb",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "--if-exists",
                "reviewflow_bench_dedup",
            ],
            check=False,
        )
        made = subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-U", "postgres", "reviewflow_bench_dedup"], check=False
        )
        if made.returncode:
            print("PostgreSQL unreachable: row skipped")
            return None
        env["DATABASE_URL"] = PG_URL
    done = subprocess.run(
        [sys.executable, __file__, "--worker", str(size)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        print(done.stderr[-3000:])
        return None
    if database == "postgres":
        subprocess.run(
            ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "reviewflow_bench_dedup"], check=False
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    header = (
        f"{'database':<10s} {'records':>8s} {'seconds':>8s} {'merged':>7s} "
        f"{'pending':>8s} {'peak MB':>8s} {'sens':>7s} {'FM':>4s}"
    )
    print(header)
    print("-" * len(header))
    for database in args.databases.split(","):
        row = run(database, args.records)
        if row is None:
            continue
        print(
            f"{database:<10s} {args.records:8d} {row['seconds']:8.1f} {row['merged']:7.0f} "
            f"{row['pending']:8.0f} {row['peak_mb']:8.0f} {row['sensitivity']:7.4f} "
            f"{row['false_merges']:4.0f}"
        )
    print("Target: 100k records end to end in under 20 s on 2 cores; peak memory under 2 GB.")


if __name__ == "__main__":
    main()
