"""Benchmark of screening under load: reviewers asking for the next record and voting.

Run by hand (not in tests)::

    .venv/bin/python bench/screening.py               # 5,000 and 50,000 records, 20 reviewers, 30 s
    .venv/bin/python bench/screening.py --quick       # 2,000 and 10,000 records, 5 reviewers, 10 s
    .venv/bin/python bench/screening.py --records 100000 --reviewers 10 --seconds 60

For each size, from nothing:

1. **Database**: a fresh PostgreSQL database ``reviewflow_bench_screening`` on 127.0.0.1
   (``dropdb``/``createdb -U postgres``), migrated in a subprocess with
   ``DJANGO_SETTINGS_MODULE=reviewflow.settings``, ``DEBUG=1``, ``CELERY_TASK_ALWAYS_EAGER=1``
   and a temporary ``REVIEWFLOW_DATA_DIR``. The same subprocess makes an owner and the
   reviewers (``create_review``, ``add_member`` with role reviewer, one API token each), one
   finished ``Search`` and the records with ``Record.objects.bulk_create`` (direct ORM inserts
   for the set-up only: titles, ~1,500-character abstracts, five authors, keywords and a
   ``raw`` copy of the fields as an import keeps it), then ``ANALYZE`` (what autovacuum
   would do shortly after a real import). The title/abstract stage keeps its default of two
   reviewers per record.
2. **Server**: ``gunicorn reviewflow.wsgi --workers 2 --threads 4`` on a free port of
   127.0.0.1 with ``DEBUG=0`` (no query logging; the HTTPS-only settings switched off for
   plain HTTP on loopback). Its access log records each request's time inside the server
   (gunicorn's ``%(D)s``), so the table can show server time beside client time.
3. **Load**: one thread per reviewer, each with its own keep-alive ``http.client``
   connection and ``Authorization: Token …``. After one untimed warm-up ``next`` per
   reviewer, each loops for ``--seconds``: ``GET …/screening/title-abstract/next/`` then
   ``POST …/votes/`` (include 30 %, exclude 60 %, maybe 10 %), until the time is up or
   ``next`` answers 204. A *pair* is one ``next`` (200) plus its vote; its time is measured
   at the client with ``time.perf_counter`` on loopback, so it includes HTTP, JSON and
   waiting for a free server thread, and the client threads share the machine's CPUs with
   the server and PostgreSQL.
   CPU use during the timed run is read from ``/proc``: the whole machine, the client
   (this process), gunicorn and its workers, the PostgreSQL backends of the benchmark's
   database, and the rest (other work on the machine).

   The reviewers do not pause between pairs, so they keep the server saturated: by
   Little's law a pair then takes about reviewers ÷ throughput, and the p95 target is
   met only if the machine serves a pair in a small fraction of 50 ms. ``--reviewers 1``
   shows the time of one pair without queueing.
4. **Checks by SQL** afterwards: no record has more votes than the stage needs, every
   record with all its votes has exactly one outcome or conflict, and the review's votes
   equal the 201 responses the reviewers received.

Errors are responses other than 200/204 (``next``) and 201 (vote), and failed connections;
409 "already has all the votes" (two reviewers racing for a record's last vote) is counted
apart, as the vote slots refusing it is the designed behaviour.

The table ends with two targets: p95 of a next+vote pair under 50 ms at every size, and no
growth with the number of records (p95 at the largest size at most 1.5× p95 at the
smallest).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PG_HOST, PG_USER, PG_DATABASE = "127.0.0.1", "postgres", "reviewflow_bench_screening"
PG_URL = f"postgres://{PG_USER}@{PG_HOST}:5432/{PG_DATABASE}"
HOST = "127.0.0.1"
STAGE = "title-abstract"
SLUG = "screening-bench"
P95_TARGET_MS = 50.0
GROWTH_TARGET = 1.5
RACE_MESSAGE = "already has all the votes"
DECISIONS = (("include", 0.3), ("exclude", 0.6), ("maybe", 0.1))

# ---------------------------------------------------------------- set-up (subprocess)


def _wordlist(text: str) -> list[str]:
    return text.split()


_WORDS = _wordlist("""
patients treatment outcome randomised controlled trial cohort study effect risk association
clinical intervention placebo mortality incidence prevalence adults children women men
hospital primary care follow-up months years baseline analysis regression model adjusted
odds ratio hazard confidence interval significant difference group compared dose therapy
chronic acute disease disorder symptoms quality life depression anxiety pain diabetes
hypertension cardiovascular cancer infection vaccine exposure screening diagnosis
sensitivity specificity accuracy biomarker serum plasma levels expression evidence
systematic review meta-analysis observational cross-sectional survey questionnaire
participants recruited enrolled eligible criteria primary secondary endpoint efficacy
safety adverse events reduction increase improvement measured assessed reported observed
population community national rural urban income education health services costs access
""")
_SURNAMES = _wordlist("""
Smith Johnson Garcia Miller Davis Martinez Wilson Anderson Taylor Moore Lee Thompson White
Harris Clark Lewis Walker Young King Wright Scott Green Baker Wang Li Zhang Liu Chen Kim
Park Nguyen Singh Kumar Patel Tanaka Suzuki Rossi Ferrari Schmidt Fischer Weber Jansen
""")
_JOURNALS = (
    "BMJ",
    "The Lancet",
    "JAMA",
    "PloS one",
    "BMC public health",
    "Journal of clinical epidemiology",
    "Diabetes care",
    "Journal of affective disorders",
)
_HEADINGS = ("BACKGROUND", "OBJECTIVE", "METHODS", "RESULTS", "CONCLUSIONS")


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(_WORDS, k=rng.randint(10, 24))).capitalize() + "."


def _abstract(rng: random.Random) -> str:
    target = rng.randint(1300, 1700)  # about 1,500 characters
    parts: list[str] = []
    size = 0
    while size < target:
        sentence = _sentence(rng)
        heading = len(parts) // 3
        if len(parts) % 3 == 0 and heading < len(_HEADINGS):
            sentence = f"{_HEADINGS[heading]}: {sentence}"
        parts.append(sentence)
        size += len(sentence) + 1
    return " ".join(parts)


def _record_fields(n: int, rng: random.Random) -> dict[str, Any]:
    title = _sentence(rng).rstrip(".")
    abstract = _abstract(rng)
    authors = [f"{rng.choice(_SURNAMES)}, {rng.choice('ABCDEFGHJKLMNPRS')}." for _ in range(5)]
    keywords = [" ".join(rng.choices(_WORDS, k=rng.randint(1, 3))) for _ in range(5)]
    year, journal = rng.randint(1995, 2024), rng.choice(_JOURNALS)
    pmid = str(20_000_000 + n)
    doi = f"10.{rng.randint(1000, 9999)}/bench.{pmid}"
    raw = {
        "TY": ["JOUR"],
        "TI": [title],
        "AU": authors,
        "PY": [str(year)],
        "JO": [journal],
        "DO": [doi],
        "AB": [abstract],
        "KW": keywords,
    }
    return {
        "position": n,
        "line": 1 + (n - 1) * 24,
        "source_record_id": pmid,
        "title": title,
        "abstract": abstract,
        "authors": authors,
        "year": year,
        "journal": journal,
        "volume": str(rng.randint(1, 400)),
        "issue": str(rng.randint(1, 12)),
        "pages": f"{rng.randint(1, 900)}-{rng.randint(901, 999)}",
        "doi": doi,
        "pmid": pmid,
        "keywords": keywords,
        "language": "eng",
        "publication_type": "Journal Article",
        "raw": raw,
    }


def worker_setup(records: int, reviewers: int) -> dict[str, Any]:
    """Migrate, then make the review, its people and ``records`` records; return tokens."""
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from reviewflow.reviews.models import Role
    from reviewflow.reviews.services import add_member, create_review
    from screening.models import Record, Search, SearchStatus
    from screening.services.screening import get_stage_settings

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("bench-owner")
    review = create_review(title="Screening benchmark", slug=SLUG, owner=owner)
    tokens: list[str] = []
    for n in range(1, reviewers + 1):
        user = User.objects.create_user(f"bench-reviewer-{n:02d}")
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
        tokens.append(Token.objects.create(user=user).key)
    search = Search.objects.create(
        review=review,
        source="Benchmark",
        filename="bench.ris",
        format="ris",
        status=SearchStatus.DONE,
        records_read=records,
        records_imported=records,
        created_by=owner,
    )
    needed = get_stage_settings(review, STAGE).reviewers_needed
    rng = random.Random(records)
    batch = 2_000
    for start in range(1, records + 1, batch):
        Record.objects.bulk_create(
            Record(review=review, search=search, **_record_fields(n, rng))
            for n in range(start, min(start + batch, records + 1))
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "tokens": tokens,
        "needed": needed,
        "seconds": time.perf_counter() - started,
    }


def worker_verify(needed: int) -> dict[str, Any]:
    """Invariants after the run, checked in SQL over the whole database."""
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.db import connection

    from screening.models import Conflict, Outcome, Vote

    # Table names come from the models, never from input: the f-strings below are safe.
    votes, outcomes, conflicts = (m._meta.db_table for m in (Vote, Outcome, Conflict))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {votes} WHERE stage = %s", [STAGE])  # noqa: S608
        (total,) = cursor.fetchone()
        cursor.execute(
            f"SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM {votes} "  # noqa: S608
            "WHERE stage = %s GROUP BY record_id) AS per_record",
            [STAGE],
        )
        (most,) = cursor.fetchone()
        # Records whose votes are complete but that have no outcome and no conflict, or both.
        cursor.execute(
            f"""
            SELECT count(*) FROM (
                SELECT record_id FROM {votes} WHERE stage = %s
                GROUP BY record_id HAVING count(*) = %s
            ) AS complete
            WHERE (SELECT count(*) FROM {outcomes} o
                   WHERE o.record_id = complete.record_id AND o.stage = %s)
                + (SELECT count(*) FROM {conflicts} c
                   WHERE c.record_id = complete.record_id AND c.stage = %s) <> 1
            """,  # noqa: S608
            [STAGE, needed, STAGE, STAGE],
        )
        (unsettled,) = cursor.fetchone()
        cursor.execute(
            f"SELECT (SELECT count(*) FROM {outcomes} WHERE stage = %s), "  # noqa: S608
            f"(SELECT count(*) FROM {conflicts} WHERE stage = %s)",
            [STAGE, STAGE],
        )
        n_outcomes, n_conflicts = cursor.fetchone()
    return {
        "votes": total,
        "most_votes": most,
        "unsettled": unsettled,
        "outcomes": n_outcomes,
        "conflicts": n_conflicts,
    }


# ---------------------------------------------------------------- load (threads)


@dataclass
class Tally:
    """What one reviewer thread saw."""

    pairs_ms: list[float] = field(default_factory=list)
    next_ms: list[float] = field(default_factory=list)
    vote_ms: list[float] = field(default_factory=list)
    created: int = 0
    races: int = 0
    errors: int = 0
    finished: bool = False  # next answered 204
    samples: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.samples) < 3:
            self.samples.append(what[:200])


class Reviewer(threading.Thread):
    def __init__(self, port: int, token: str, seed: int, start: threading.Event) -> None:
        super().__init__(daemon=True)
        self.start_event = start
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self.rng = random.Random(seed)
        self.deadline = 0.0
        self.tally = Tally()
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        base = f"/api/v1/reviews/{SLUG}/screening/{STAGE}"
        self.next_url, self.votes_url = f"{base}/next/", f"{base}/votes/"

    def request(self, method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, url, body=body, headers=headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()  # the next request opens a new connection
            return 0, repr(exc).encode()

    def warm_up(self) -> None:
        """One untimed ``next``: the record it claims is the one the timed loop gets first."""
        status, body = self.request("GET", self.next_url)
        if status not in (200, 204):
            self.tally.error(f"warm-up next {status}: {body[:200]!r}")

    def run(self) -> None:
        self.start_event.wait()
        tally = self.tally
        while time.perf_counter() < self.deadline:
            started = time.perf_counter()
            status, body = self.request("GET", self.next_url)
            got_next = time.perf_counter()
            if status == 204:
                tally.finished = True
                return
            if status != 200:
                tally.error(f"next {status}: {body[:200]!r}")
                continue
            record = json.loads(body)["id"]
            decision = self.rng.choices(
                [d for d, _ in DECISIONS], weights=[w for _, w in DECISIONS]
            )[0]
            payload = json.dumps({"record": record, "decision": decision}).encode()
            status, body = self.request("POST", self.votes_url, payload)
            done = time.perf_counter()
            tally.next_ms.append((got_next - started) * 1000)
            tally.vote_ms.append((done - got_next) * 1000)
            tally.pairs_ms.append((done - started) * 1000)
            if status == 201:
                tally.created += 1
            elif status == 409 and RACE_MESSAGE.encode() in body:
                tally.races += 1
            else:
                tally.error(f"vote {status}: {body[:200]!r}")


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (``None`` for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


# ---------------------------------------------------------------- CPU accounting (Linux)

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class CpuUse:
    """CPU seconds spent during the timed run: the whole machine, this process (the client
    threads), gunicorn and its workers, and the PostgreSQL backends serving the benchmark's
    database (found by its name in their process titles); the rest is other work."""

    wall: float
    machine: float
    client: float
    server: float
    database: float

    @property
    def other(self) -> float:
        return self.machine - self.client - self.server - self.database

    def __sub__(self, other: CpuUse) -> CpuUse:
        return CpuUse(
            self.wall - other.wall,
            self.machine - other.machine,
            self.client - other.client,
            self.server - other.server,
            self.database - other.database,
        )


def _proc_cpu(pid: int) -> tuple[int, float]:
    """(parent pid, user+system CPU seconds) of ``pid`` from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def cpu_snapshot(server_pid: int) -> CpuUse | None:
    try:
        line = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        ticks = [int(v) for v in line[:8]]  # user nice system idle iowait irq softirq steal
        busy = (sum(ticks) - ticks[3] - ticks[4]) / _TICK
        server = database = 0.0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid, used = _proc_cpu(int(entry.name))
                title = (entry / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            if int(entry.name) == server_pid or ppid == server_pid:
                server += used
            elif title.startswith(b"postgres: ") and f" {PG_DATABASE} ".encode() in title:
                database += used
    except OSError:
        return None
    return CpuUse(time.perf_counter(), busy, time.process_time(), server, database)


# ---------------------------------------------------------------- driver


@dataclass
class Result:
    records: int
    reviewers: int
    seconds: float = 0.0
    pairs_ms: list[float] = field(default_factory=list)
    next_ms: list[float] = field(default_factory=list)
    vote_ms: list[float] = field(default_factory=list)
    server_next_ms: list[float] = field(default_factory=list)
    server_vote_ms: list[float] = field(default_factory=list)
    created: int = 0
    races: int = 0
    errors: int = 0
    finished: bool = False
    samples: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    needed: int = 2
    setup_seconds: float = 0.0
    cpu: CpuUse | None = None

    @property
    def throughput(self) -> float:
        return len(self.pairs_ms) / self.seconds if self.seconds else 0.0


def _self(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def _run_json(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``cmd`` and read the JSON object it prints on its last line of output."""
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=REPO)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(cmd[1:4])} … failed ({done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _pg(command: str) -> subprocess.CompletedProcess[str]:
    extra = ["--if-exists"] if command == "dropdb" else []
    return subprocess.run(
        [command, "-h", PG_HOST, "-U", PG_USER, *extra, PG_DATABASE],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _env(data_dir: Path, *, server: bool) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": PG_URL,
        "DJANGO_SETTINGS_MODULE": "reviewflow.settings",
        "REVIEWFLOW_DATA_DIR": str(data_dir),
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "DEBUG": "1",
        "LOG_LEVEL": "ERROR",
    }
    env.pop("REDIS_URL", None)
    if server:
        env.update(
            {
                "DEBUG": "0",
                "SECRET_KEY": "bench",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_SSL_REDIRECT": "0",
                "SESSION_COOKIE_SECURE": "0",
                "CSRF_COOKIE_SECURE": "0",
                "SECURE_HSTS_SECONDS": "0",
            }
        )
    return env


def _start_server(data_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    access_log = data_dir / "access.log"
    error_log = data_dir / "gunicorn.log"
    # Django logs every 409 as a warning: keep that out of the table, in the error log.
    log = error_log.open("ab")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "reviewflow.wsgi",
            "--workers",
            "2",
            "--threads",
            "4",
            "--bind",
            f"{HOST}:{port}",
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            "%(m)s %(U)s %(s)s %(D)s",
            "--error-logfile",
            str(error_log),
        ],
        cwd=REPO,
        env=_env(data_dir, server=True),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()  # the child keeps its own descriptor
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode}): {_tail(error_log)}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return server, access_log
            conn.close()
        except OSError:
            pass  # not listening yet: try again
        time.sleep(0.2)
    _stop_server(server)
    raise RuntimeError(f"gunicorn did not answer /healthz within 60 s: {_tail(error_log)}")


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text().splitlines()[-lines:])
    except OSError:
        return ""


def _server_times(access_log: Path, skip: int) -> tuple[list[float], list[float]]:
    """Server-side ms of the ``next`` and vote requests, after the first ``skip`` lines."""
    next_ms: list[float] = []
    vote_ms: list[float] = []
    for line in access_log.read_text().splitlines()[skip:]:
        parts = line.split()
        if len(parts) != 4:
            continue
        method, url, _status, micros = parts
        if method == "GET" and url.endswith("/next/"):
            next_ms.append(int(micros) / 1000)
        elif method == "POST" and url.endswith("/votes/"):
            vote_ms.append(int(micros) / 1000)
    return next_ms, vote_ms


def _count_lines(path: Path) -> int:
    # gunicorn flushes each access log line as it writes it.
    return len(path.read_text().splitlines()) if path.exists() else 0


def run_size(records: int, reviewers: int, seconds: float) -> Result:
    """Fresh database, set-up, server, load, checks, clean-up: one row of the table."""
    result = Result(records=records, reviewers=reviewers)
    data_dir = Path(tempfile.mkdtemp(prefix="reviewflow-bench-screening-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        _pg("dropdb")
        created = _pg("createdb")
        if created.returncode != 0:
            raise RuntimeError(f"createdb failed: {created.stderr.strip()}")
        print(f"{records:,} records: migrating and creating the review …", flush=True)
        setup = _run_json(
            _self("--worker", "setup", str(records), str(reviewers)),
            _env(data_dir, server=False),
        )
        result.needed, result.setup_seconds = setup["needed"], setup["seconds"]
        port = _free_port()
        server, access_log = _start_server(data_dir, port)
        go = threading.Event()
        threads = [
            Reviewer(port, token, seed=n, start=go) for n, token in enumerate(setup["tokens"])
        ]
        for thread in threads:
            thread.warm_up()
            # gunicorn closes connections idle for 2 s: open a fresh one for the timed loop.
            thread.conn.close()
        skip = _count_lines(access_log)
        print(
            f"  set-up {result.setup_seconds:.0f} s; {reviewers} reviewers screening for "
            f"{seconds:g} s on port {port} …",
            flush=True,
        )
        for thread in threads:
            thread.start()
        cpu_before = cpu_snapshot(server.pid)
        started = time.perf_counter()
        for thread in threads:
            thread.deadline = started + seconds
        go.set()
        for thread in threads:
            thread.join()
        result.seconds = time.perf_counter() - started
        cpu_after = cpu_snapshot(server.pid)
        if cpu_before and cpu_after:
            result.cpu = cpu_after - cpu_before
        for thread in threads:
            thread.conn.close()
            tally = thread.tally
            result.pairs_ms += tally.pairs_ms
            result.next_ms += tally.next_ms
            result.vote_ms += tally.vote_ms
            result.created += tally.created
            result.races += tally.races
            result.errors += tally.errors
            result.finished |= tally.finished
            result.samples += tally.samples
        _stop_server(server)
        result.server_next_ms, result.server_vote_ms = _server_times(access_log, skip)
        result.checks = _run_json(
            _self("--worker", "verify", str(result.needed), "-"), _env(data_dir, server=False)
        )
    finally:
        if server is not None:
            _stop_server(server)
        _pg("dropdb")
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _print_rows(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = [header, *rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for n, line in enumerate(table):
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths)))
        if n == 0:
            print("  ".join("-" * width for width in widths))


def print_report(results: list[Result]) -> bool:
    print("\nnext+vote pairs, measured at the client (loopback):")
    _print_rows(
        (
            "records",
            "reviewers",
            "pairs",
            "pairs/s",
            "median ms",
            "p95 ms",
            "p99 ms",
            "errors",
            "409 races",
        ),
        [
            (
                f"{r.records:,}",
                str(r.reviewers),
                f"{len(r.pairs_ms):,}",
                f"{r.throughput:.1f}",
                _ms(percentile(r.pairs_ms, 50)),
                _ms(percentile(r.pairs_ms, 95)),
                _ms(percentile(r.pairs_ms, 99)),
                str(r.errors),
                str(r.races),
            )
            for r in results
        ],
    )
    print("\nper request (client | inside gunicorn, from its access log):")
    _print_rows(
        (
            "records",
            "next p50",
            "next p95",
            "vote p50",
            "vote p95",
            "| srv next p50",
            "srv next p95",
            "srv vote p50",
            "srv vote p95",
        ),
        [
            (
                f"{r.records:,}",
                _ms(percentile(r.next_ms, 50)),
                _ms(percentile(r.next_ms, 95)),
                _ms(percentile(r.vote_ms, 50)),
                _ms(percentile(r.vote_ms, 95)),
                _ms(percentile(r.server_next_ms, 50)),
                _ms(percentile(r.server_next_ms, 95)),
                _ms(percentile(r.server_vote_ms, 50)),
                _ms(percentile(r.server_vote_ms, 95)),
            )
            for r in results
        ],
    )
    print(
        "\nCPU seconds during the timed run (per second of wall time; the machine has "
        f"{os.cpu_count()} CPUs):"
    )
    _print_rows(
        ("records", "machine busy", "client", "gunicorn", "PostgreSQL", "other work"),
        [
            (
                f"{r.records:,}",
                f"{r.cpu.machine / r.cpu.wall:.2f}",
                f"{r.cpu.client / r.cpu.wall:.2f}",
                f"{r.cpu.server / r.cpu.wall:.2f}",
                f"{r.cpu.database / r.cpu.wall:.2f}",
                f"{r.cpu.other / r.cpu.wall:.2f}",
            )
            for r in results
            if r.cpu is not None
        ],
    )
    for r in results:
        if r.finished:
            print(f"  note: {r.records:,}: the review ran out of records (204) before the time")
        for sample in r.samples:
            print(f"  error at {r.records:,}: {sample}")

    ok = True
    print("\nChecks (SQL, after each run):")
    for r in results:
        c = r.checks
        checks = (
            (
                f"most votes on one record {c['most_votes']} ≤ {r.needed} needed",
                c["most_votes"] <= r.needed,
            ),
            (
                f"votes in the database {c['votes']:,} = 201 responses {r.created:,}",
                c["votes"] == r.created,
            ),
            (
                f"records with all votes but not exactly one outcome or conflict: {c['unsettled']}"
                f" (outcomes {c['outcomes']:,}, conflicts {c['conflicts']:,})",
                c["unsettled"] == 0,
            ),
        )
        for text, passed in checks:
            ok &= passed
            print(f"  {'PASS' if passed else 'FAIL'}  {r.records:,}: {text}")

    print(f"\nTarget 1: p95 of a next+vote pair under {P95_TARGET_MS:g} ms")
    for r in results:
        p95 = percentile(r.pairs_ms, 95)
        passed = p95 is not None and p95 < P95_TARGET_MS
        ok &= passed
        print(f"  {'PASS' if passed else 'FAIL'}  {r.records:,} records: {_ms(p95)} ms")
    small, large = results[0], results[-1]
    p95_small, p95_large = percentile(small.pairs_ms, 95), percentile(large.pairs_ms, 95)
    print(
        f"\nTarget 2: no growth between {small.records:,} and {large.records:,} records "
        f"(p95 ratio ≤ {GROWTH_TARGET:g}×)"
    )
    if p95_small and p95_large is not None:
        ratio = p95_large / p95_small
        passed = ratio <= GROWTH_TARGET
        ok &= passed
        print(
            f"  {'PASS' if passed else 'FAIL'}  {ratio:.2f}× "
            f"({_ms(p95_large)} ms / {_ms(p95_small)} ms)"
        )
    else:
        ok = False
        print("  FAIL  not measured")
    return ok


def run_bench(args: argparse.Namespace) -> int:
    sizes = (2_000, 10_000) if args.quick else (5_000, args.records)
    reviewers = args.reviewers or (5 if args.quick else 20)
    seconds = args.seconds or (10.0 if args.quick else 30.0)
    sizes = tuple(sorted(set(sizes)))
    probe = _pg("dropdb")
    if probe.returncode != 0:
        print(f"PostgreSQL unreachable at {PG_HOST}: {probe.stderr.strip()}")
        return 2
    results = [run_size(records, reviewers, seconds) for records in sizes]
    load = os.getloadavg()
    print(
        f"\n{reviewers} reviewers, {seconds:g} s per size, gunicorn 2 workers × 4 threads, "
        f"PostgreSQL on 127.0.0.1; {os.cpu_count()} CPUs shared by client, server and "
        f"database; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    return 0 if print_report(results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=50_000, help="the larger size")
    parser.add_argument("--reviewers", type=int, default=0, help="default 20 (--quick: 5)")
    parser.add_argument("--seconds", type=float, default=0, help="default 30 (--quick: 10)")
    parser.add_argument("--quick", action="store_true", help="2,000 and 10,000 records")
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "A", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, a, b = args.worker
        work = worker_setup(int(a), int(b)) if kind == "setup" else worker_verify(int(a))
        print(json.dumps(work))
        return 0
    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
