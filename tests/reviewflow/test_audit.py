"""`make audit` (scripts/audit.py): pip-audit where the vulnerability service answers; one
plain line, and success, where it cannot be reached."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("audit", ROOT / "scripts" / "audit.py")
assert spec and spec.loader
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)


def serve(status: int, body: bytes) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/pypi"
    server.shutdown()
    server.server_close()


@pytest.fixture
def mirror_without_json_api() -> Iterator[str]:
    yield from serve(404, b"Not Found")


@pytest.fixture
def vulnerability_service() -> Iterator[str]:
    yield from serve(200, json.dumps({"info": {}, "vulnerabilities": []}).encode())


def closed_port() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/pypi"


def no_pip_audit(*args, **kwargs):
    raise AssertionError("pip-audit must not run when the service cannot be reached")


def test_unreachable_service_is_said_plainly_and_does_not_fail(monkeypatch, capsys):
    base = closed_port()
    monkeypatch.setattr(audit, "SERVICE", base)
    monkeypatch.setattr(audit.subprocess, "run", no_pip_audit)
    assert audit.main() == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "audit: skipped, the vulnerability service is not reachable from here: "
        f"{base}/pip-audit/{version('pip-audit')}/json cannot be reached ("
    )
    assert out.rstrip().endswith("Run `make audit` where it is.")


def test_a_mirror_without_the_vulnerability_api_counts_as_unreachable(
    monkeypatch, capsys, mirror_without_json_api
):
    # pip-audit would skip every package there and could pass having checked nothing.
    monkeypatch.setattr(audit, "SERVICE", mirror_without_json_api)
    monkeypatch.setattr(audit.subprocess, "run", no_pip_audit)
    assert audit.main() == 0
    assert "/json answered HTTP 404. Run `make audit` where it is." in capsys.readouterr().out


@pytest.mark.parametrize("pip_audit_status", [0, 1])
def test_where_the_service_answers_pip_audit_decides(
    monkeypatch, capsys, vulnerability_service, pip_audit_status
):
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, pip_audit_status)

    monkeypatch.setattr(audit, "SERVICE", vulnerability_service)
    monkeypatch.setattr(audit.subprocess, "run", run)
    # A found vulnerability (pip-audit's 1) fails `make test`.
    assert audit.main() == pip_audit_status
    assert calls == [
        [sys.executable, "-m", "pip_audit", "--strict", "-r", str(ROOT / "requirements-dev.txt")]
    ]


def test_make_audit_on_a_machine_without_the_service(tmp_path):
    """The real script, as `make test` runs it, here where pypi.org's JSON API is not
    reachable (CI's machines too): one line, exit 0."""
    if audit.service_problem() is None:
        pytest.skip("the vulnerability service is reachable here: `make audit` audits for real")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "audit.py")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("audit: skipped, the vulnerability service is not reachable")
    assert len(result.stdout.splitlines()) == 1
