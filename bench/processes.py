"""Benchmark: more web processes and more workers on one PostgreSQL and one Redis (#25).

Run by hand (not in tests)::

    .venv/bin/python bench/processes.py                         # the defaults below
    .venv/bin/python bench/processes.py --import-records 5000   # a quicker look

Each web process (``gunicorn 'bench.screening:timed_app()'``: reviewflow's WSGI application
with a ``Server-Timing`` header) and each worker (``celery -A reviewflow worker
--concurrency 1``) runs as if on its own machine: its own session (``killpg`` reaches its
whole tree), environment and data folder, sharing only ``DATABASE_URL``, ``REDIS_URL``,
``MEDIA_ROOT`` (a temporary folder standing for the shared volume) and ``SECRET_KEY``.

1. **Votes**: ``--reviewers`` API reviewers (``bench/screening.py``'s ``Reviewer``, no
   pause) spread over 1, then 2 web processes: votes per second and p95.
2. **Imports**: ``--uploads`` RIS files of ``--import-records`` records (``bench/import.py``'s
   ``write_ris``) uploaded at once through ``POST …/searches/``, one review each, with 1,
   then 2 workers: seconds until every search is ``done``, then until the queue is empty.
3. **Kill test**: 2 web processes, 2 workers, reviewers voting while the files are imported
   again; once both workers are importing, SIGKILL to the process group of one web process
   and of one worker. PASS/FAIL (exit status 1 on FAIL): every vote answered 201 stored
   once, as sent; no vote stored that no client sent; every import ``done`` with exactly
   its records; every deduplication done.

Database ``reviewflow_bench_procs`` and Redis db 11, emptied first and at the end (unless
``--keep``). bench/README.md says more.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import scale  # noqa: E402  (subprocess environment, createdb/dropdb)
from bench import screening as base  # noqa: E402  (review set-up, reviewer threads, checks)

write_ris = import_module("bench.import").write_ris  # "import" is a keyword
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/reviewflow_bench_procs"
REDIS_URL = "redis://127.0.0.1:6379/11"
QUEUE = "reviewflow"  # CELERY_QUEUE's default
BIN = Path(sys.executable).parent
LAST_STATUSES = ("done", "failed")
ALREADY = b"You have already voted"


# ---------------------------------------------------------------- Django side (subprocess)


def worker_setup(records: int, reviewers: int, slugs: list[str]) -> dict[str, Any]:
    """``bench/screening.py``'s review (nothing screened yet), then an owner token and the
    empty reviews the uploads go to."""
    result = base.worker_setup(records, reviewers, 0.0)
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from reviewflow.reviews.services import create_review

    owner = User.objects.get(username="bench-owner")
    for slug in slugs:
        create_review(title=slug, slug=slug, owner=owner)
    result["owner_token"] = Token.objects.create(user=owner).key
    return result


def worker_verify(path: str) -> dict[str, Any]:
    """The votes the clients sent and the searches uploaded (``path``, JSON) against the
    database."""
    given = json.loads(Path(path).read_text())
    out = base.worker_verify(given["needed"])  # calls django.setup()
    from django.db.models import Count, Max, Min

    from screening.models import Record, Search, Vote

    stored: dict[tuple[str, int], list[str]] = {}
    for username, record, decision in Vote.objects.filter(stage=base.STAGE).values_list(
        "reviewer__username", "record_id", "decision"
    ):
        stored.setdefault((username, record), []).append(decision)
    created: dict[tuple[str, int], str] = {}
    unknown: dict[tuple[str, int], int] = {}  # cut off: the answer to the resent vote
    for index, record, decision, status, cut in given["votes"]:
        key = (f"bench-reviewer-{index + 1:02d}", record)
        if status == 201:
            created[key] = decision
        elif cut:
            unknown[key] = status
    out["created"], out["needed"] = len(created), given["needed"]
    out["lost"] = [list(k) for k in created if k not in stored][:20]
    out["doubled"] = [list(k) for k, v in stored.items() if len(v) > 1][:20]
    out["changed"] = [list(k) for k, d in created.items() if k in stored and stored[k] != [d]]
    out["phantom"] = [list(k) for k in stored if k not in created and k not in unknown][:20]
    out["unknown"], out["unknown_answers"] = len(unknown), sorted(unknown.values())
    out["unknown_stored"] = sum(k in stored for k in unknown)
    out["searches"] = []
    for search_id, expected in given["searches"].items():
        search = Search.objects.get(pk=search_id)
        row = Record.objects.filter(search=search).aggregate(
            n=Count("id"), positions=Count("position", distinct=True), low=Min("position"),
            high=Max("position"), dois=Count("doi", distinct=True),
        )  # fmt: skip
        row.update(id=search.pk, expected=expected, status=search.status, attempt=search.attempt)
        row.update(imported=search.records_imported, dedup_pending=search.dedup_pending)
        out["searches"].append(row)
    return out


# ---------------------------------------------------------------- processes


class Machine:
    """One web process or one worker, in a session of its own."""

    def __init__(self, kind: str, n: int, cmd: list[str], env: dict[str, str], home: Path):
        self.kind, self.n, self.home = kind, n, home
        self.log = home / f"{kind}.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.port = 0

    def kill(self) -> None:
        """SIGKILL to the whole process group: the machine is gone."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
        self.kill()  # whatever of the group is left (a pool or parser process)


