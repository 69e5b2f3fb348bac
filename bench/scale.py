"""Benchmark: one review's experience in a hosted database holding many other reviews (#25).

Run by hand (not in tests)::

    .venv/bin/python bench/scale.py                                # 200 reviews, 2,000,000 records
    .venv/bin/python bench/scale.py --reviews 20 --records 200000  # a quicker look
    .venv/bin/python bench/scale.py --keep                         # keep both databases

1. **Hosted database** (``--database-url``, default ``…/reviewflow_bench_scale``): migrated,
   then ``--reviews`` reviews holding ``--records`` records in all, written with ``COPY``.
   One review (``scale-big``) holds ``--big`` records (default 100,000); the others' sizes
   are drawn from a log-normal distribution (median about 3,000, a long tail: a few reviews
   over 100,000), scaled to the total. Abstracts are about 1,500 characters (a pool drawn
   by ``bench/screening.py``'s generator); ``raw`` keeps the RIS fields again, as an import
   does. Per review: a quarter of the records are duplicates (with a duplicate pair per
   twenty records), a share drawn from 0–100 % of the unique records is screened (two votes
   each, nine in ten settled by agreement, one in ten a conflict), the big review half;
   an audit row per vote and per outcome. Then ``VACUUM ANALYZE``. Printed: build time,
   database size, and both extrapolated linearly to 10 million records (rows per review
   are proportional to its records, so size and ``COPY`` time grow with the records).
2. **Fresh database** (``--fresh-url``): the same big review alone, built the same way.
3. **Screening**: gunicorn (2 workers × 4 threads, ``bench/screening.py``'s ``timed_app``);
   ``--reviewers`` API reviewers of the big review (``bench/screening.py``'s ``Reviewer``:
   ``next`` then a vote, ``--think`` seconds reading between) for ``--duration`` seconds,
   in the hosted database together with ``--others`` reviewers spread over the next largest
   reviews, and in the fresh database alone. Printed: p95 of next + vote inside Django
   (``Server-Timing``) and at the client, for the big review's reviewers only.
4. **Pages of the big review**: the records list (first and a deep page, HTML and API),
   PRISMA (JSON and page), the duplicate queue and the CSV export of all records, each
   timed (median of ``--repeat``) through Django's test client in a subprocess.

Targets (the issue's): next + vote p95 under 50 ms and within 20 % of fresh; every page
within 20 % of fresh. Both databases are dropped at the end unless ``--keep``.
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

from bench import screening as base  # noqa: E402  (record text, load threads, timed server)

HOSTED_URL = "postgres://postgres@127.0.0.1:5432/reviewflow_bench_scale"
FRESH_URL = "postgres://postgres@127.0.0.1:5432/reviewflow_bench_scale_fresh"
STAGE = "title-abstract"
BIG = "scale-big"
P95_TARGET_MS = 50.0
RATIO_TARGET = 1.2
DUPLICATE_EVERY = 4  # a quarter of the records are duplicates
PAIR_EVERY = 20
CONFLICT_EVERY = 10
POOL = 4_000  # distinct abstracts and titles drawn, reused with a record number

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


# ---------------------------------------------------------------- build (subprocess)


def _defaults(model: Any) -> dict[str, Any]:
    """Each column's default as ``COPY`` takes it (JSON as text)."""
    out: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        value = f.get_default() if (f.has_default() or f.empty_strings_allowed) else None
        if isinstance(value, dict | list):
            value = json.dumps(value)
        out[f.column] = value
    return out


class Copier:
    """Rows of one model through ``COPY``, ids given (so votes can be referred to)."""

    def __init__(self, cursor: Any, model: Any) -> None:
        self.model = model
        self.defaults = _defaults(model)
        self.columns = ["id", *self.defaults]
        table = model._meta.db_table
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608
        self.next_id = cursor.fetchone()[0] + 1
        cols = ", ".join(f'"{c}"' for c in self.columns)
        self.copy = cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN")  # noqa: S608
        self.writer = self.copy.__enter__()
        self.rows = 0

    def write(self, **values: Any) -> int:
        row_id = self.next_id
        self.next_id += 1
        merged = {**self.defaults, **values}
        self.writer.write_row([row_id, *(merged[c] for c in self.columns[1:])])
        self.rows += 1
        return row_id

    def close(self, cursor: Any) -> None:
        self.copy.__exit__(None, None, None)
        table = self.model._meta.db_table
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )


