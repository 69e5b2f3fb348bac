"""Starts the test OpenID Connect provider (provider.js: npm's oidc-provider, a certified
implementation) in a Node process on a free port, and stops it afterwards.

Without Node or the installed package (``npm ci --prefix tests/oidc``) the test skips with
the reason; in CI (``CI=true``) it fails instead."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import skip_or_fail

HERE = Path(__file__).resolve().parent
CLIENT_ID = "reviewflow-test"
CLIENT_SECRET = "a-test-secret-known-only-to-this-suite"
# Login names the provider's own login page accepts (any password), with their claims.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "ada": {"email": "ada@example.org", "email_verified": True, "name": "Ada Lovelace"},
    "newton": {"email": "isaac@example.org", "email_verified": True, "name": "Isaac Newton"},
    "mallory": {"email": "mallory@example.org", "email_verified": False, "name": "Mallory"},
}


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        skip_or_fail("Node.js not found: the single sign-on tests run a real OpenID provider")
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        skip_or_fail("oidc-provider not installed: run `npm ci --prefix tests/oidc`")
    return str(node)


@contextmanager
def running_provider(redirect_uris: list[str]) -> Iterator[str]:
    """A provider with one client allowed ``redirect_uris``; yields its issuer URL."""
    config = {
        "port": 0,
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": redirect_uris,
            }
        ],
        "accounts": ACCOUNTS,
    }
    node = _node()
    # Its warnings and errors go to a file, not a pipe nobody reads (which could fill up).
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [node, str(HERE / "provider.js"), json.dumps(config)],
            cwd=HERE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if not line.startswith("ready "):
                process.kill()
                process.wait()
                log.seek(0)
                raise RuntimeError(
                    f"the OpenID provider did not start: {line} {log.read()[-2000:]}"
                )
            yield line.removeprefix("ready ")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def provider_app(issuer: str, provider_id: str = "testidp", name: str = "Test IdP") -> dict:
    """django-allauth's APPS entry for the running provider, as OIDC_PROVIDERS gives it."""
    from reviewflow.sso_config import oidc_apps_from_env

    [app] = oidc_apps_from_env(
        {
            "OIDC_PROVIDERS": json.dumps(
                [
                    {
                        "id": provider_id,
                        "name": name,
                        "server_url": issuer,
                        "client_id": CLIENT_ID,
                        "secret": CLIENT_SECRET,
                    }
                ]
            )
        }
    )
    return app
