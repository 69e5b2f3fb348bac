"""`make run`: migrate, load the demo when the database is empty, then run the web server
and a Celery worker side by side until Ctrl-C stops both."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", default="8000")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewflow.settings")

    manage("migrate", "--no-input")
    manage("loaddemo", "--if-empty")
    if os.environ.get("DEBUG", "") not in ("1", "true", "yes", "on"):
        manage("collectstatic", "--no-input", "-v", "0")

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
        ],
        cwd=ROOT,
        # DEBUG makes Django keep every query's text: a long import would fill memory.
        env={**os.environ, "DEBUG": "0"},
    )
    web = subprocess.Popen(
        [PY, "manage.py", "runserver", f"{args.host}:{args.port}", "--noreload"], cwd=ROOT
    )
    time.sleep(1.5)
    broker = "Redis" if os.environ.get("REDIS_URL") else "the filesystem queue in data/celery"
    print(
        f"\n  reviewflow is running at http://{args.host}:{args.port}/\n"
        f"  Celery worker on {broker}. Sign in with a demo login above. Ctrl-C stops both.\n",
        flush=True,
    )
    procs = [web, worker]

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # `kill` or a supervisor stops both, like Ctrl-C
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
