"""Start a real Celery worker process against the test database, for tests that must prove
the wiring rather than run tasks eagerly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kombu.pools
from django.db import connection

from reviewflow.celery import app as celery_app

REPO = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def broker_settings(broker: str, data_dir: Path) -> dict[str, Any]:
    if broker == "redis":
        return {"broker_url": os.environ["REDIS_URL"], "broker_transport_options": {}}
    folder = data_dir / "celery" / "queue"
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("processed", "control"):
        (data_dir / "celery" / sub).mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": "filesystem://",
        "broker_transport_options": {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "processed_folder": str(data_dir / "celery" / "processed"),
            "control_folder": str(data_dir / "celery" / "control"),
            "store_processed": False,
        },
    }


class Worker:
    def __init__(self, broker: str, data_dir: Path, queue: str):
        self.broker, self.data_dir, self.queue = broker, data_dir, queue
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"worker-{uuid.uuid4().hex[:6]}.log"

    def start(self, concurrency: int = 1, own_group: bool = False) -> None:
        """``own_group``: in a process group of its own, so ``kill_whole`` can kill it."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "reviewflow.settings_test",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "DATABASE_URL": test_database_url(),
            "CELERY_QUEUE": self.queue,
            "REVIEWFLOW_DATA_DIR": str(self.data_dir),
            "TEST_MEDIA_ROOT": os.environ.get("TEST_MEDIA_ROOT", ""),
        }
        if not env["TEST_MEDIA_ROOT"]:
            del env["TEST_MEDIA_ROOT"]
        if self.broker != "redis":
            env.pop("REDIS_URL", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "reviewflow",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"test-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=REPO,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=own_group,
        )

    def children(self) -> list[int]:
        assert self.proc is not None
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def kill_child(self) -> int:
        """SIGKILL the pool process running tasks, as the OOM killer would."""
        children = self.children()
        assert children, "the worker has no pool process"
        os.kill(children[0], signal.SIGKILL)
        return children[0]

    def kill_whole(self) -> None:
        """SIGKILL the worker's whole process group (main process, pool, parser processes),
        as a lost machine or a killed container would; it must have been started with
        ``own_group``. Nothing of it can acknowledge, reject or requeue its task."""
        assert self.proc is not None
        assert os.getpgid(self.proc.pid) == self.proc.pid, "start(own_group=True) first"
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def replacement(self) -> Worker:
        """A new worker (not started) on the same broker, data folder and queue."""
        return Worker(self.broker, self.data_dir, self.queue)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def parser_processes(parent: int | None = None) -> list[int]:
    """Live (not zombie) import parser processes (``screening.importers.pipeline``), of
    ``parent`` only when given."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue  # it ended while we looked
        if b"screening.importers.pipeline" not in cmdline:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if fields.get("State", "").startswith("Z"):
            continue
        if parent is None or fields.get("PPid", "").strip() == str(parent):
            found.append(int(entry.name))
    return found


@contextmanager
def real_worker(
    broker: str, data_dir: Path, concurrency: int = 1, own_group: bool = False
) -> Iterator[Worker]:
    """Point this process's Celery app at ``broker`` (not eager) and run a worker on it
    (``own_group``: see ``Worker.start``)."""
    queue = f"test-{uuid.uuid4().hex[:10]}"
    saved = {
        k: celery_app.conf[k]
        for k in (
            "broker_url",
            "broker_transport_options",
            "task_always_eager",
            "task_default_queue",
        )
    }
    celery_app.conf.update(
        **broker_settings(broker, data_dir), task_always_eager=False, task_default_queue=queue
    )
    _reset_connections()
    worker = Worker(broker, data_dir, queue)
    worker.start(concurrency=concurrency, own_group=own_group)
    try:
        yield worker
    finally:
        worker.stop()
        celery_app.conf.update(**saved)
        _reset_connections()


def _reset_connections() -> None:
    # Producers are cached per broker URL, in the app and in kombu's global pools.
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu.pools.reset()
    celery_app.amqp.queues = celery_app.amqp.Queues(())  # rebuilt from the default queue


def wait_for(check: Callable[[], Any], *, timeout: float, what: str, worker: Worker) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if worker.proc and worker.proc.poll() is not None:
            raise AssertionError(f"the worker exited while waiting for {what}:\n{worker.output()}")
        time.sleep(0.2)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what}:\n{worker.output()[-4000:]}"
    )