def worker_build(sizes: list[int], load_users: int, big_screened: float) -> dict[str, Any]:
    """Migrate, then write the reviews of ``sizes`` (the first is ``scale-big``)."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from reviewflow.reviews.models import AuditEvent, Role
    from reviewflow.reviews.services import add_member, create_review
    from screening.models import (
        Conflict,
        DuplicatePair,
        Outcome,
        Record,
        ScreeningState,
        Search,
        SearchStatus,
        Vote,
    )

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        empty_bytes = cursor.fetchone()[0]
    rng = random.Random(2025)
    abstracts = [base._abstract(rng) for _ in range(POOL)]
    titles = [base._sentence(rng).rstrip(".") for _ in range(POOL)]
    now = timezone.now()
    owner = User.objects.create_user("scale-owner")
    earlier = [User.objects.create_user(f"scale-earlier-{n}") for n in (1, 2)]
    load = [User.objects.create_user(f"scale-load-{n:02d}") for n in range(load_users)]
    tokens = [Token.objects.create(user=u).key for u in load]
    reviews = []
    searches = []
    for n, size in enumerate(sizes):
        slug = BIG if n == 0 else f"scale-{n:03d}"
        review = create_review(title=f"Scale review {n}", slug=slug, owner=owner)
        for user in earlier:
            add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
        reviews.append(review)
        searches.append(
            Search.objects.create(
                review=review,
                source="MEDLINE",
                filename=f"{slug}.ris",
                format="ris",
                status=SearchStatus.DONE,
                records_read=size,
                records_imported=size,
                created_by=owner,
            )
        )
    # Half the load users screen the big review; the others one of the next largest each.
    half = load_users // 2
    slugs = []
    for i, user in enumerate(load):
        others = len(reviews) - 1
        review = reviews[0] if i < half or not others else reviews[1 + (i - half) % others]
        if not review.memberships.filter(user=user).exists():
            add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
        slugs.append(review.slug)
    setup = time.perf_counter()

    counts = dict.fromkeys(("records", "votes", "outcomes", "conflicts", "pairs", "audit"), 0)
    with transaction.atomic(), connection.cursor() as cursor:
        for review, search, size in zip(reviews, searches, sizes, strict=True):
            screened_share = big_screened if review.slug == BIG else rng.random()
            records = Copier(cursor, Record)
            ids: list[int] = []
            unique: list[int] = []
            for pos in range(1, size + 1):
                k = rng.randrange(POOL)
                title = f"{titles[k]} ({review.pk}.{pos})"
                authors = [f"{rng.choice(base._SURNAMES)}, {rng.choice('ABCDEFGH')}."] * 3
                year = rng.randint(1995, 2024)
                journal = rng.choice(base._JOURNALS)
                pmid = str(review.pk * 10_000_000 + pos)
                doi = f"10.{1000 + review.pk}/scale.{pos}"
                duplicate = pos > 1 and pos % DUPLICATE_EVERY == 2
                raw = {"TY": ["JOUR"], "TI": [title], "AU": authors, "PY": [str(year)]}
                raw |= {"JO": [journal], "DO": [doi], "AB": [abstracts[k]]}
                rid = records.write(
                    review_id=review.pk,
                    search_id=search.pk,
                    position=pos,
                    line=1 + (pos - 1) * 24,
                    source_record_id=pmid,
                    title=title,
                    abstract=abstracts[k],
                    authors=json.dumps(authors),
                    year=year,
                    journal=journal,
                    doi=doi,
                    pmid=pmid,
                    language="eng",
                    publication_type="JOUR",
                    raw=json.dumps(raw),
                    duplicate_of_id=ids[-1] if duplicate else None,
                    merge_kind="auto" if duplicate else "",
                    created_at=now,
                )
                ids.append(rid)
                if not duplicate:
                    unique.append(rid)
            records.close(cursor)
            counts["records"] += records.rows
            pairs = Copier(cursor, DuplicatePair)
            for pos in range(PAIR_EVERY, size, PAIR_EVERY):
                pairs.write(
                    review_id=review.pk,
                    record_a_id=ids[pos - 1],
                    record_b_id=ids[pos],
                    score=round(rng.uniform(0.5, 0.95), 3),
                    reasons=json.dumps(["title", "year"]),
                    decision="pending" if rng.random() < 0.3 else "confirmed",
                    created_at=now,
                )
            pairs.close(cursor)
            counts["pairs"] += pairs.rows
            # Screened: a prefix of the unique records in the order next offers them
            # (``record_screening_order``).
            unique.sort(key=lambda rid: (rid * 7919 % 10007, rid))
            screened = unique[: int(len(unique) * screened_share)]
            # One COPY at a time on a connection: each table in its own pass.
            votes = Copier(cursor, Vote)
            vote_ids = []
            for rid in screened:
                decision = "include" if rid % 5 == 0 else "exclude"
                for slot, user in enumerate(earlier, start=1):
                    vote_ids.append(
                        votes.write(
                            review_id=review.pk,
                            record_id=rid,
                            stage=STAGE,
                            reviewer_id=user.pk,
                            slot=slot,
                            decision=decision,
                            created_at=now,
                        )
                    )
            votes.close(cursor)
            states = Copier(cursor, ScreeningState)
            for rid in screened:
                states.write(review_id=review.pk, record_id=rid, stage=STAGE, votes=2, closed=True)
            states.close(cursor)
            conflicts = Copier(cursor, Conflict)
            for n, rid in enumerate(screened):
                if n % CONFLICT_EVERY == 3:
                    conflicts.write(review_id=review.pk, record_id=rid, stage=STAGE, created_at=now)
            conflicts.close(cursor)
            outcomes = Copier(cursor, Outcome)
            outcome_ids = []
            for n, rid in enumerate(screened):
                if n % CONFLICT_EVERY == 3:
                    continue
                outcome_ids.append(
                    outcomes.write(
                        review_id=review.pk,
                        record_id=rid,
                        stage=STAGE,
                        decision="include" if rid % 5 == 0 else "exclude",
                        kind="agreement",
                        created_at=now,
                    )
                )
            outcomes.close(cursor)
            audit = Copier(cursor, AuditEvent)
            for object_type, object_ids in (("vote", vote_ids), ("outcome", outcome_ids)):
                for oid in object_ids:
                    audit.write(
                        review_id=review.pk,
                        actor_id=earlier[0].pk,
                        action=f"{object_type}.created",
                        target=f"{object_type} {oid}",
                        object_type=object_type,
                        object_id=oid,
                        created_at=now,
                    )
            audit.close(cursor)
            counts["votes"] += votes.rows
            counts["outcomes"] += outcomes.rows
            counts["conflicts"] += conflicts.rows
            counts["audit"] += audit.rows
    copied = time.perf_counter()
    connection.cursor().execute("VACUUM ANALYZE")
    analysed = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size_bytes = cursor.fetchone()[0]
    return {
        "tokens": tokens,
        "slugs": slugs,
        "counts": counts,
        "migrate_s": migrated - started,
        "copy_s": copied - setup,
        "analyse_s": analysed - copied,
        "total_s": analysed - started,
        "bytes": size_bytes,
        "empty_bytes": empty_bytes,
    }


# ---------------------------------------------------------------- pages (subprocess)

PAGES = {
    "records list, page 1": f"/r/{BIG}/records/",
    "records list, middle page": f"/r/{BIG}/records/?page=MIDDLE",
    "records API, page 1": f"/api/v1/reviews/{BIG}/records/",
    "records API, middle page": f"/api/v1/reviews/{BIG}/records/?page=MIDDLE",
    "PRISMA (API)": f"/api/v1/reviews/{BIG}/prisma/",
    "PRISMA page": f"/r/{BIG}/prisma/",
    "duplicate queue": f"/r/{BIG}/duplicates/",
    "export all records (CSV)": f"/r/{BIG}/exports/records-all.csv",
}


def worker_pages(repeat: int, big: int) -> dict[str, Any]:
    """Each of ``PAGES`` timed; the middle page is half way through the big review's
    records, 50 a page (the page size of the list and of the API)."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username="scale-owner"))
    out: dict[str, Any] = {}
    for name, url in PAGES.items():
        url = url.replace("MIDDLE", str(max(1, big // 100)))
        times = []
        for _ in range(repeat + 1):  # the first warms caches and is not counted
            started = time.perf_counter()
            response: Any = client.get(url)
            size = len(b"".join(response.streaming_content)) if response.streaming else 0
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {response.status_code}")
        out[name] = {"ms": statistics.median(times[1:]), "bytes": size}
    return out


def worker_plans() -> dict[str, Any]:
    """The plan check of ``tests/screening/test_scale_plans.py`` on this database: every
    read-only hot path's queries explained, problems listed (the test's own data is far
    smaller; here the planner sees the real proportions)."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tests.screening import test_scale_plans as plans

    client = Client()
    client.force_login(User.objects.get(username="scale-owner"))
    out: dict[str, list[str]] = {}
    for name, visit in plans.HOT_PATHS.items():
        if name.startswith(("next", "screening page")):
            continue  # they write (a vote, a claim): left to the load above
        with CaptureQueriesContext(connection) as ctx:
            visit(client, BIG)
        out[name] = plans.explain_all(list(ctx.captured_queries))
    return out


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
        "pairs": len(server_ms),
        "all_pairs": sum(len(t.server_ms) for t in every),
        "server_p95": base.percentile(server_ms, 95),
        "server_p50": base.percentile(server_ms, 50),
        "client_p95": base.percentile(client_ms, 95),
        "errors": sum(t.errors for t in every),
        "samples": [s for t in every for s in t.samples][:3],
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

        loads = {}
        for name, url in (("hosted", args.database_url), ("fresh", args.fresh_url)):
            build = builds[name]
            pairs = list(zip(build["slugs"], build["tokens"], strict=True))
            chosen = [p for p in pairs if p[0] == BIG][: args.reviewers]
            if name == "hosted":
                chosen += [p for p in pairs if p[0] != BIG][: args.others]
            print(f"screening load on {name}: {len(chosen)} reviewers …", flush=True)
            loads[name] = run_load(url, data_dir, chosen, args.duration, think)
        pages = {
            name: _worker(url, data_dir, "pages", str(args.repeat), str(args.big))
            for name, url in (("hosted", args.database_url), ("fresh", args.fresh_url))
        }
        plan_problems = _worker(args.database_url, data_dir, "plans")
    finally:
        if not args.keep:
            for url in created:
                _pg("dropdb", url)
        shutil.rmtree(data_dir, ignore_errors=True)

    h, f = loads["hosted"], loads["fresh"]
    print(f"\nNext + vote of the big review's {args.reviewers} reviewers, {args.duration:.0f} s")
    print(f"{'':34}{'hosted':>10}{'fresh':>10}{'ratio':>8}")
    for label, key in (
        ("p95 inside Django (ms)", "server_p95"),
        ("median inside Django (ms)", "server_p50"),
        ("p95 at the client (ms)", "client_p95"),
    ):
        print(f"{label:34}{_ms(h[key]):>10}{_ms(f[key]):>10}{_ratio(h[key], f[key]):>8}")
    print(f"{'pairs timed (all reviewers)':34}{h['pairs']:>5} ({h['all_pairs']}){f['pairs']:>10}")
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
    server_ok = h["server_p95"] is not None and h["server_p95"] < P95_TARGET_MS
    ratio_ok = bool(h["server_p95"] and f["server_p95"]) and (
        h["server_p95"] <= f["server_p95"] * RATIO_TARGET
    )
    print(
        f"\nnext + vote p95 under {P95_TARGET_MS:.0f} ms: {'PASS' if server_ok else 'FAIL'}; "
        f"within 20 % of fresh: {'PASS' if ratio_ok else 'FAIL'}; "
        f"pages within 20 % of fresh: {'PASS' if ok else 'FAIL'}"
    )
    return 0 if server_ok and ratio_ok and ok and not h["errors"] else 1


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
    parser.add_argument("--think", default="1:3", help="seconds reading, MIN:MAX; 0 for none")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=HOSTED_URL)
    parser.add_argument("--fresh-url", default=FRESH_URL)
    parser.add_argument("--keep", action="store_true", help="keep both databases")
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        if kind == "plans":
            result = worker_plans()
        elif kind == "build":
            result = worker_build(json.loads(rest[0]), int(rest[1]), float(rest[2]))
        else:
            result = worker_pages(int(rest[0]), int(rest[1]))
        print(json.dumps(result))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
