"""Benchmark: from a key press to the next record painted, in Chromium, while simulated
reviewers load the server.

Run by hand (not in tests)::

    .venv/bin/python bench/latency.py                  # 50,000 records, 20 reviewers, 200 presses
    .venv/bin/python bench/latency.py --records 5000 --presses 50   # a quick look
    .venv/bin/python bench/latency.py --think 0:0      # reviewers without pauses
    .venv/bin/python bench/latency.py --keep           # keep the database for the next run

1. **Database**: PostgreSQL at ``--database-url`` (default
   ``postgres://postgres@127.0.0.1:5432/reviewflow_bench_latency``), created with
   ``createdb`` when it does not exist. A subprocess migrates it and, unless it holds the
   benchmark's review already (a run with ``--keep``), makes the review with ``--records``
   records, ``--screened`` of them screened before the run, and the reviewers with their
   API tokens, with ``bench/screening.py``'s set-up (bulk inserts of realistic records,
   then ``VACUUM ANALYZE``). One more reviewer, the one in the browser, gets a password.
   ``collectstatic`` fills a temporary data folder (the server runs with ``DEBUG=0``).
2. **Server**: gunicorn with ``--workers`` × 4 threads on a free port of 127.0.0.1, serving
   ``bench/screening.py``'s ``timed_app`` (reviewflow's WSGI application adding
   ``Server-Timing: app;dur=…`` to each response), as ``bench/screening.py`` starts it.
3. **Load**: ``--reviewers`` threads (``bench/screening.py``'s ``Reviewer``: keep-alive
   connection, API token), each looping ``GET …/screening/title-abstract/next/`` then
   ``POST …/votes/``, reading for a time drawn from ``--think`` (default 2–5 s) between the
   two, from before the browser starts until it is done.
4. **Browser**: headless Chromium (Playwright, ``/usr/bin/chromium``), 1280×800, signs in
   as the extra reviewer, opens the title/abstract screening page and presses ``i`` or
   ``e`` ``--presses`` times, ``--pace`` seconds apart once the next record is on the
   screen. A script added to the page (``add_init_script``, as the browser tests watch the
   Content-Security-Policy) notes each ``keydown``'s ``event.timeStamp``, sees the new
   ``data-record`` id arrive with a ``MutationObserver`` and takes the time after the next
   frame (``requestAnimationFrame`` then a task: the frame with the new record has been
   painted). A press is **key → DOM** (the panel swapped in) and **key → painted**; the
   vote request's ``Server-Timing`` (read from the page's resource timing) gives the
   share spent inside Django.

Printed: median, p95 and max of both, presses that brought no new record within 5 s, and
the simulated reviewers' request rate and errors. Target (PASS/FAIL, exit status 1 on
FAIL): p95 of key → painted under 100 ms. At the end the database is dropped if this run
created it, unless ``--keep``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import screening as base  # noqa: E402  (the screening benchmark's set-up and load)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/reviewflow_bench_latency"
BROWSER_USER, BROWSER_PASSWORD = "bench-browser", "bench-browser-password-1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
P95_TARGET_MS = 100.0
NEXT_TIMEOUT = 5.0

# Runs in the page before its own scripts: a key's time, the new record's arrival, and the
# frame after it. ``event.timeStamp`` and ``performance.now()`` share one clock.
MEASURE = """
(() => {
  const lat = { down: null, from: null, samples: [] };
  window.__latency = lat;
  const current = () => {
    const el = document.querySelector("[data-record]");
    return el ? el.getAttribute("data-record") : null;
  };
  document.addEventListener("keydown", (event) => {
    if (event.key === "i" || event.key === "e") {
      lat.down = event.timeStamp;
      lat.from = current();
    }
  }, true);
  const seen = () => {
    const id = current();
    if (lat.down === null || id === null || id === lat.from) return;
    const down = lat.down;
    lat.down = null;
    const swapped = performance.now();
    requestAnimationFrame(() => setTimeout(() => {
      // The vote's request: its time inside Django, from the Server-Timing header.
      const votes = performance.getEntriesByType("resource")
        .filter((r) => r.name.includes("/vote/"));
      const last = votes.length ? votes[votes.length - 1] : null;
      const app = last ? last.serverTiming.find((t) => t.name === "app") : null;
      lat.samples.push({
        id, dom: swapped - down, painted: performance.now() - down,
        server: app ? app.duration : null,
      });
      performance.clearResourceTimings();
    }, 0));
  };
  new MutationObserver(seen).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-record"],
  });
})();
"""


# ---------------------------------------------------------------- set-up (subprocess)


def worker_setup(records: int, reviewers: int, screened: float) -> dict[str, Any]:
    """The review (made, or found from an earlier ``--keep`` run), the reviewers' tokens,
    and the browser's reviewer with a password."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from reviewflow.reviews.models import Membership, Review, Role
    from reviewflow.reviews.services import add_member
    from screening.models import Record

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    review = Review.objects.filter(slug=base.SLUG).first()
    reused = review is not None
    if review is None:
        base.worker_setup(records, reviewers, screened)
        review = Review.objects.get(slug=base.SLUG)
    have = Record.objects.filter(review=review).count()
    tokens = list(
        Token.objects.filter(user__username__startswith="bench-reviewer-")
        .order_by("user__username")
        .values_list("key", flat=True)
    )
    if have != records or len(tokens) < reviewers:
        raise SystemExit(
            f"The database holds a review of {have:,} records and {len(tokens)} reviewers: "
            f"run with --records {have} --reviewers {len(tokens)} or another --database-url."
        )
    owner = Membership.objects.filter(review=review, role=Role.OWNER).first()
    browser, _ = User.objects.get_or_create(username=BROWSER_USER)
    browser.set_password(BROWSER_PASSWORD)
    browser.save()
    if owner is not None and not Membership.objects.filter(review=review, user=browser).exists():
        add_member(review=review, actor=owner.user, user=browser, role=Role.REVIEWER)
    return {
        "tokens": tokens[:reviewers],
        "reused": reused,
        "records": have,
        "seconds": time.perf_counter() - started,
    }


