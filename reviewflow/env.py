"""Typed helpers that read settings from the environment and fail loudly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_from_url(url: str, *, data_dir: Path) -> dict[str, Any]:
    """Django DATABASES entry for a ``postgres://`` or ``sqlite:///`` URL.

    An empty URL means SQLite in the data folder, in WAL mode so the web server and the
    Celery worker can read while the other writes.
    """
    if not url:
        return _sqlite(data_dir / "reviewflow.sqlite3")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        # sqlite:///relative/path.db and sqlite:////absolute/path.db, as SQLAlchemy spells them
        path = unquote(parts.netloc + parts.path)
        return _sqlite(Path(path[1:] if path.startswith("/") else path))
    if scheme in {"postgres", "postgresql", "pgsql"}:
        given: dict[str, Any] = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        # Values bound on the server, and a statement run a few times on a connection
        # prepared there: PostgreSQL plans screening's hot statements once per connection
        # instead of at each request (psycopg's own settings; override them in the URL,
        # e.g. ?prepare_threshold= for a pooler that cannot keep prepared statements).
        # ``jit=off``: PostgreSQL compiles a query whose estimated cost passes
        # ``jit_above_cost``, and every count over a large review passes it once the
        # database holds many reviews: compiling took 290 ms of the PRISMA diagram's 500 at
        # 2 million records, for queries that run in tens of milliseconds (#25). Give
        # ``?options=`` in the URL to set other server settings instead.
        options: dict[str, Any] = {
            "server_side_binding": True,
            "prepare_threshold": 2,
            "options": "-c jit=off",
        }
        for key, value in given.items():
            if key == "server_side_binding":
                options[key] = value.lower() in ("1", "true", "yes", "on")
            elif key == "prepare_threshold":
                options[key] = int(value) if value.strip() else None
            else:
                options[key] = value
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "reviewflow",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL must start with postgres:// or sqlite:///, not {scheme or url!r}"
    )


def _sqlite(path: Path) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of failing
        # half-way with "database is locked". A new database gets 16 KB pages (kept for
        # good by WAL mode): a record with its abstract and raw fields (3-6 KB) fits a page
        # instead of spilling into overflow pages, and imports write about a quarter faster.
        "OPTIONS": {
            "init_command": (
                "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
