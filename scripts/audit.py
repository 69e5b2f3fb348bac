"""`make audit`: the pinned requirements checked for known vulnerabilities with pip-audit.

pip-audit asks PyPI's JSON API, which lists each release's known vulnerabilities. Where that
service cannot be reached (no network, or an index mirror without the JSON API, as on
machines that reach PyPI through a proxy), this says so in one plain line and exits 0:
a missing network is not a vulnerability, and must not fail `make test`. Where the service
answers, pip-audit runs with ``--strict`` and its exit status is ours: a known vulnerability
(or a requirement that could not be audited) fails the build.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# requirements-dev.txt includes requirements.txt (``-r``): one resolution audits both.
REQUIREMENTS = ROOT / "requirements-dev.txt"
# The vulnerability service pip-audit uses (its default, ``--vulnerability-service pypi``);
# the probe asks it about one package the way pip-audit will ask about each.
SERVICE = "https://pypi.org/pypi"
PROBE_TIMEOUT_SECONDS = 10


def service_problem(base: str | None = None) -> str | None:
    """Why the vulnerability service cannot be used from here, or None when it answers.

    It is asked about one release (pip-audit's own) at the address pip-audit uses for each
    requirement: a proxy may answer for a project and not for its releases.
    """
    release = f"pip-audit/{version('pip-audit')}"
    url = f"{(base or SERVICE).rstrip('/')}/{release}/json"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_SECONDS) as response:  # noqa: S310
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return f"{url} answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{url} cannot be reached ({reason})"
    except ValueError:
        return f"{url} did not answer with JSON"
    if not isinstance(body, dict) or "vulnerabilities" not in body:
        return f"{url} answered without a list of vulnerabilities"
    return None


def main() -> int:
    problem = service_problem()
    if problem:
        print(
            "audit: skipped, the vulnerability service is not reachable from here: "
            f"{problem}. Run `make audit` where it is."
        )
        return 0
    print(f"audit: pip-audit of {REQUIREMENTS.name} (and requirements.txt it includes)")
    command = [sys.executable, "-m", "pip_audit", "--strict", "-r", str(REQUIREMENTS)]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
