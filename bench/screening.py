"""Benchmark of screening: server time of a reviewer's next + vote, with 20 reviewers at once.

Run by hand (not in tests)::

    .venv/bin/python bench/screening.py               # 5,000 and 50,000 records, 20 reviewers
    .venv/bin/python bench/screening.py --quick       # 2,000 and 10,000 records, 5 reviewers
    .venv/bin/python bench/screening.py --records 100000 --seconds 60 --think 0.5:1.5

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
   reviewers per record. With ``--screened F`` (default 0.5) a fraction F of the records is
   already screened by two other reviewers (votes, screening states and outcomes written
   through ``cast_vote``'s own tables in bulk), so the run measures the middle of a review,
   not its first minutes.
2. **Server**: ``gunicorn 'bench.screening:timed_app()' --workers 2 --threads 4`` on a free
   port of 127.0.0.1 with ``DEBUG=0`` (no query logging; the HTTPS-only settings switched off
   for plain HTTP on loopback). ``timed_app`` is reviewflow's WSGI application wrapped, for
   the benchmark only, in a timer: each response carries ``Server-Timing: app;dur=MS,
   sql;desc=N`` — the time inside Django (from the WSGI call to the response, the database
   work included) and the SQL statements it ran (BEGIN/COMMIT not counted). The server time
   of a pair is its ``next``'s plus its vote's, read from these headers.
3. **Warm-up**: ``--warm-up`` seconds (default 5) of untimed load without pauses on each
   fresh server, so that every process has imported and warmed up and every database
   connection has prepared its statements, as on a server that has been running; its votes
   count in the checks.
4. **Load**, two models one after the other on the same server and database, one thread
   per reviewer, each with its own keep-alive ``http.client`` connection and
   ``Authorization: Token …``; a pair is ``GET …/screening/title-abstract/next/`` (200)
   then ``POST …/votes/`` (include 30 %, exclude 60 %, maybe 10 %):

   a. **think time** — each reviewer reads for a time drawn uniformly from ``--think``
      (default 0.5–1.5 s) between the record arriving and the vote: still far faster than a
      person reading an abstract, so 20 such reviewers ask more of the server than 20 real
      ones. The latency target applies to this model.
   b. **saturating** — no pause at all: the reviewers keep every server thread busy, so a
      pair's time is mostly waiting for a CPU (the client, gunicorn and PostgreSQL share
      the machine's cores). Reported as capacity: pairs per second, with its latency.

   Client time (``time.perf_counter`` around the two requests, loopback) is shown beside
   server time. CPU use during each timed run is read from ``/proc``: the whole machine,
   the client, gunicorn and its workers, the PostgreSQL backends of the benchmark's
   database, and the rest (other work on the machine).
5. **Checks by SQL** after both models: no record has more votes than the stage needs,
   every record with all its votes has exactly one outcome or conflict, every screening
   state agrees with its record's votes, outcomes and conflicts, and the votes cast during
   the runs equal the 201 responses the reviewers received (no vote lost or doubled).

Errors are responses other than 200/204 (``next``) and 201 (vote), and failed connections;
409 "already has all the votes" (two reviewers racing for a record's last vote) is counted
apart, as the vote slots refusing it is the designed behaviour.

Targets, printed with PASS/FAIL, for the think-time model: p95 of a pair's server time under
50 ms at every size, and no growth with the number of records (p95 at the largest size at
most 1.5× p95 at the smallest).
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
from collections.abc import Callable, Iterable
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
MODELS = ("think", "saturating")

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


def worker_setup(records: int, reviewers: int, screened: float) -> dict[str, Any]:
    """Migrate, then make the review, its people, ``records`` records and the votes of the
    part already screened; return the reviewers' tokens."""
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from reviewflow.reviews.models import Role
    from reviewflow.reviews.services import add_member, create_review
    from screening.models import (
        Outcome,
        OutcomeKind,
        Record,
        ScreeningState,
        Search,
        SearchStatus,
        Vote,
    )
    from screening.selectors.screening import SHUFFLE
    from screening.services.screening.stage_settings import get_stage_settings

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
    # The part screened before the run: the records first in the order they are offered
    # in, each with all its votes (two earlier reviewers agreeing) and its outcome.
    earlier = []
    for n in range(1, needed + 1):
        user = User.objects.create_user(f"bench-earlier-{n}")
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
        earlier.append(user)
    done = list(
        Record.objects.filter(review=review)
        .order_by(SHUFFLE, "id")
        .values_list("id", flat=True)[: int(records * screened)]
    )
    for start in range(0, len(done), batch):
        chunk = done[start : start + batch]
        decisions = {pk: rng.choice(("include", "exclude")) for pk in chunk}
        Vote.objects.bulk_create(
            Vote(
                review=review,
                record_id=pk,
                stage=STAGE,
                reviewer=user,
                slot=slot,
                decision=decisions[pk],
            )
            for pk in chunk
            for slot, user in enumerate(earlier, start=1)
        )
        ScreeningState.objects.bulk_create(
            ScreeningState(review=review, record_id=pk, stage=STAGE, votes=needed, closed=True)
            for pk in chunk
        )
        Outcome.objects.bulk_create(
            Outcome(
                review=review,
                record_id=pk,
                stage=STAGE,
                decision=decisions[pk],
                kind=OutcomeKind.AGREEMENT,
            )
            for pk in chunk
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum does shortly after an import
    return {
        "tokens": tokens,
        "needed": needed,
        "screened": len(done),
        "votes_before": len(done) * needed,
        "seconds": time.perf_counter() - started,
    }


def worker_verify(needed: int) -> dict[str, Any]:
    """Invariants after the runs, checked in SQL over the whole database."""
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.db import connection

    from screening.models import Conflict, Outcome, ScreeningState, Vote

    # Table names come from the models, never from input: the f-strings below are safe.
    votes, outcomes, conflicts, states = (
        m._meta.db_table for m in (Vote, Outcome, Conflict, ScreeningState)
    )
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
        # Screening states that disagree with the votes, outcomes and conflicts they sum up.
        cursor.execute(
            f"""
            SELECT count(*) FROM (
                SELECT v.record_id, count(*) AS n FROM {votes} v WHERE v.stage = %s
                GROUP BY v.record_id
            ) AS counted
            FULL JOIN (SELECT * FROM {states} WHERE stage = %s) AS s
                ON s.record_id = counted.record_id
            WHERE s.id IS NULL OR counted.record_id IS NULL OR s.votes <> counted.n
               OR s.closed <> (
                   EXISTS (SELECT 1 FROM {outcomes} o
                           WHERE o.record_id = s.record_id AND o.stage = s.stage)
                   OR EXISTS (SELECT 1 FROM {conflicts} c
                              WHERE c.record_id = s.record_id AND c.stage = s.stage))
            """,  # noqa: S608
            [STAGE, STAGE],
        )
        (bad_states,) = cursor.fetchone()
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
        "bad_states": bad_states,
        "outcomes": n_outcomes,
        "conflicts": n_conflicts,
    }


