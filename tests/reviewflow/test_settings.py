from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from reviewflow.env import database_from_url, env_bool

REPO = Path(__file__).resolve().parents[2]


def test_deploy_check_is_clean_with_debug_off(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reviewflow.settings",
        "DEBUG": "0",
        "REVIEWFLOW_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    # With no SECRET_KEY, one random key was made for this installation and kept private.
    key = tmp_path / "secret_key"
    assert len(key.read_text()) >= 64
    assert oct(key.stat().st_mode)[-3:] == "600"


def test_unset_database_url_means_sqlite_in_wal_mode(tmp_path):
    db = database_from_url("", data_dir=tmp_path)
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(tmp_path / "reviewflow.sqlite3")
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]


def test_postgres_url_is_parsed(tmp_path):
    db = database_from_url("postgres://rf:s%40cret@db.example.org:5433/reviews", data_dir=tmp_path)
    assert (db["ENGINE"], db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "django.db.backends.postgresql",
        "reviews",
        "rf",
        "s@cret",
        "db.example.org",
        "5433",
    )


def test_postgres_connections_run_without_jit_unless_the_url_says(tmp_path):
    db = database_from_url("postgres://rf@db/reviews", data_dir=tmp_path)
    assert db["OPTIONS"]["options"] == "-c jit=off"
    given = database_from_url(
        "postgres://rf@db/reviews?options=-c%20work_mem%3D64MB", data_dir=tmp_path
    )
    assert given["OPTIONS"]["options"] == "-c work_mem=64MB"


@pytest.mark.django_db
def test_a_postgresql_connection_has_jit_off():
    from django.db import connection

    from tests.conftest import needs_postgresql

    needs_postgresql()
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_sqlite_urls_follow_the_usual_slashes(tmp_path):
    assert database_from_url(f"sqlite:///{tmp_path}/a.db", data_dir=tmp_path)["NAME"] == str(
        tmp_path / "a.db"
    )


def test_unknown_database_scheme_fails_loudly(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL must start with"):
        database_from_url("mysql://x@y/z", data_dir=tmp_path)


def test_bad_boolean_fails_loudly(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be 1/0"):
        env_bool("DEBUG", False)


@pytest.mark.django_db
def test_embedded_database_runs_in_wal_mode():
    from django.db import connection

    if os.environ.get("DATABASE_URL"):
        assert connection.vendor == "postgresql"
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
