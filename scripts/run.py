"""`make run`: migrate, load the demo when the database is empty, then run the web server
and a Celery worker side by side until Ctrl-C stops both.

The console ends with the address and the logins, once the worker says it is ready and the
web server answers, so they are the last thing a newcomer reads. The two servers run in
sessions of their own: Ctrl-C reaches this script only, which stops them in order (no
"Hitting Ctrl+C again" or traceback from either) within a few seconds.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
READY_TIMEOUT = 90.0  # seconds to wait for the worker's "ready" and the web server's port
STOP_TIMEOUT = 15.0  # seconds the servers have to stop before they are killed (the worker
# finishes the task in hand; on the filesystem queue Celery itself takes about 7 s to stop)
QUIET = 1.5  # seconds without worker output before the address is printed


def manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, check=True)


def data_dir() -> Path:
    return Path(os.environ.get("REVIEWFLOW_DATA_DIR") or ROOT / "data")


class WorkerOutput:
    """The worker's output, copied to this console as it comes: ``ready`` is set at its
    "ready." line, and ``last`` is when it last said anything."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.last = time.monotonic()

    def forward(self, stream: IO[str]) -> None:
        for line in stream:
            sys.stdout.write(line)
            sys.stdout.flush()
            self.last = time.monotonic()
            if line.rstrip().endswith(" ready."):
                self.ready.set()


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until_up(host: str, port: int, worker: WorkerOutput, procs: list) -> bool:
    """Until the worker is ready, the web server answers, and the worker has been quiet
    for ``QUIET`` seconds (the tasks the demo queued are done): whether all went well."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        if (
            worker.ready.is_set()
            and time.monotonic() - worker.last >= QUIET
            and port_open(host, port)
        ):
            return True
        time.sleep(0.2)
    return False


def logins() -> str:
    path = data_dir() / "demo_logins.txt"
    if not path.exists():
        return ""
    lines = path.read_text(encoding="utf-8").rstrip().splitlines()
    return "\n".join(f"    {line}" for line in lines)


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def email_destination() -> str:
    """Where ``EMAIL_URL`` sends mail, in words (never its password)."""
    sys.path.insert(0, str(ROOT))
    from reviewflow.mail import describe, email_settings_from_url

    return describe(email_settings_from_url(os.environ.get("EMAIL_URL", "")))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", default="8000")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewflow.settings")
    # A laptop run is the development server by design; its production warning is noise.
    os.environ.setdefault("DJANGO_RUNSERVER_HIDE_WARNING", "true")
    # No mail server on a laptop: the worker prints each message (invitations, password
    # resets) to this console instead, links and all.
    os.environ.setdefault("EMAIL_URL", "console://")
    mail = email_destination()

    manage("migrate", "--no-input", "-v", "0")
    manage("loaddemo", "--if-empty")
    if os.environ.get("DEBUG", "") not in ("1", "true", "yes", "on"):
        manage("collectstatic", "--no-input", "-v", "0")

    output = WorkerOutput()
    # The worker runs Celery beat too (scheduled saved searches); a production installation
    # runs one `celery -A reviewflow beat` of its own (README).
    beat_schedule = data_dir() / "celery" / "beat-schedule"
    beat_schedule.parent.mkdir(parents=True, exist_ok=True)
    worker = subprocess.Popen(
        [
            PY,
            "-m",
            "celery",
            "-A",
            "reviewflow",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            os.environ.get("CELERY_CONCURRENCY", "2"),
            "--beat",
            "--schedule",
            str(beat_schedule),
        ],
        cwd=ROOT,
        # DEBUG makes Django keep every query's text: a long import would fill memory.
        env={**os.environ, "DEBUG": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,  # Ctrl-C reaches this script, which stops the worker
    )
    assert worker.stdout is not None
    threading.Thread(target=output.forward, args=(worker.stdout,), daemon=True).start()
    web = subprocess.Popen(
        [PY, "manage.py", "runserver", f"{args.host}:{args.port}", "--noreload"],
        cwd=ROOT,
        text=True,
        start_new_session=True,
    )
    procs = [web, worker]

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)  # `kill` or a supervisor stops both, like Ctrl-C
    signal.signal(signal.SIGINT, on_term)  # also where a parent shell had Ctrl-C ignored
    try:
        if wait_until_up(args.host, int(args.port), output, procs):
            broker = (
                "Redis" if os.environ.get("REDIS_URL") else "the filesystem queue in data/celery"
            )
            found = logins()
            print(
                f"\n  reviewflow is running at http://{args.host}:{args.port}/\n"
                f"  Celery worker (and beat, for scheduled searches) on {broker}. "
                "Ctrl-C stops both.\n"
                f"  E-mail is {mail} (EMAIL_URL).\n"
                + (f"  Sign in with one of these (username password):\n{found}\n" if found else ""),
                flush=True,
            )
        else:
            print("\n  reviewflow did not start: see the messages above.", flush=True)
            stop(procs)
            return 1
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\n  Stopping reviewflow (the worker finishes the task in hand)…", flush=True)
    finally:
        stop(procs)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C while migrating or loading the demo
        sys.exit(130)