def timed_app() -> Callable[..., Iterable[bytes]]:
    """reviewflow's WSGI application, each response carrying the time spent inside it and
    its number of SQL statements in a ``Server-Timing`` header (for this benchmark only:
    ``gunicorn 'bench.screening:timed_app()'``)."""
    sys.path.insert(0, str(REPO))
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    application = get_wsgi_application()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        statements = 0

        def count(execute: Callable[..., Any], *args: Any) -> Any:
            nonlocal statements
            statements += 1
            return execute(*args)

        def timed_start_response(status: str, headers: list[Any], *exc_info: Any) -> Any:
            spent = (time.perf_counter() - started) * 1000
            headers.append(("Server-Timing", f"app;dur={spent:.3f}, sql;desc={statements}"))
            return start_response(status, headers, *exc_info)

        with connection.execute_wrapper(count):
            return application(environ, timed_start_response)

    return app


# ---------------------------------------------------------------- load (threads)


@dataclass
class Tally:
    """What one reviewer thread saw."""

    pairs_ms: list[float] = field(default_factory=list)  # client
    server_ms: list[float] = field(default_factory=list)  # next + vote, inside Django
    server_next_ms: list[float] = field(default_factory=list)
    server_vote_ms: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)  # SQL per pair
    created: int = 0
    races: int = 0
    errors: int = 0
    finished: bool = False  # next answered 204
    samples: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.samples) < 3:
            self.samples.append(what[:200])


