"""The first hour (#19): `make run` installs only what running needs, the demo is a review
set up as a real one, a new review's slug comes from its title, the dashboard says what to
do next, and the small things a new user reported."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import resolve, reverse
from rest_framework.test import APIClient

from reviewflow.reviews.models import Review
from reviewflow.reviews.progress import ReviewProgress, plural
from screening.models import Record, Search
from screening.services import identification
from tests.conftest import skip_or_fail
from tests.screening.factories import upload

ROOT = Path(__file__).resolve().parents[2]


# --- make run installs only what running needs --------------------------------------------


def make_dry_run(target: str, tmp_path: Path) -> str:
    """The commands ``make TARGET`` would run for a fresh virtualenv (``-n``: none runs)."""
    if shutil.which("make") is None:
        skip_or_fail("make is not installed")
    result = subprocess.run(
        ["make", "-n", "-B", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def requirement_names(path: Path) -> set[str]:
    """The distributions a requirements file installs, following its ``-r`` includes."""
    names: set[str] = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r"):
            names |= requirement_names(path.parent / line[2:].strip())
        elif line:
            names.add(re.split(r"[\[=<>~! ;]", line, maxsplit=1)[0].lower())
    return names


def installed_names(commands: str) -> set[str]:
    names: set[str] = set()
    for line in commands.splitlines():
        if "pip install" in line:
            for match in re.finditer(r"-r\s+(\S+)", line):
                names |= requirement_names(ROOT / match.group(1))
    return names


def test_make_run_installs_no_test_tool(tmp_path):
    run = make_dry_run("run", tmp_path)
    names = installed_names(run)
    assert "django" in names and "celery" in names
    assert not names & {"pytest", "pytest-django", "playwright", "ruff", "mypy", "hypothesis"}
    assert "requirements-dev.txt" not in run
    assert "scripts/run.py" in run


def test_make_test_installs_the_test_tools_too(tmp_path):
    names = installed_names(make_dry_run("test", tmp_path))
    assert {"django", "pytest", "ruff", "mypy", "import-linter"} <= names


# --- the console ----------------------------------------------------------------------------


def test_the_filesystem_broker_names_a_host_so_kombu_does_not_warn(tmp_path):
    # The settings as `make run` sees them (no REDIS_URL), read in a fresh interpreter.
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DJANGO_SETTINGS_MODULE="reviewflow.settings", REVIEWFLOW_DATA_DIR=str(tmp_path))
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "from kombu import Connection; url = settings.CELERY_BROKER_URL; "
        "print(url.split(':')[0], Connection(url).hostname)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["filesystem", "localhost"]


def test_the_console_ends_with_the_logins(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("run_script", ROOT / "scripts" / "run.py")
    assert spec and spec.loader
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    monkeypatch.setenv("REVIEWFLOW_DATA_DIR", str(tmp_path))
    assert run.logins() == ""
    (tmp_path / "demo_logins.txt").write_text("owner  pw1\nadmin  pw2   (site administrator)\n")
    assert run.logins() == "    owner  pw1\n    admin  pw2   (site administrator)"


# --- the demo ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_demo_is_a_review_set_up_as_a_real_one(tmp_path, settings, capsys):
    from screening.models import Conflict, PilotRound, StageSettings, Vote

    settings.DATA_DIR = tmp_path
    call_command("loaddemo")
    out = capsys.readouterr().out
    review = Review.objects.get(slug="msc-knee-oa")
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and not review.memberships.filter(user=admin).exists()
    assert re.search(r"^admin\s+\S+\s+\(site administrator: /admin/\)$", out, flags=re.M)
    logins = (tmp_path / "demo_logins.txt").read_text()
    assert [line.split()[0] for line in logins.splitlines()] == ["owner", "alice", "bob", "admin"]
    for stage in ("title-abstract", "full-text"):
        conf = StageSettings.objects.get(review=review, stage=stage)
        assert conf.criteria and conf.include_terms and conf.exclude_terms
        assert len(conf.exclusion_reasons) == 4
    assert PilotRound.objects.get(review=review).closed_at is not None
    assert Vote.objects.filter(review=review).count() == 80
    assert Conflict.objects.filter(review=review, resolved_at__isnull=True).count() == 5
    # The team's labels, some in use.
    from screening.models import Label, RecordLabel

    assert set(Label.objects.filter(review=review).values_list("name", flat=True)) == {
        "background reading",
        "check references",
        "non-English",
    }
    assert RecordLabel.objects.filter(record__review=review).exists()
    # A checklist at each stage, answered with the votes; the conflicts discussed.
    from screening.models import Comment, QuestionAnswer, ScreeningQuestion

    for stage, n in (("title-abstract", 3), ("full-text", 2)):
        assert ScreeningQuestion.objects.filter(review=review, stage=stage).count() == n
    assert QuestionAnswer.objects.filter(review=review).count() == 80 * 3
    no = QuestionAnswer.objects.filter(review=review, answer="no").select_related("question")
    assert no.exists()
    for answer in no:  # a "no" where the vote excludes for that question's reason
        vote = Vote.objects.get(record=answer.record, reviewer=answer.reviewer)
        assert (vote.decision, vote.reason) == ("exclude", answer.question.exclusion_reason)
    comments = Comment.objects.filter(review=review)
    assert comments.count() == 5 and all(c.mentions.exists() for c in comments)
    # Deduplicated already: the worker has nothing to re-send when it first connects.
    assert not Search.objects.filter(review=review, dedup_requested_at__isnull=False).exists()
    assert Record.objects.filter(review=review, duplicate_of__isnull=False).exists()


# --- a new review, the dashboard ------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_reviews_slug_is_proposed_from_its_title(client_for, owner):
    page = client_for(owner).get(reverse("review-create")).content.decode()
    assert 'data-slug-from="id_title"' in page
    assert "/static/reviewflow/slug.js" in page and "<script>" not in page
    response = client_for(owner).post(
        reverse("review-create"), {"title": "Stem cells for knee osteoarthritis", "slug": ""}
    )
    assert response.status_code == 302
    assert Review.objects.get(title="Stem cells for knee osteoarthritis").slug == (
        "stem-cells-for-knee-osteoarthritis"
    )


@pytest.mark.django_db
def test_editing_a_review_with_an_empty_slug_keeps_its_slug(client_for, owner, review):
    response = client_for(owner).post(
        reverse("review-settings", args=[review.slug]), {"title": "New title", "slug": ""}
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.title, review.slug) == ("New title", "msc-t2d")


def test_counts_are_written_without_brackets():
    assert (plural(1, "record"), plural(2, "record"), plural(1, "search", "searches")) == (
        "1 record",
        "2 records",
        "1 search",
    )
    assert ReviewProgress(searches=1, pending_duplicates=1).stage == (
        "Deduplication: 1 pair of possible duplicates waits for a decision"
    )
    assert ReviewProgress(searches_running=2).stage == "Importing 2 searches"


@pytest.mark.parametrize(
    ("progress", "next_step"),
    [
        (ReviewProgress(), "Next: import the export file of each database search (Searches)."),
        (
            ReviewProgress(searches=2, pending_duplicates=3),
            "Next: decide the possible duplicates (Duplicates).",
        ),
        (
            ReviewProgress(searches=2, unique=10, ta_settled=9),
            "Next: screen titles and abstracts — 1 record still open.",
        ),
        (
            ReviewProgress(searches=2, unique=10, ta_settled=10, ta_included=3, conflicts=1),
            "Next: resolve 1 conflict (Conflicts).",
        ),
        (
            ReviewProgress(searches=2, unique=10, ta_settled=10, ta_included=3, ft_settled=1),
            "Next: screen full texts — 2 reports still open.",
        ),
    ],
)
def test_the_dashboard_card_says_what_to_do_next(progress, next_step):
    assert progress.next_step == next_step


@pytest.mark.django_db
def test_the_dashboard_card_shows_the_next_step(client_for, owner, review):
    page = client_for(owner).get(reverse("dashboard")).content.decode()
    assert (
        '<p class="next-step" data-next-step>Next: import the export file of each database '
        "search (Searches).</p>"
    ) in page


# --- small things -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_says_searches(client):
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw-12345678")
    client.force_login(admin)
    page = client.get("/admin/").content.decode()
    assert ">Searches<" in page and "Searchs" not in page


@pytest.mark.django_db(transaction=True)
def test_a_ris_type_code_is_shown_in_words(client_for, owner, review):
    text = "TY  - JOUR\nTI  - A trial of cells\nAU  - Doe, J\nER  - \n"
    identification.create_search(
        review=review, actor=owner, file=upload(text, "a.ris"), filename="a.ris", source="X"
    )
    record = Record.objects.get()
    page = client_for(owner).get(reverse("record-detail", args=[review.slug, record.pk]))
    body = page.content.decode()
    assert "<dd>Journal article</dd>" in body and "<dd>JOUR</dd>" not in body


@pytest.mark.django_db
def test_the_api_root_lists_the_api(owner):
    client = APIClient()
    client.force_authenticate(owner)
    response = client.get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    assert body["reviews"] == "http://testserver/api/v1/reviews/"
    assert body["schema"] == "http://testserver/api/schema/"
    for url in body["review_resources"]:
        path = url.removeprefix("http://testserver").replace("{slug}", "x")
        resolve(path.replace("{stage}", "title-abstract"))  # raises when it is no URL
    assert APIClient().get("/api/v1/").status_code == 403