def _machine_env(args: argparse.Namespace, home: Path, media: Path) -> dict[str, str]:
    env = scale._env(args.database_url, home, server=True)  # DEBUG=0, SECRET_KEY, hosts
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    env.update(REDIS_URL=args.redis_url, MEDIA_ROOT=str(media), LOG_LEVEL="WARNING")
    # A dead worker's import is restarted after this long (``restart_stale_imports``).
    env["STALE_TASK_SECONDS"] = str(args.stale)
    return env


def start_web(args: argparse.Namespace, n: int, data_dir: Path) -> Machine:
    home = data_dir / f"web-{n}-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    port = base._free_port()
    cmd = [str(BIN / "gunicorn"), "bench.screening:timed_app()"]
    cmd += ["--workers", str(args.gunicorn_workers), "--threads", str(args.threads)]
    cmd += ["--keep-alive", "10", "--bind", f"{base.HOST}:{port}"]
    web = Machine("web", n, cmd, _machine_env(args, home, data_dir / "media"), home)
    web.port = port
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.proc.poll() is not None:
            raise RuntimeError(f"web {n} exited: {base._tail(web.log)}")
        with contextlib.suppress(OSError):  # not listening yet
            if _get(port, "/healthz", "")[0] == 200:
                return web
        time.sleep(0.2)
    web.stop()
    raise RuntimeError(f"web {n} did not answer /healthz: {base._tail(web.log)}")


def start_worker(args: argparse.Namespace, n: int, data_dir: Path) -> Machine:
    home = data_dir / f"worker-{n}-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    cmd = [str(BIN / "celery"), "-A", "reviewflow", "worker", "--concurrency", "1"]
    cmd += ["-n", f"bench{n}-{home.name[-6:]}@%h", "--loglevel", "INFO"]
    cmd += ["--without-gossip", "--without-mingle"]
    worker = Machine("worker", n, cmd, _machine_env(args, home, data_dir / "media"), home)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.proc.poll() is not None:
            raise RuntimeError(f"worker {n} exited: {base._tail(worker.log)}")
        if " ready." in worker.log.read_text(errors="replace"):
            return worker
        time.sleep(0.2)
    worker.stop()
    raise RuntimeError(f"worker {n} not ready: {base._tail(worker.log)}")


# ---------------------------------------------------------------- clients