def _server_timing(response: http.client.HTTPResponse) -> tuple[float, int]:
    """(ms inside Django, SQL statements) from the ``Server-Timing`` header."""
    header = response.getheader("Server-Timing") or ""
    ms, sql = 0.0, 0
    for part in header.split(","):
        name, _, value = part.strip().partition(";")
        if name == "app" and value.startswith("dur="):
            ms = float(value[4:])
        elif name == "sql" and value.startswith("desc="):
            sql = int(value[5:])
    return ms, sql


class Reviewer(threading.Thread):
    def __init__(
        self,
        port: int,
        token: str,
        seed: int,
        start: threading.Event,
        think: tuple[float, float] | None,
    ) -> None:
        super().__init__(daemon=True)
        self.start_event = start
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self.rng = random.Random(seed)
        self.think = think
        self.deadline = 0.0
        self.tally = Tally()
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        base = f"/api/v1/reviews/{SLUG}/screening/{STAGE}"
        self.next_url, self.votes_url = f"{base}/next/", f"{base}/votes/"

    def request(
        self, method: str, url: str, body: bytes | None = None
    ) -> tuple[int, bytes, float, int]:
        """(status, body, server ms, SQL statements); status 0 when the request failed."""
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.conn.request(method, url, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read(), *_server_timing(response)
            except (OSError, http.client.HTTPException) as exc:
                # A keep-alive connection the server closed: one retry on a new one.
                self.conn.close()
                stale = http.client.RemoteDisconnected | BrokenPipeError | ConnectionResetError
                if attempt == 2 or not isinstance(exc, stale):
                    return 0, repr(exc).encode(), 0.0, 0
        raise AssertionError("unreachable")

    def warm_up(self) -> None:
        """One untimed ``next``: the record it claims is the one the timed loop gets first."""
        status, body, _, _ = self.request("GET", self.next_url)
        if status not in (200, 204):
            self.tally.error(f"warm-up next {status}: {body[:200]!r}")

    def run(self) -> None:
        self.start_event.wait()
        tally = self.tally
        while time.perf_counter() < self.deadline:
            started = time.perf_counter()
            status, body, next_ms, next_sql = self.request("GET", self.next_url)
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
            if self.think:
                time.sleep(self.rng.uniform(*self.think))  # reading the abstract
            payload = json.dumps({"record": record, "decision": decision}).encode()
            voting = time.perf_counter()
            status, body, vote_ms, vote_sql = self.request("POST", self.votes_url, payload)
            done = time.perf_counter()
            tally.pairs_ms.append((got_next - started + done - voting) * 1000)
            tally.server_ms.append(next_ms + vote_ms)
            tally.server_next_ms.append(next_ms)
            tally.server_vote_ms.append(vote_ms)
            tally.statements.append(next_sql + vote_sql)
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
    model: str
    screened: int = 0
    seconds: float = 0.0
    pairs_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    server_next_ms: list[float] = field(default_factory=list)
    server_vote_ms: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    created: int = 0
    races: int = 0
    errors: int = 0
    finished: bool = False
    samples: list[str] = field(default_factory=list)
    cpu: CpuUse | None = None

    @property
    def throughput(self) -> float:
        return len(self.pairs_ms) / self.seconds if self.seconds else 0.0

    def add(self, tally: Tally) -> None:
        self.pairs_ms += tally.pairs_ms
        self.server_ms += tally.server_ms
        self.server_next_ms += tally.server_next_ms
        self.server_vote_ms += tally.server_vote_ms
        self.statements += tally.statements
        self.created += tally.created
        self.races += tally.races
        self.errors += tally.errors
        self.finished |= tally.finished
        self.samples += tally.samples


@dataclass
class SizeRun:
    """Both load models at one size, and the checks after them."""

    records: int
    needed: int = 2
    screened: int = 0
    votes_before: int = 0
    setup_seconds: float = 0.0
    warm_up: Result | None = None
    results: list[Result] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)

    @property
    def created(self) -> int:
        """Votes the reviewers were told were stored (the warm-up's included)."""
        warm = self.warm_up.created if self.warm_up is not None else 0
        return warm + sum(r.created for r in self.results)


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


