"""An open-access look-up through a real Celery worker process (Redis when ``REDIS_URL`` is
set, and kombu's filesystem transport), against the local server of test_openaccess.py: the
worker reads the services' addresses from its environment, as in production."""

from __future__ import annotations

import pytest

from screening.models import FullTextReport, OaRun
from screening.services import openaccess
from tests.conftest import needs_service
from tests.screening.test_openaccess_run import oa_server, records  # noqa: F401 - fixtures
from tests.worker import real_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_a_run_attaches_open_access_copies_in_a_real_worker(
    broker,
    review,
    owner,
    records,  # noqa: F811 - the imported fixture
    oa_server,  # noqa: F811 - the imported fixture
    monkeypatch,
    tmp_path,
):
    if broker == "redis":
        needs_service("Redis", "REDIS_URL")
    for name, value in {
        "UNPAYWALL_URL": oa_server.url + "unpaywall/v2/",
        "OPENALEX_URL": oa_server.url + "openalex/",
        "EUROPEPMC_URL": oa_server.url + "epmc/",
        "UNPAYWALL_EMAIL": "team@example.org",
        "OA_ALLOW_PRIVATE_ADDRESSES": "1",
        "CONNECTOR_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    with real_worker(broker, tmp_path) as worker:
        run = openaccess.start_oa_run(review=review, actor=owner)
        done = wait_for(
            lambda: OaRun.objects.filter(pk=run.pk, status="done").first(),
            timeout=90,
            what="the open-access run to finish",
            worker=worker,
        )
    assert (done.records_total, done.records_done, done.attached, done.attempt) == (6, 6, 3, 1)
    assert dict(FullTextReport.objects.values_list("record_id", "pdf_licence")) == {
        records["arxiv"].pk: "",
        records["peerj"].pk: "cc-by",
        records["gastric"].pk: "cc by",
    }