def _get(port: int, url: str, token: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(base.HOST, port, timeout=30)
    try:
        headers = {"Authorization": f"Token {token}"} if token else {}
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        body = response.read()
        ok = response.status == 200 and body.startswith(b"{")
        return response.status, json.loads(body) if ok else body
    finally:
        conn.close()


class Client(base.Reviewer):
    """A reviewer behind a load balancer: a request whose connection fails (its web
    process is gone) is sent once more to the next web process. Every vote sent is kept:
    (record, decision, status, whether a connection was cut under it)."""

    def __init__(
        self, ports: list[int], index: int, token: str, start: threading.Event, think: Any
    ):
        super().__init__(ports[index % len(ports)], token, index, start, think)
        self.ports, self.at, self.index = ports, index % len(ports), index
        self.votes: list[tuple[int, int, str, int, bool]] = []
        self.failovers = self.stored_before = 0  # resent votes found stored (409)

    def request(
        self, method: str, url: str, body: bytes | None = None
    ) -> tuple[int, bytes, float, int]:
        result = super().request(method, url, body)
        cut = result[0] == 0
        if cut and len(self.ports) > 1:
            self.failovers += 1
            self.conn.close()
            self.at = (self.at + 1) % len(self.ports)
            self.conn = http.client.HTTPConnection(base.HOST, self.ports[self.at], timeout=60)
            result = super().request(method, url, body)
            self.stored_before += result[0] == 409 and ALREADY in result[1]
        if method == "POST" and body is not None:
            sent = json.loads(body)
            self.votes.append((self.index, sent["record"], sent["decision"], result[0], cut))
        return result


class Load:
    """The reviewers at work until ``stop``."""

    def __init__(self, ports: list[int], tokens: list[str], think: Any) -> None:
        self.go = threading.Event()
        self.threads = [Client(ports, n, t, self.go, think) for n, t in enumerate(tokens)]
        for thread in self.threads:
            thread.warm_up()
            thread.deadline = float("inf")
            thread.start()

    def start(self) -> None:
        self.started = time.perf_counter()
        self.go.set()

    def stop(self) -> dict[str, Any]:
        for thread in self.threads:
            thread.deadline = 0.0
        seconds = time.perf_counter() - self.started
        for thread in self.threads:
            thread.join(120)
        tally = base.Result(records=0, reviewers=len(self.threads), model="saturating")
        for thread in self.threads:
            thread.conn.close()
            tally.add(thread.tally)
        return {
            "seconds": seconds,
            "votes_s": tally.created / seconds,
            "created": tally.created,
            "client_p95": base.percentile(tally.pairs_ms, 95),
            "server_p95": base.percentile(tally.server_ms, 95),
            "errors": tally.errors - sum(t.stored_before for t in self.threads),
            "stored_before": sum(t.stored_before for t in self.threads),
            "races": tally.races,
            "samples": [e for e in tally.samples if ALREADY.decode() not in e],
            "failovers": sum(t.failovers for t in self.threads),
            "votes": [v for t in self.threads for v in t.votes],
        }


def timed_votes(
    ports: list[int], tokens: list[str], args: argparse.Namespace
) -> tuple[dict[str, Any], list[Any]]:
    """An untimed warm-up, then ``--seconds`` of voting; the votes of both for the checks."""
    warm = Load(ports, tokens, None)
    warm.start()
    time.sleep(args.warm_up)
    votes = warm.stop()["votes"]
    load = Load(ports, tokens, None)
    load.start()
    time.sleep(args.seconds)
    result = load.stop()
    return result, votes + result["votes"]


def upload(port: int, token: str, slug: str, path: Path) -> str:
    """``POST searches/`` with the file, as a browser's form would send it; the search's URL."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="source"\r\n\r\n{path.stem}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"'
        "\r\nContent-Type: application/x-research-info-systems\r\n\r\n"
    ).encode()
    body = head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection(base.HOST, port, timeout=300)
    try:
        headers = {
            "Authorization": f"Token {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }
        conn.request("POST", f"/api/v1/reviews/{slug}/searches/", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        if response.status != 202:
            raise RuntimeError(f"upload of {path.name}: HTTP {response.status} {answer[:300]!r}")
        url: str = json.loads(answer)["url"]
        return url
    finally:
        conn.close()


def queue_empty(redis: Any) -> bool:
    """No task waiting in Redis and none taken but unacknowledged (running)."""
    lists = [k for k in redis.scan_iter(f"{QUEUE}*") if redis.type(k) == b"list"]
    return sum(redis.llen(k) for k in lists) == 0 and redis.hlen("unacked") == 0


def run_imports(
    ports: list[int],
    token: str,
    slugs: list[str],
    files: list[Path],
    args: argparse.Namespace,
    *,
    redis: Any = None,
    on_poll: Any = None,
) -> dict[str, Any]:
    """Upload each file to its review at once (a thread each, web processes in turn); wait
    until every search is finished, then until every deduplication is done and (``redis``)
    the queue is empty."""
    started = time.perf_counter()
    urls = [""] * len(files)

    def send(k: int) -> None:
        urls[k] = upload(ports[k % len(ports)], token, slugs[k], files[k])

    with ThreadPoolExecutor(len(files)) as pool:
        list(pool.map(send, range(len(files))))  # raises what an upload raised
    uploaded = time.perf_counter() - started
    deadline = time.monotonic() + args.timeout
    searches: list[dict[str, Any]] = []
    done = 0.0
    while time.monotonic() < deadline:
        searches = [_get(ports[-1], url, token)[1] for url in urls]
        if not done and all(s["status"] in LAST_STATUSES for s in searches):
            done = time.perf_counter() - started
        if on_poll is not None:
            on_poll(searches)
        dedups = not any(s["dedup_pending"] for s in searches)
        if done and dedups and (redis is None or queue_empty(redis)):
            break
        time.sleep(0.25)
    return {
        "uploaded_s": uploaded,
        "done_s": done or float("nan"),
        "drained_s": time.perf_counter() - started,
        "searches": searches,
    }


def kill_test(
    args: argparse.Namespace,
    setup: dict[str, Any],
    slugs: list[str],
    files: list[Path],
    data_dir: Path,
    machines: list[Machine],
) -> dict[str, Any]:
    """Two web processes and two workers; reviewers voting while the files are imported;
    one web process group and one worker group killed once both workers are importing."""
    webs = [start_web(args, n, data_dir) for n in (1, 2)]
    crew = [start_worker(args, n, data_dir) for n in (1, 2)]
    machines += webs + crew
    load = Load([w.port for w in webs], setup["tokens"], base._think(args.think))
    load.start()
    killed: dict[str, Any] = {}

    def kill_when_busy(searches: list[dict[str, Any]]) -> None:
        busy = [s["records_read"] for s in searches if s["status"] == "running"]
        if not killed and len([n for n in busy if n >= args.kill_after]) >= min(2, len(searches)):
            webs[0].kill()
            crew[0].kill()
            killed.update(at=time.perf_counter() - load.started, read=busy)
            at = f"{killed['at']:.1f} s (imports running, records read: {busy})"
            print(f"  SIGKILL to web 1 and worker 1 at {at}", flush=True)

    ports = [w.port for w in webs]
    imports = run_imports(ports, setup["owner_token"], slugs, files, args, on_poll=kill_when_busy)
    time.sleep(args.after)  # the reviewers go on through the survivor a little longer
    votes = load.stop()
    for machine in webs + crew:
        machine.stop()
    restarts = sum(" restarted " in m.log.read_text(errors="replace") for m in crew)
    return {"imports": imports, "votes": votes, "killed": killed, "restarts": restarts}


def run(args: argparse.Namespace) -> int:
    import redis as redis_lib

    redis = redis_lib.Redis.from_url(args.redis_url)
    redis.flushdb()
    data_dir = Path(tempfile.mkdtemp(prefix="reviewflow-procs-"))
    for sub in ("media", "setup"):
        (data_dir / sub).mkdir()
    slugs = {p: [f"procs-{p}-{k}" for k in range(args.uploads)] for p in (1, 2, "kill")}
    machines: list[Machine] = []
    figures: dict[str, Any] = {}
    ledger: list[Any] = []
    django_env = scale._env(args.database_url, data_dir / "setup", server=False)
    scale._pg("dropdb", args.database_url)
    scale._pg("createdb", args.database_url)
    try:
        files = [data_dir / f"export-{k + 1}.ris" for k in range(args.uploads)]
        print(f"set-up: {args.records:,} records to screen, {len(files)} files …", flush=True)
        every = json.dumps([s for these in slugs.values() for s in these])
        cmd = [sys.executable, __file__, "--worker", "setup", str(args.records)]
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(base._run_json, [*cmd, str(args.reviewers), every], django_env)
            for k, path in enumerate(files):  # written while the database is made
                write_ris(path, args.import_records, seed=2500 + k)
            setup: dict[str, Any] = job.result()

        for count in (1, 2):
            print(f"votes: {args.reviewers} reviewers, {count} web process(es) …", flush=True)
            up = [start_web(args, n + 1, data_dir) for n in range(count)]
            machines += up
            figures[f"votes-{count}"], votes = timed_votes(
                [w.port for w in up], setup["tokens"], args
            )
            ledger += votes
            for web in up:
                web.stop()
        web = start_web(args, 1, data_dir)
        machines.append(web)
        for count in (1, 2):
            print(f"imports: {args.uploads} uploads, {count} worker(s) …", flush=True)
            crew = [start_worker(args, n + 1, data_dir) for n in range(count)]
            machines += crew
            figures[f"imports-{count}"] = run_imports(
                [web.port], setup["owner_token"], slugs[count], files, args, redis=redis
            )
            for worker in crew:
                worker.stop()
        web.stop()
        print("kill test: 2 web processes, 2 workers, votes and imports …", flush=True)
        figures["kill"] = kill = kill_test(args, setup, slugs["kill"], files, data_dir, machines)
        ledger += kill["votes"]["votes"]
        print("checking …", flush=True)
        check = data_dir / "check.json"
        searches = [s for f in ("imports-1", "imports-2") for s in figures[f]["searches"]]
        expected = {s["id"]: args.import_records for s in searches + kill["imports"]["searches"]}
        check.write_text(
            json.dumps({"needed": setup["needed"], "votes": ledger, "searches": expected})
        )
        checks = base._run_json(
            [sys.executable, __file__, "--worker", "verify", str(check)], django_env
        )
    finally:
        for machine in machines:
            machine.stop()
        if args.keep:
            print(f"kept: {args.database_url}, Redis {args.redis_url}, {data_dir}")
        else:
            scale._pg("dropdb", args.database_url)
            redis.flushdb()
            shutil.rmtree(data_dir, ignore_errors=True)
    return report(args, figures, checks)


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.0f}"


def report(args: argparse.Namespace, figures: dict[str, Any], checks: dict[str, Any]) -> int:
    load = os.getloadavg()
    print(
        f"\n{os.cpu_count()} CPUs shared by clients, servers, workers and PostgreSQL; load "
        f"average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; gunicorn {args.gunicorn_workers} "
        f"worker(s) × {args.threads} threads per web process; Celery --concurrency 1 per worker"
    )
    rows: list[tuple[str, ...]] = []
    for n in (1, 2):
        f = figures[f"votes-{n}"]
        cells = (_ms(f["client_p95"]), _ms(f["server_p95"]), str(f["errors"]))
        rows.append((f"{n} web process(es)", f"{f['votes_s']:.1f}", *cells))
    print(f"\nNext + vote, {args.reviewers} reviewers without pause, {args.seconds:g} s each")
    base._print_rows(("", "votes/s", "p95 client ms", "p95 server ms", "errors"), rows)
    rows = []
    total = args.uploads * args.import_records
    for n in (1, 2):
        f = figures[f"imports-{n}"]
        cells = (f"{f['done_s']:.1f}", f"{total / f['done_s']:,.0f}", f"{f['drained_s']:.1f}")
        rows.append((f"{n} worker(s)", f"{f['uploaded_s']:.1f}", *cells))
    print(
        f"\nImports, {args.uploads} × {args.import_records:,} RIS records uploaded at once "
        "(seconds from the first upload)"
    )
    base._print_rows(("", "uploaded", "all done", "records/s", "queue empty"), rows)

    kill = figures["kill"]
    votes, imports = kill["votes"], kill["imports"]
    print(
        f"\nKill test: SIGKILL at {kill['killed'].get('at', float('nan')):.1f} s; imports "
        f"done at {imports['done_s']:.1f} s, deduplications at {imports['drained_s']:.1f} s; "
        f"worker logs naming a restart: {kill['restarts']}; {votes['created']:,} votes "
        f"answered 201 ({votes['votes_s']:.1f}/s, p95 {_ms(votes['client_p95'])} ms); "
        f"{votes['failovers']} requests sent again to the other web process (of them, votes "
        f"already stored: {votes['stored_before']}); "
        f"{votes['errors']} errors {votes['samples'][:2]}; votes whose answer was cut off: "
        f"{checks['unknown']} ({checks['unknown_stored']} of them stored; answers to their "
        f"resending: {checks['unknown_answers']})"
    )
    invariants = (checks["most_votes"], checks["unsettled"], checks["bad_states"])
    results = [
        (bool(kill["killed"]), "a web process group and a worker group killed mid-import"),
        (
            not checks["lost"],
            f"every vote answered 201 ({checks['created']:,}) is stored: missing {checks['lost']}",
        ),
        (not checks["doubled"], f"no vote stored twice: {checks['doubled']}"),
        (not checks["changed"], f"stored decisions are those sent: {checks['changed'][:5]}"),
        (not checks["phantom"], f"no vote stored that no client sent: {checks['phantom']}"),
        (
            invariants[0] <= checks["needed"] and not any(invariants[1:]),
            "screening invariants (most votes on a record, unsettled, bad states: "
            f"{', '.join(map(str, invariants))})",
        ),
    ]
    for s in checks["searches"]:
        exact = s["n"] == s["positions"] == s["dois"] == s["imported"] == s["expected"]
        exact &= s["low"] == 1 and s["high"] == s["expected"] and not s["dedup_pending"]
        results.append(
            (
                s["status"] == "done" and exact,
                f"search {s['id']}: {s['status']} (attempt {s['attempt']}), {s['n']:,} "
                f"rows, {s['positions']:,} positions, {s['dois']:,} DOIs, expected "
                f"{s['expected']:,}, deduplication {'pending' if s['dedup_pending'] else 'done'}",
            )
        )
    for passed, text in results:
        print(f"  {'PASS' if passed else 'FAIL'}  {text}")
    return 0 if all(passed for passed, _ in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--records", type=int, default=10_000, help="records to screen")
    parser.add_argument("--reviewers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0, help="timed voting per web count")
    parser.add_argument("--warm-up", type=float, default=5.0)
    parser.add_argument("--gunicorn-workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--uploads", type=int, default=4)
    parser.add_argument("--import-records", type=int, default=20_000)
    parser.add_argument("--think", default="0.2:0.6", help="kill test: seconds between votes")
    parser.add_argument("--stale", type=int, default=10, help="STALE_TASK_SECONDS of the workers")
    parser.add_argument("--kill-after", type=int, default=1, help="records read by both")
    parser.add_argument("--after", type=float, default=3.0, help="voting after the imports")
    parser.add_argument("--timeout", type=float, default=300.0, help="per import phase")
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database, Redis and files")
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        if kind == "setup":
            out = worker_setup(int(rest[0]), int(rest[1]), json.loads(rest[2]))
        else:
            out = worker_verify(rest[0])
        print(json.dumps(out))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
