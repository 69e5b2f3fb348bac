"""Benchmark: one review's experience in a hosted database holding many other reviews (#25).

Run by hand (not in tests)::

    .venv/bin/python bench/scale.py                                # 200 reviews, 2,000,000 records
    .venv/bin/python bench/scale.py --reviews 20 --records 200000  # a quicker look
    .venv/bin/python bench/scale.py --keep                         # keep both databases
    .venv/bin/python bench/scale.py --skip-import --skip-backup    # without steps 5 and 6

1. **Hosted database** (``--database-url``, default ``…/reviewflow_bench_scale``): migrated,
   then ``--reviews`` reviews holding ``--records`` records in all, written with ``COPY``.
   One review (``scale-big``) holds ``--big`` records (default 100,000); the others' sizes
   are drawn from a log-normal distribution (median about 3,000, a long tail: a few reviews
   over 100,000), scaled to the total. Abstracts are about 1,500 characters (a pool drawn
   by ``bench/screening.py``'s generator); ``raw`` keeps the RIS fields again, as an import
   does. Per review: a quarter of the records are duplicates (with a duplicate pair per
   twenty records), a share drawn from 0–100 % of the unique records is screened (two votes
   each, nine in ten settled by agreement, one in ten a conflict), the big review half;
   an audit row per vote (by its voter) and per settled record (a system event: agreed,
   or a conflict opened), as the app writes them. Then ``VACUUM ANALYZE``. Printed: build time,
   database size, and both extrapolated linearly to 10 million records (rows per review
   are proportional to its records, so size and ``COPY`` time grow with the records).
2. **Fresh database** (``--fresh-url``): the same big review alone, built the same way.
3. **Screening**: gunicorn (2 workers × 4 threads, ``bench/screening.py``'s ``timed_app``);
   ``--reviewers`` API reviewers of the big review (``bench/screening.py``'s ``Reviewer``:
   ``next`` then a vote, ``--think`` seconds reading between) for ``--duration`` seconds,
   in the hosted database together with ``--others`` reviewers spread over the next largest
   reviews, and in the fresh database alone; hosted and fresh in turn, ``--load-runs``
   times each (one run's p95 moves by several ms: the runs are pooled). Printed: p95 of
   next + vote inside Django (``Server-Timing``) and at the client, for the big review's
   reviewers only, over all runs, and each run's own p95.
4. **Pages of the big review**: the records list (first and a deep page, HTML and API),
   PRISMA (JSON and page), the duplicate queue and the CSV export of all records, each
   timed (median of ``--repeat``) through Django's test client in a subprocess.
5. **Import into a new review** (``scale-import``), in each database: a RIS file of
   ``--import-records`` records (default 100,000; ``bench/import.py``'s generator, a quarter
   of them repeats of earlier ones as a second database exports them) uploaded with
   ``create_search``, then the tasks it queues run in turn and timed apart, as a Celery
   worker runs them: ``import_search`` (``run_import``), ``dedup_search`` (``run_dedup`` of
   the new search) and ``build_document_matrix``. Printed: each time, records in and out
   (not duplicates), pairs left pending, the worker's peak memory (``scale_work.py``).
6. **Backup and restore of** ``scale-big``, in each database: ``manage.py backupreview``,
   then ``restorereview`` of its archive as a new review beside it, each a subprocess timed
   with its peak resident memory (``wait4``); the archive's size. The copy's rows are
   counted against the original's, then the copy is deleted (timed) and the database is as
   before.

Targets (the issue's): next + vote p95 under 50 ms and within 20 % of fresh; every page
within 20 % of fresh. Steps 5 and 6 are reported, not judged, but a restored copy that
differs from its original fails the run. Both databases are dropped at the end unless
``--keep`` (then they also hold ``scale-import``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import scale_work as work  # noqa: E402  (the subprocess workers)
from bench import screening as base  # noqa: E402  (load threads, timed server)
from bench.scale_work import BIG, PAGES, STAGE  # noqa: E402

HOSTED_URL = "postgres://postgres@127.0.0.1:5432/reviewflow_bench_scale"
FRESH_URL = "postgres://postgres@127.0.0.1:5432/reviewflow_bench_scale_fresh"
P95_TARGET_MS = 50.0
RATIO_TARGET = 1.2

# ---------------------------------------------------------------- sizes


def review_sizes(reviews: int, records: int, big: int, seed: int = 25) -> list[int]:
    """``reviews`` sizes summing to ``records``: the first is ``big``, the others drawn
    log-normally (median 3,000, σ 1.3) and scaled to the rest."""
    if reviews < 2 or big >= records:
        raise SystemExit("--reviews must be at least 2 and --big smaller than --records")
    rng = random.Random(seed)
    drawn = [rng.lognormvariate(math.log(3_000), 1.3) for _ in range(reviews - 1)]
    scale = (records - big) / sum(drawn)
    sizes = [max(20, round(d * scale)) for d in drawn]
    sizes[sizes.index(max(sizes))] += records - big - sum(sizes)  # exact total
    return [big, *sorted(sizes, reverse=True)]


# ---------------------------------------------------------------- orchestration


def _env(url: str, data_dir: Path, *, server: bool) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "reviewflow.settings",
        "REVIEWFLOW_DATA_DIR": str(data_dir),
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "DEBUG": "0",
        "LOG_LEVEL": "ERROR",
        "SECRET_KEY": "bench",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "MAX_UPLOAD_MB": "2048",  # the import step's file can pass the default 200 MB
    }
    env.pop("REDIS_URL", None)
    return env


def _pg(command: str, url: str) -> None:
    parts = urlsplit(url)
    extra = ["--if-exists"] if command == "dropdb" else []
    done = subprocess.run(
        [command, "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
        + ["-U", parts.username or "postgres", *extra, parts.path.lstrip("/")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{command} {parts.path}: {done.stderr.strip()}")


def _start_server(url: str, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    log = (data_dir / "gunicorn.log").open("ab")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "bench.screening:timed_app()"]
        + ["--workers", "2", "--threads", "4", "--keep-alive", "10"]
        + ["--bind", f"{base.HOST}:{port}", "--error-logfile", str(data_dir / "gunicorn.log")],
        cwd=REPO,
        env=_env(url, data_dir, server=True),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    import http.client

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(base.HOST, port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    base._stop_server(server)
    raise RuntimeError(f"gunicorn did not answer: {base._tail(data_dir / 'gunicorn.log')}")


class ScaleReviewer(base.Reviewer):
    def __init__(self, slug: str, *args: Any) -> None:
        super().__init__(*args)
        url = f"/api/v1/reviews/{slug}/screening/{STAGE}"
        self.next_url, self.votes_url = f"{url}/next/", f"{url}/votes/"


def run_load(
    url: str, data_dir: Path, users: list[tuple[str, str]], duration: float, think: Any
) -> dict[str, Any]:
    """The users' next + vote for ``duration`` s; p95 of the big review's users only."""
    port = base._free_port()
    server = _start_server(url, data_dir, port)
    try:
        go = threading.Event()
        threads = [
            ScaleReviewer(slug, port, token, n, go, think) for n, (slug, token) in enumerate(users)
        ]
        for t in threads:
            t.warm_up()
        for t in threads:
            t.start()
        start = time.perf_counter()
        for t in threads:
            t.deadline = start + duration
        go.set()
        for t in threads:
            t.join(duration + 120)
    finally:
        base._stop_server(server)
    mine = [t.tally for t, (slug, _) in zip(threads, users, strict=True) if slug == BIG]
    server_ms = [v for tally in mine for v in tally.server_ms]
    client_ms = [v for tally in mine for v in tally.pairs_ms]
    every = [t.tally for t in threads]
    return {
        "server_ms": server_ms,
        "client_ms": client_ms,
        "all_pairs": sum(len(t.server_ms) for t in every),
        "errors": sum(t.errors for t in every),
        "samples": [s for t in every for s in t.samples][:3],
    }


def pooled(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The load runs of one database together: percentiles over every pair timed, and each
    run's own p95 (their spread shows how far one run's p95 can be trusted)."""
    server = [v for r in runs for v in r["server_ms"]]
    return {
        "pairs": len(server),
        "all_pairs": sum(r["all_pairs"] for r in runs),
        "server_p95": base.percentile(server, 95),
        "server_p50": base.percentile(server, 50),
        "client_p95": base.percentile([v for r in runs for v in r["client_ms"]], 95),
        "run_p95s": [base.percentile(r["server_ms"], 95) for r in runs],
        "errors": sum(r["errors"] for r in runs),
        "samples": [s for r in runs for s in r["samples"]][:3],
    }