def _start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    error_log = data_dir / "gunicorn.log"
    # Django logs every 409 as a warning: keep that out of the table, in the error log.
    log = error_log.open("ab")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "bench.screening:timed_app()",
            "--workers",
            "2",
            "--threads",
            "4",
            "--keep-alive",
            "10",  # longer than the longest think time: connections stay open
            "--bind",
            f"{HOST}:{port}",
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
                return server
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


def run_model(
    *,
    records: int,
    model: str,
    port: int,
    tokens: list[str],
    seconds: float,
    think: tuple[float, float],
    server_pid: int,
    quiet: bool = False,
) -> Result:
    """One load model for ``seconds`` against the running server."""
    result = Result(records=records, reviewers=len(tokens), model=model)
    go = threading.Event()
    threads = [
        Reviewer(port, token, seed=n, start=go, think=think if model == "think" else None)
        for n, token in enumerate(tokens)
    ]
    for thread in threads:
        thread.warm_up()
    if not quiet:
        print(f"  {model}: {len(tokens)} reviewers for {seconds:g} s …", flush=True)
    for thread in threads:
        thread.start()
    cpu_before = cpu_snapshot(server_pid)
    started = time.perf_counter()
    for thread in threads:
        thread.deadline = started + seconds
    go.set()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    cpu_after = cpu_snapshot(server_pid)
    if cpu_before and cpu_after:
        result.cpu = cpu_after - cpu_before
    for thread in threads:
        thread.conn.close()
        result.add(thread.tally)
    return result