# ---------------------------------------------------------------- orchestration


def _pg_parts(url: str) -> tuple[list[str], str]:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql") or not name:
        raise SystemExit(f"--database-url must be postgres://user@host:port/name, not {url}")
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    if parts.username:
        args += ["-U", parts.username]
    return args, name


def _pg(command: str, url: str) -> subprocess.CompletedProcess[str]:
    args, name = _pg_parts(url)
    env = {**os.environ}
    password = urlsplit(url).password
    if password:
        env["PGPASSWORD"] = password
    return subprocess.run(
        [command, *args, name], capture_output=True, text=True, check=False, timeout=300, env=env
    )


def _env(data_dir: Path, url: str, *, server: bool) -> dict[str, str]:
    env = base._env(data_dir, server=server)
    env["DATABASE_URL"] = url
    return env


def _start_server(data_dir: Path, url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    error_log = data_dir / "gunicorn.log"
    log = error_log.open("ab")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "bench.screening:timed_app()",
            "--workers",
            str(workers),
            "--threads",
            "4",
            "--keep-alive",
            "10",
            "--bind",
            f"{base.HOST}:{port}",
            "--error-logfile",
            str(error_log),
        ],
        cwd=REPO,
        env=_env(data_dir, url, server=True),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode}): {base._tail(error_log)}")
        try:
            conn = http.client.HTTPConnection(base.HOST, port, timeout=5)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            if ok:
                return server
        except OSError:
            pass  # not listening yet
        time.sleep(0.2)
    base._stop_server(server)
    raise RuntimeError(f"gunicorn did not answer /healthz within 60 s: {base._tail(error_log)}")


@dataclass
class Presses:
    dom_ms: list[float] = field(default_factory=list)
    painted_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)  # the vote request inside Django
    lost: int = 0  # no new record within NEXT_TIMEOUT
    finished: bool = False  # nothing left to screen


def _state(page: Any) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate(
        """() => {
          const panel = document.getElementById("screen");
          const rec = document.querySelector("[data-record]");
          return {
            samples: window.__latency ? window.__latency.samples.length : 0,
            busy: panel ? panel.getAttribute("aria-busy") === "true" : false,
            record: rec ? rec.getAttribute("data-record") : null,
          };
        }"""
    )
    return state


def run_browser(port: int, presses: int, pace: float) -> Presses:
    from playwright.sync_api import sync_playwright

    result = Presses()
    url = f"http://{base.HOST}:{port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_init_script(MEASURE)
        page = context.new_page()
        page.goto(f"{url}/accounts/login/")
        page.fill("input[name=username]", BROWSER_USER)
        page.fill("input[name=password]", BROWSER_PASSWORD)
        page.click("button:has-text('Sign in')")
        page.wait_for_url(f"{url}/")
        page.goto(f"{url}/r/{base.SLUG}/screen/{base.STAGE}/")
        keys = "ie"
        for n in range(presses):
            state = _state(page)
            waited = time.monotonic() + NEXT_TIMEOUT
            while (state["busy"] or state["record"] is None) and time.monotonic() < waited:
                time.sleep(0.01)
                state = _state(page)
            if state["record"] is None:
                result.finished = True
                break
            before = state["samples"]
            page.keyboard.press(keys[n % 2])
            waited = time.monotonic() + NEXT_TIMEOUT
            while _state(page)["samples"] == before and time.monotonic() < waited:
                time.sleep(0.005)
            samples = page.evaluate("() => window.__latency.samples")
            if len(samples) == before:
                result.lost += 1
                page.reload()  # start again from a fresh page
                continue
            last = samples[-1]
            result.dom_ms.append(float(last["dom"]))
            result.painted_ms.append(float(last["painted"]))
            if last.get("server") is not None:
                result.server_ms.append(float(last["server"]))
            time.sleep(pace)
        context.close()
        browser.close()
    return result


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--reviewers", type=int, default=20, help="simulated reviewers")
    parser.add_argument("--presses", type=int, default=200, help="keys pressed in the browser")
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument(
        "--think",
        type=base._think,
        default=(2.0, 5.0),
        help="seconds a simulated reviewer reads before voting, LOW:HIGH (default 2:5; 0:0 "
        "for as fast as the server answers)",
    )
    parser.add_argument(
        "--pace", type=float, default=0.3, help="seconds between presses once a record is shown"
    )
    parser.add_argument("--screened", type=float, default=0.5, help="fraction screened before")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (4 threads each)")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker_setup(*map(int, args.worker[:2]), float(args.worker[2]))))
        return 0
    if not Path(CHROMIUM).exists():
        print(f"Chromium not found at {CHROMIUM}")
        return 2
    return run(args)