def _worker(url: str, data_dir: Path, *args: str) -> dict[str, Any]:
    return base._run_json(
        [sys.executable, str(Path(__file__).resolve()), "--worker", *args],
        _env(url, data_dir, server=False),
    )


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if not a or not b else f"{a / b:.2f}"


def _table(title: str, rows: list[tuple[str, Any, Any, str]]) -> None:
    print(f"\n{title}\n{'':34}{'hosted':>10}{'fresh':>10}{'ratio':>8}")
    for label, a, b, spec in rows:
        print(f"{label:34}{a:>10{spec}}{b:>10{spec}}{_ratio(a, b):>8}")


def run(args: argparse.Namespace) -> int:
    sizes = review_sizes(args.reviews, args.records, args.big)
    think = base._think(args.think) if args.think != "0" else None
    data_dir = Path(tempfile.mkdtemp(prefix="reviewflow-scale-"))
    users = args.reviewers + args.others
    created: list[str] = []
    try:
        builds = {}
        for name, url, these in (
            ("hosted", args.database_url, sizes),
            ("fresh", args.fresh_url, [args.big]),
        ):
            _pg("createdb", url)
            created.append(url)
            print(f"building {name}: {len(these)} reviews, {sum(these):,} records …", flush=True)
            builds[name] = _worker(
                url, data_dir, "build", json.dumps(these), str(users), str(args.big_screened)
            )
        hosted, fresh = builds["hosted"], builds["fresh"]
        # The server and the pages run with DEBUG off, as deployed: static files collected.
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=REPO,
            env=_env(args.database_url, data_dir, server=False),
            check=True,
        )
        print(
            f"\nHosted database: {args.reviews} reviews, {args.records:,} records "
            f"(largest {sizes[0]:,} / {sizes[1]:,} / {sizes[2]:,}; median "
            f"{statistics.median(sizes):,.0f}; over 100,000: {sum(s > 100_000 for s in sizes)})"
        )
        c = hosted["counts"]
        print(
            f"  rows: {c['records']:,} records, {c['votes']:,} votes, {c['outcomes']:,} outcomes, "
            f"{c['conflicts']:,} conflicts, {c['pairs']:,} pairs, {c['audit']:,} audit rows"
        )
        per = args.records
        grown = hosted["bytes"] - hosted["empty_bytes"]
        print(
            f"  build: {hosted['total_s']:.0f} s (migrate {hosted['migrate_s']:.0f} s, "
            f"COPY {hosted['copy_s']:.0f} s, VACUUM ANALYZE {hosted['analyse_s']:.0f} s); "
            f"size {_mb(hosted['bytes'])} ({_mb(grown)} of data, {grown / per:,.0f} bytes "
            "a record with its votes, outcomes, pairs and audit rows)"
        )
        print(
            f"  at 10,000,000 records (linear in the records): about "
            f"{(hosted['copy_s'] + hosted['analyse_s']) / per * 1e7 / 60:.0f} min of COPY and "
            f"VACUUM ANALYZE, {_mb(hosted['empty_bytes'] + grown / per * 1e7)}"
        )
        print(f"  fresh database (the big review alone): {_mb(fresh['bytes'])}")

        # Hosted and fresh in turn, ``--load-runs`` times each: one run's p95 moves by
        # several ms from run to run (a few hundred pairs), so the runs are pooled.
        runs: dict[str, list[dict[str, Any]]] = {"hosted": [], "fresh": []}
        for n in range(args.load_runs):
            for name, url in (("hosted", args.database_url), ("fresh", args.fresh_url)):
                build = builds[name]
                pairs = list(zip(build["slugs"], build["tokens"], strict=True))
                chosen = [p for p in pairs if p[0] == BIG][: args.reviewers]
                if name == "hosted":
                    chosen += [p for p in pairs if p[0] != BIG][: args.others]
                print(f"screening load on {name} ({n + 1}): {len(chosen)} reviewers …", flush=True)
                runs[name].append(run_load(url, data_dir, chosen, args.duration, think))
        loads = {name: pooled(these) for name, these in runs.items()}
        pages = {
            name: _worker(url, data_dir, "pages", str(args.repeat), str(args.big))
            for name, url in (("hosted", args.database_url), ("fresh", args.fresh_url))
        }
        plan_problems = _worker(args.database_url, data_dir, "plans")
        both = (("hosted", args.database_url), ("fresh", args.fresh_url))
        imports, backups, repeats = {}, {}, 0
        if not args.skip_import:
            ris = data_dir / f"import-{args.import_records}.ris"
            print(f"writing {args.import_records:,} RIS records …", flush=True)
            repeats = work.write_ris(ris, args.import_records)
            for name, url in both:
                print(f"import + deduplication on {name} …", flush=True)
                imports[name] = _worker(url, data_dir, "import", str(ris))
        for name, url in () if args.skip_backup else both:
            print(f"backup + restore of {BIG} on {name} …", flush=True)
            backups[name] = work.run_backup_restore(_env(url, data_dir, server=False), data_dir)
    finally:
        if not args.keep:
            for url in created:
                _pg("dropdb", url)
        shutil.rmtree(data_dir, ignore_errors=True)

    h, f = loads["hosted"], loads["fresh"]
    print(
        f"\nNext + vote of the big review's {args.reviewers} reviewers, {args.load_runs} runs "
        f"of {args.duration:.0f} s each"
    )
    print(f"{'':34}{'hosted':>10}{'fresh':>10}{'ratio':>8}")
    for label, key in (
        ("p95 inside Django (ms)", "server_p95"),
        ("median inside Django (ms)", "server_p50"),
        ("p95 at the client (ms)", "client_p95"),
    ):
        print(f"{label:34}{_ms(h[key]):>10}{_ms(f[key]):>10}{_ratio(h[key], f[key]):>8}")
    print(f"{'pairs timed (all reviewers)':34}{h['pairs']:>5} ({h['all_pairs']}){f['pairs']:>10}")
    each = ", ".join
    print(
        f"p95 of each run: hosted {each(_ms(v) for v in h['run_p95s'])}; "
        f"fresh {each(_ms(v) for v in f['run_p95s'])}"
    )
    if h["errors"] or f["errors"]:
        print(f"errors: hosted {h['errors']}, fresh {f['errors']}: {h['samples'] + f['samples']}")
    print(f"\nPages of the {args.big:,}-record review (median of {args.repeat}, ms)")
    print(f"{'':34}{'hosted':>10}{'fresh':>10}{'ratio':>8}")
    ok = True
    for name in PAGES:
        a, b = pages["hosted"][name]["ms"], pages["fresh"][name]["ms"]
        print(f"{name:34}{a:>10.0f}{b:>10.0f}{_ratio(a, b):>8}")
        ok &= a <= b * RATIO_TARGET
    print("\nQuery plans of the read-only hot paths in the hosted database")
    for name, problems in plan_problems.items():
        print(f"  {name:40}{'index scoped by review' if not problems else 'PROBLEM'}")
        for problem in problems:
            print(f"      {problem.splitlines()[0]}")
    ok &= not any(plan_problems.values())
    if imports:
        i, j = imports["hosted"], imports["fresh"]
        _table(
            f"Import of {args.import_records:,} RIS records ({repeats:,} of them repeats) into a "
            "new review, then the tasks it queues",
            [
                ("upload (create_search, s)", i["upload_s"], j["upload_s"], ".1f"),
                ("import (run_import, s)", i["import_s"], j["import_s"], ".1f"),
                ("deduplication (run_dedup, s)", i["dedup_s"], j["dedup_s"], ".1f"),
                (
                    f"document matrix (s, {i['matrix_rows']} rows)",
                    i["matrix_s"],
                    j["matrix_s"],
                    ".1f",
                ),
                ("records in (imported)", i["imported"], j["imported"], ",d"),
                ("records out (not duplicates)", i["remaining"], j["remaining"], ",d"),
                ("duplicate pairs pending", i["pending"], j["pending"], ",d"),
                ("peak memory, import (MB)", i["import_peak_mb"], j["import_peak_mb"], ",.0f"),
                ("peak memory, + dedup (MB)", i["dedup_peak_mb"], j["dedup_peak_mb"], ",.0f"),
            ],
        )
    if backups:
        b, c = backups["hosted"], backups["fresh"]
        _table(
            f"backupreview / restorereview of {BIG} ({args.big:,} records; wall time, max RSS)",
            [
                ("backup (s)", b["backup"]["seconds"], c["backup"]["seconds"], ".1f"),
                ("backup peak memory (MB)", b["backup"]["peak_mb"], c["backup"]["peak_mb"], ",.0f"),
                ("archive (MB)", b["bytes"] / 1e6, c["bytes"] / 1e6, ",.1f"),
                (
                    "restore as a new review (s)",
                    b["restore"]["seconds"],
                    c["restore"]["seconds"],
                    ".1f",
                ),
                (
                    "restore peak memory (MB)",
                    b["restore"]["peak_mb"],
                    c["restore"]["peak_mb"],
                    ",.0f",
                ),
                ("delete of the restored copy (s)", b["delete_s"], c["delete_s"], ".1f"),
            ],
        )
    copies_ok = True
    for name, done in backups.items():
        if done["differ"] or done["left"]:
            copies_ok = False
            print(f"  {name}: the copy's rows differ {done['differ']}; left: {done['left']}")
    server_ok = h["server_p95"] is not None and h["server_p95"] < P95_TARGET_MS
    ratio_ok = bool(h["server_p95"] and f["server_p95"]) and (
        h["server_p95"] <= f["server_p95"] * RATIO_TARGET
    )
    print(
        f"\nnext + vote p95 under {P95_TARGET_MS:.0f} ms: {'PASS' if server_ok else 'FAIL'}; "
        f"within 20 % of fresh: {'PASS' if ratio_ok else 'FAIL'}; "
        f"pages within 20 % of fresh: {'PASS' if ok else 'FAIL'}"
    )
    return 0 if server_ok and ratio_ok and ok and copies_ok and not h["errors"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--reviews", type=int, default=200)
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--big-screened", type=float, default=0.5)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--others", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--load-runs", type=int, default=3, help="load runs per database")
    parser.add_argument("--think", default="1:3", help="seconds reading, MIN:MAX; 0 for none")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=HOSTED_URL)
    parser.add_argument("--fresh-url", default=FRESH_URL)
    parser.add_argument("--import-records", type=int, default=100_000)
    parser.add_argument("--skip-import", action="store_true", help="no import + dedup step")
    parser.add_argument("--skip-backup", action="store_true", help="no backup + restore step")
    parser.add_argument("--keep", action="store_true", help="keep both databases")
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        if kind == "plans":
            result = work.worker_plans()
        elif kind == "build":
            result = work.worker_build(json.loads(rest[0]), int(rest[1]), float(rest[2]))
        elif kind == "import":
            result = work.worker_import(rest[0])
        elif kind == "drop-review":
            result = work.worker_drop_review()
        else:
            result = work.worker_pages(int(rest[0]), int(rest[1]))
        print(json.dumps(result))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