def run_size(
    records: int,
    reviewers: int,
    seconds: float,
    think: tuple[float, float],
    screened: float,
    warm_up: float,
) -> SizeRun:
    """Fresh database, set-up, server, both load models, checks, clean-up."""
    run = SizeRun(records=records)
    data_dir = Path(tempfile.mkdtemp(prefix="reviewflow-bench-screening-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        _pg("dropdb")
        created = _pg("createdb")
        if created.returncode != 0:
            raise RuntimeError(f"createdb failed: {created.stderr.strip()}")
        print(f"{records:,} records: migrating and creating the review …", flush=True)
        setup = _run_json(
            _self("--worker", "setup", str(records), str(reviewers), str(screened)),
            _env(data_dir, server=False),
        )
        run.needed, run.setup_seconds = setup["needed"], setup["seconds"]
        run.screened, run.votes_before = setup["screened"], setup["votes_before"]
        port = _free_port()
        server = _start_server(data_dir, port)
        print(
            f"  set-up {run.setup_seconds:.0f} s ({run.screened:,} records screened "
            f"before); server on port {port}",
            flush=True,
        )
        # A live server is warm: each process has loaded everything it uses and each database
        # connection has prepared its statements. The first requests of a fresh one pay
        # for that; untimed load first, so the timed runs measure the server as it runs.
        print(f"  warm-up: {len(setup['tokens'])} reviewers for {warm_up:g} s …", flush=True)
        run.warm_up = run_model(
            records=records,
            model="saturating",
            port=port,
            tokens=setup["tokens"],
            seconds=warm_up,
            think=think,
            server_pid=server.pid,
            quiet=True,
        )
        for model in MODELS:
            run.results.append(
                run_model(
                    records=records,
                    model=model,
                    port=port,
                    tokens=setup["tokens"],
                    seconds=seconds,
                    think=think,
                    server_pid=server.pid,
                )
            )
        _stop_server(server)
        run.checks = _run_json(
            _self("--worker", "verify", str(run.needed)), _env(data_dir, server=False)
        )
    finally:
        if server is not None:
            _stop_server(server)
        _pg("dropdb")
        shutil.rmtree(data_dir, ignore_errors=True)
    return run


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _print_rows(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = [header, *rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for n, line in enumerate(table):
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths)))
        if n == 0:
            print("  ".join("-" * width for width in widths))


LABELS = {"think": "(a) think time", "saturating": "(b) saturating"}


def print_report(runs: list[SizeRun], think: tuple[float, float]) -> bool:
    results = [r for run in runs for r in run.results]
    print(
        "\nnext+vote pairs. Server = time inside Django for the pair's two requests (its "
        "Server-Timing header);\nclient = the same two requests seen from the client on "
        f"loopback. (a): each reviewer pauses {think[0]:g}–{think[1]:g} s before voting; "
        "(b): no pause."
    )
    _print_rows(
        (
            "load",
            "records",
            "pairs",
            "pairs/s",
            "server p50",
            "p95",
            "p99",
            "client p50",
            "p95",
            "SQL/pair",
            "errors",
            "409",
        ),
        [
            (
                LABELS[r.model],
                f"{r.records:,}",
                f"{len(r.pairs_ms):,}",
                f"{r.throughput:.1f}",
                _ms(percentile(r.server_ms, 50)),
                _ms(percentile(r.server_ms, 95)),
                _ms(percentile(r.server_ms, 99)),
                _ms(percentile(r.pairs_ms, 50)),
                _ms(percentile(r.pairs_ms, 95)),
                f"{sum(r.statements) / len(r.statements):.1f}" if r.statements else "—",
                str(r.errors),
                str(r.races),
            )
            for r in results
        ],
    )
    print("\nper request, server time (ms):")
    _print_rows(
        ("load", "records", "next p50", "next p95", "vote p50", "vote p95"),
        [
            (
                LABELS[r.model],
                f"{r.records:,}",
                _ms(percentile(r.server_next_ms, 50)),
                _ms(percentile(r.server_next_ms, 95)),
                _ms(percentile(r.server_vote_ms, 50)),
                _ms(percentile(r.server_vote_ms, 95)),
            )
            for r in results
        ],
    )
    print(
        "\nCPU seconds per second of wall time during each run (the machine has "
        f"{os.cpu_count()} CPUs):"
    )
    _print_rows(
        ("load", "records", "machine", "client", "gunicorn", "PostgreSQL", "other work"),
        [
            (
                LABELS[r.model],
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
            print(f"  note: {r.records:,} {r.model}: the review ran out of records (204)")
        for sample in r.samples:
            print(f"  error at {r.records:,} {r.model}: {sample}")

    ok = True
    print("\nChecks (SQL, after both runs at each size):")
    for run in runs:
        c = run.checks
        new_votes = c["votes"] - run.votes_before
        checks = (
            (
                f"most votes on one record {c['most_votes']} ≤ {run.needed} needed",
                c["most_votes"] <= run.needed,
            ),
            (
                f"votes cast during the runs {new_votes:,} = 201 responses {run.created:,}",
                new_votes == run.created,
            ),
            (
                f"records with all votes but not exactly one outcome or conflict: {c['unsettled']}"
                f" (outcomes {c['outcomes']:,}, conflicts {c['conflicts']:,})",
                c["unsettled"] == 0,
            ),
            (
                f"screening states that disagree with votes, outcomes, conflicts: "
                f"{c['bad_states']}",
                c["bad_states"] == 0,
            ),
        )
        for text, passed in checks:
            ok &= passed
            print(f"  {'PASS' if passed else 'FAIL'}  {run.records:,}: {text}")

    thinking = [r for r in results if r.model == "think"]
    print(f"\nTarget 1, load (a): p95 of a pair's server time under {P95_TARGET_MS:g} ms")
    for r in thinking:
        p95 = percentile(r.server_ms, 95)
        passed = p95 is not None and p95 < P95_TARGET_MS
        ok &= passed
        print(f"  {'PASS' if passed else 'FAIL'}  {r.records:,} records: {_ms(p95)} ms")
    small, large = thinking[0], thinking[-1]
    p95_small, p95_large = percentile(small.server_ms, 95), percentile(large.server_ms, 95)
    print(
        f"\nTarget 2, load (a): no growth between {small.records:,} and {large.records:,} "
        f"records (p95 ratio ≤ {GROWTH_TARGET:g}×)"
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
    print("\nCapacity, load (b) (no target: queueing-bound on this machine):")
    for r in results:
        if r.model == "saturating":
            print(
                f"  {r.records:,} records: {r.throughput:.1f} pairs/s, server p95 "
                f"{_ms(percentile(r.server_ms, 95))} ms, client p95 "
                f"{_ms(percentile(r.pairs_ms, 95))} ms"
            )
    return ok


def _think(text: str) -> tuple[float, float]:
    low, _, high = text.partition(":")
    bounds = (float(low), float(high or low))
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError("give the think time as LOW:HIGH seconds, e.g. 0.5:1.5")
    return bounds


def run_bench(args: argparse.Namespace) -> int:
    sizes = (2_000, 10_000) if args.quick else (5_000, args.records)
    reviewers = args.reviewers or (5 if args.quick else 20)
    seconds = args.seconds or (10.0 if args.quick else 30.0)
    sizes = tuple(sorted(set(sizes)))
    probe = _pg("dropdb")
    if probe.returncode != 0:
        print(f"PostgreSQL unreachable at {PG_HOST}: {probe.stderr.strip()}")
        return 2
    warm_up = args.warm_up if args.warm_up is not None else (3.0 if args.quick else 5.0)
    runs = [run_size(n, reviewers, seconds, args.think, args.screened, warm_up) for n in sizes]
    load = os.getloadavg()
    print(
        f"\n{reviewers} reviewers, {seconds:g} s per load model and size, "
        f"{args.screened:.0%} of each review screened before the runs, after {warm_up:g} s of "
        f"untimed load on each fresh server; gunicorn 2 workers × "
        f"4 threads, PostgreSQL on 127.0.0.1; {os.cpu_count()} CPUs shared by client, server "
        f"and database; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    return 0 if print_report(runs, args.think) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=50_000, help="the larger size")
    parser.add_argument("--reviewers", type=int, default=0, help="default 20 (--quick: 5)")
    parser.add_argument(
        "--seconds", type=float, default=0, help="per load model; default 30 (--quick: 10)"
    )
    parser.add_argument(
        "--think",
        type=_think,
        default=(0.5, 1.5),
        help="load (a): seconds a reviewer reads before voting, LOW:HIGH (default 0.5:1.5)",
    )
    parser.add_argument(
        "--screened",
        type=float,
        default=0.5,
        help="fraction of the records screened before the runs (default 0.5)",
    )
    parser.add_argument(
        "--warm-up",
        type=float,
        default=None,
        help="seconds of untimed load on each fresh server first (default 5; --quick: 3)",
    )
    parser.add_argument("--quick", action="store_true", help="2,000 and 10,000 records")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        if kind == "setup":
            work = worker_setup(int(rest[0]), int(rest[1]), float(rest[2]))
        else:
            work = worker_verify(int(rest[0]))
        print(json.dumps(work))
        return 0
    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