def run(args: argparse.Namespace) -> int:
    url = args.database_url
    data_dir = Path(tempfile.mkdtemp(prefix="reviewflow-bench-latency-"))
    created = _pg("createdb", url)
    if created.returncode != 0 and "already exists" not in created.stderr:
        print(f"createdb failed: {created.stderr.strip()}")
        return 2
    made_db = created.returncode == 0
    server: subprocess.Popen[bytes] | None = None
    threads: list[base.Reviewer] = []
    try:
        print(f"{args.records:,} records: migrating and making the review …", flush=True)
        setup = base._run_json(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                str(args.records),
                str(args.reviewers),
                str(args.screened),
            ],
            _env(data_dir, url, server=False),
        )
        print(
            f"  {'reused' if setup['reused'] else 'made'} in {setup['seconds']:.0f} s; "
            "collecting static files …",
            flush=True,
        )
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=REPO,
            env=_env(data_dir, url, server=True),
            check=True,
        )
        port = base._free_port()
        server = _start_server(data_dir, url, port, args.workers)
        go = threading.Event()
        threads = [
            base.Reviewer(port, token, seed=n, start=go, think=args.think)
            for n, token in enumerate(setup["tokens"])
        ]
        for thread in threads:
            thread.warm_up()
            thread.deadline = float("inf")
            thread.start()
        started = time.perf_counter()
        go.set()
        print(
            f"  server on port {port}; {len(threads)} reviewers screening; "
            f"{args.presses} presses in Chromium …",
            flush=True,
        )
        presses = run_browser(port, args.presses, args.pace)
        for thread in threads:
            thread.deadline = 0.0
        for thread in threads:
            thread.join(timeout=args.think[1] + 30)
        seconds = time.perf_counter() - started
    finally:
        for thread in threads:
            thread.deadline = 0.0
            thread.conn.close()
        if server is not None:
            base._stop_server(server)
        shutil.rmtree(data_dir, ignore_errors=True)
        if made_db and not args.keep:
            _pg("dropdb", url)
    return report(args, presses, threads, seconds)


def report(
    args: argparse.Namespace, presses: Presses, threads: list[base.Reviewer], seconds: float
) -> int:
    pairs = sum(len(t.tally.server_ms) for t in threads)
    votes = sum(t.tally.created for t in threads)
    errors = sum(t.tally.errors for t in threads)
    races = sum(t.tally.races for t in threads)
    rows = [
        ("key → new record in the DOM", presses.dom_ms),
        ("key → new record painted", presses.painted_ms),
        ("  of which the vote in Django", presses.server_ms),
    ]
    left = "; nothing left to screen" if presses.finished else ""
    print(
        f"\nChromium, {len(presses.painted_ms)} presses of i/e ({presses.lost} brought no "
        f"new record within {NEXT_TIMEOUT:g} s{left}), "
        f"{args.records:,} records, gunicorn {args.workers} workers × 4 threads, PostgreSQL"
    )
    print(f"{'':32} {'median':>8} {'p95':>8} {'max':>8}  (ms)")
    for label, values in rows:
        median = base.percentile(values, 50)
        p95 = base.percentile(values, 95)
        print(
            f"{label:32} {_ms(median):>8} {_ms(p95):>8} {_ms(max(values) if values else None):>8}"
        )
    server = [ms for t in threads for ms in t.tally.server_ms]
    print(
        f"\n{len(threads)} simulated reviewers (think {args.think[0]:g}–{args.think[1]:g} s) over "
        f"{seconds:.0f} s: {2 * pairs / seconds:.1f} requests/s, {votes / seconds:.2f} votes/s, "
        f"{races} races for a last vote, {errors} errors; a next + vote pair inside Django: "
        f"median {_ms(base.percentile(server, 50))} ms, p95 {_ms(base.percentile(server, 95))} ms"
    )
    for sample in [s for t in threads for s in t.tally.samples][:3]:
        print(f"  error: {sample}")
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    p95 = base.percentile(presses.painted_ms, 95)
    ok = p95 is not None and p95 < P95_TARGET_MS and presses.lost == 0
    print(
        f"\nTarget: p95 key → painted under {P95_TARGET_MS:g} ms, no press lost: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
