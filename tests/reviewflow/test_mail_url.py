"""EMAIL_URL → Django's EMAIL_* settings (reviewflow/mail.py): pure, no database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reviewflow.mail import EmailUrlError, describe, email_settings_from_url

REPO = Path(__file__).resolve().parents[2]
SMTP = "django.core.mail.backends.smtp.EmailBackend"


def test_smtp_with_starttls_user_and_password():
    assert email_settings_from_url("smtp://mailer:s3cret@mail.example.org:587?tls=1") == {
        "EMAIL_BACKEND": SMTP,
        "EMAIL_HOST": "mail.example.org",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "mailer",
        "EMAIL_HOST_PASSWORD": "s3cret",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 10,
    }


def test_smtps_is_implicit_tls_on_port_465_by_default():
    settings = email_settings_from_url("smtps://u:p@mail.example.org")
    assert settings["EMAIL_PORT"] == 465
    assert settings["EMAIL_USE_SSL"] is True
    assert settings["EMAIL_USE_TLS"] is False


def test_plain_smtp_defaults_to_port_25_without_credentials():
    settings = email_settings_from_url("smtp://localhost")
    assert (settings["EMAIL_HOST"], settings["EMAIL_PORT"]) == ("localhost", 25)
    assert settings["EMAIL_HOST_USER"] == settings["EMAIL_HOST_PASSWORD"] == ""
    assert not settings["EMAIL_USE_TLS"] and not settings["EMAIL_USE_SSL"]


def test_starttls_without_a_port_uses_587():
    assert email_settings_from_url("smtp://mail.example.org?tls=true")["EMAIL_PORT"] == 587


def test_user_and_password_are_percent_decoded():
    settings = email_settings_from_url(
        "smtp://me%40example.org:p%40ss%3Aw%2Fd@mail.example.org:2525"
    )
    assert settings["EMAIL_HOST_USER"] == "me@example.org"
    assert settings["EMAIL_HOST_PASSWORD"] == "p@ss:w/d"
    assert settings["EMAIL_PORT"] == 2525


def test_timeout_option():
    assert email_settings_from_url("smtp://h?timeout=30")["EMAIL_TIMEOUT"] == 30


def test_console_is_the_default_for_an_empty_url():
    for url in ("", "  ", "console://"):
        assert email_settings_from_url(url) == {
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"
        }


def test_file_and_memory_backends():
    assert email_settings_from_url("file:///var/tmp/mail") == {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": "/var/tmp/mail",
    }
    assert email_settings_from_url("memory://") == {
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "imap://mail.example.org",
            "EMAIL_URL must start with smtp://, smtps://, console://, file:// or memory://, "
            "not 'imap://mail.example.org'",
        ),
        (
            "mail.example.org",
            "EMAIL_URL must start with smtp://, smtps://, console://, file:// or memory://, "
            "not 'mail.example.org'",
        ),
        (
            "smtp://",
            "EMAIL_URL names no mail server: write it as smtp://user:password@host:port",
        ),
        (
            "smtp://u:secret@mail.example.org:notaport",
            "EMAIL_URL is not a valid address (Port could not be cast to integer value as "
            "'notaport'): smtp://u:***@mail.example.org:notaport",
        ),
        (
            "smtp://mail.example.org?tls=maybe",
            "EMAIL_URL option tls must be 1 or 0, not 'maybe'",
        ),
        (
            "smtp://mail.example.org?starttls=1",
            "EMAIL_URL has an unknown option starttls: use tls=1, ssl=1 or timeout=SECONDS",
        ),
        (
            "smtps://mail.example.org?tls=1",
            "EMAIL_URL asks for both implicit TLS (smtps:// or ssl=1) and STARTTLS (tls=1): "
            "choose one",
        ),
        (
            "smtp://mail.example.org?timeout=soon",
            "EMAIL_URL timeout must be a whole number of seconds above 0, not 'soon'",
        ),
        (
            "file://",
            "EMAIL_URL file:// needs a folder, e.g. file:///var/tmp/reviewflow-mail",
        ),
    ],
)
def test_a_malformed_url_names_the_variable_and_the_fault(url, message):
    with pytest.raises(EmailUrlError) as caught:
        email_settings_from_url(url)
    assert str(caught.value) == message


def test_an_error_never_shows_the_password():
    with pytest.raises(EmailUrlError) as caught:
        email_settings_from_url("ftp://u:p%40ss@host/x")
    assert "p%40ss" not in str(caught.value) and "u:***@host/x" in str(caught.value)


def _settings_with(email_url: str, tmp_path) -> subprocess.CompletedProcess[str]:
    code = (
        "from django.conf import settings; "
        "print(settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT, "
        "settings.EMAIL_USE_SSL, settings.EMAIL_HOST_PASSWORD)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reviewflow.settings",
        "REVIEWFLOW_DATA_DIR": str(tmp_path),
        "EMAIL_URL": email_url,
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )


def test_settings_read_email_url_and_fail_loudly_on_a_malformed_one(tmp_path):
    good = _settings_with("smtps://u:p%40ss@mail.example.org", tmp_path)
    assert good.stdout.split() == [SMTP, "mail.example.org", "465", "True", "p@ss"]
    bad = _settings_with("smtp://mail.example.org:99999", tmp_path)
    assert bad.returncode != 0
    assert (
        "ImproperlyConfigured: EMAIL_URL is not a valid address (Port out of range 0-65535): "
        "smtp://mail.example.org:99999" in bad.stderr
    )


def test_describe_says_where_mail_goes_without_the_password():
    assert describe(email_settings_from_url("")) == "printed to the console"
    said = describe(email_settings_from_url("smtp://u:hunter2@mail.example.org?tls=1"))
    assert said == "sent by SMTP to mail.example.org:587 with STARTTLS"
    assert describe(email_settings_from_url("smtps://mail.example.org")) == (
        "sent by SMTP to mail.example.org:465 over TLS"
    )


def test_make_run_says_where_mail_goes(monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_script", REPO / "scripts" / "run.py")
    assert spec and spec.loader
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    monkeypatch.setenv("EMAIL_URL", "console://")
    assert run.email_destination() == "printed to the console"
    monkeypatch.setenv("EMAIL_URL", "smtps://me:hunter2@mail.example.org")
    assert run.email_destination() == "sent by SMTP to mail.example.org:465 over TLS"
