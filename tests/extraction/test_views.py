"""Extraction pages: access, the builder, extracting with errors named per field and cell,
blinding, comparison and consensus, carrying to a new version, downloads, query counts."""

from __future__ import annotations

import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.urls import reverse

from extraction.models import Consensus, Extraction, Form
from extraction.selectors import included_studies
from extraction.services.forms import (
    create_form,
    create_form_from_template,
    new_form_version,
    publish_form,
    update_form,
)
from extraction.spec import ColumnSpec, FieldSpec, FormSpec, SectionSpec
from screening.models import FullTextReport, Record
from screening.services.fulltext import attach_full_text
from tests.screening.screening_fixtures import import_records, vote

pytestmark = pytest.mark.django_db

SECRET = "zebra-value-of-rachel"

SPEC = FormSpec(
    title="Outcomes",
    extractors_needed=2,
    sections=(
        SectionSpec(
            title="Study",
            fields=(
                FieldSpec(
                    key="sample_size",
                    label="Sample size",
                    kind="integer",
                    required=True,
                    min=Decimal(0),
                ),
                FieldSpec(key="country", label="Country", kind="short_text"),
                FieldSpec(
                    key="arms",
                    label="Arms",
                    kind="table",
                    columns=(
                        ColumnSpec(key="arm", label="Arm", kind="short_text", required=True),
                        ColumnSpec(key="events", label="Events", kind="integer", min=Decimal(0)),
                    ),
                ),
            ),
        ),
    ),
)


def include(review, record, *reviewers):
    for stage in ("title-abstract", "full-text"):
        for user in reviewers:
            vote(review, record, user, "include", stage=stage)


@pytest.fixture
def studies(review, owner, reviewer, reviewer2):
    records = import_records(review, owner, 3)
    for record in records[:2]:
        include(review, record, reviewer, reviewer2)
    return records[:2]


@pytest.fixture
def form(review, owner, studies):
    draft = create_form(review=review, actor=owner, spec=SPEC)
    return publish_form(form=draft, actor=owner)


def page_url(form, record):
    return reverse("extraction-page", args=[form.review.slug, form.pk, record.pk])


def start(client, form, record):
    return client.post(
        reverse("extraction-action", args=[form.review.slug, form.pk, record.pk]),
        {"action": "start"},
    )


def filled(**extra):
    data = {
        "f-sample_size": "120",
        "f-country": "Norway",
        "f-arms-0-arm": "MSC",
        "f-arms-0-events": "4",
        "f-arms-1-arm": "Placebo",
        "f-arms-1-events": "9",
    }
    data.update(extra)
    return data


def submit(client, form, record, **extra):
    return client.post(page_url(form, record), {**filled(**extra), "action": "submit"})


def test_anonymous_is_sent_to_sign_in_and_outsiders_get_404(client, client_for, form, outsider):
    record = included_studies(form.review).first()
    slug = form.review.slug
    urls = [
        reverse("extraction-home", args=[slug]),
        reverse("extraction-form", args=[slug, form.pk]),
        reverse("extraction-form-preview", args=[slug, form.pk]),
        page_url(form, record),
        reverse("extraction-compare", args=[slug, form.pk, record.pk]),
        reverse("extraction-export", args=[slug, form.pk, "consensus", "csv"]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert client_for(outsider).get(url).status_code == 404


def test_viewers_see_the_overview_but_cannot_extract_or_build(client_for, form, viewer):
    record = included_studies(form.review).first()
    client = client_for(viewer)
    assert client.get(reverse("extraction-home", args=[form.review.slug])).status_code == 200
    assert client.get(page_url(form, record)).status_code == 403
    assert start(client, form, record).status_code == 403
    builder = reverse("extraction-form", args=[form.review.slug, form.pk])
    preview = reverse("extraction-form-preview", args=[form.review.slug, form.pk])
    # Members read a form (as in the API) on its preview page; the builder is the owners'.
    response = client.get(builder)
    assert (response.status_code, response["Location"]) == (302, preview)
    assert client.post(builder, {"spec": "{}"}).status_code == 403
    page = client.get(preview)
    assert page.status_code == 200 and f'href="{builder}"' not in page.content.decode()
    assert client.post(preview, {"spec": "{}"}).status_code == 403
    assert not Extraction.objects.exists()


def test_owner_creates_forms_blank_and_from_a_template(client_for, review, owner):
    client = client_for(owner)
    url = reverse("extraction-form-new", args=[review.slug])
    response = client.post(url, {"title": "Population", "template": ""})
    blank = Form.objects.get(title="Population")
    assert response["Location"] == reverse("extraction-form", args=[review.slug, blank.pk])
    assert blank.status == "draft" and blank.spec["sections"][0]["title"] == "Section 1"
    client.post(url, {"title": "", "template": "study-characteristics"})
    from_template = Form.objects.exclude(pk=blank.pk).get()
    assert from_template.spec["sections"]
    page = client.get(reverse("extraction-form", args=[review.slug, from_template.pk]))
    assert page.status_code == 200
    assert 'id="spec-data"' in page.content.decode()


def test_builder_saves_the_whole_spec_posted_by_the_page(client_for, review, owner):
    draft = create_form(review=review, actor=owner, spec=SPEC)
    spec = SPEC.to_dict()
    spec["sections"][0]["fields"].reverse()
    spec["sections"][0]["fields"][0]["label"] = "Study arms"
    response = client_for(owner).post(
        reverse("extraction-form", args=[review.slug, draft.pk]), {"spec": json.dumps(spec)}
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    keys = [f["key"] for f in draft.spec["sections"][0]["fields"]]
    assert keys == ["arms", "country", "sample_size"]
    assert draft.spec["sections"][0]["fields"][0]["label"] == "Study arms"


def test_builder_names_the_field_at_fault_and_keeps_what_was_typed(client_for, review, owner):
    draft = create_form(review=review, actor=owner, spec=SPEC)
    spec = SPEC.to_dict()
    spec["sections"][0]["fields"][1]["key"] = "sample_size"
    spec["sections"][0]["fields"][1]["label"] = "Country of <b>study</b>"
    response = client_for(owner).post(
        reverse("extraction-form", args=[review.slug, draft.pk]), {"spec": json.dumps(spec)}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        "Section 1, field 2 (&quot;Country of &lt;b&gt;study&lt;/b&gt;&quot;): key "
        "&quot;sample_size&quot; is used twice" in html
    )
    assert response.context["spec_data"] == spec  # the builder starts again from the typed spec
    draft.refresh_from_db()
    assert draft.spec == SPEC.to_dict()


def test_published_form_is_frozen_and_new_version_makes_a_draft(client_for, form, owner):
    client = client_for(owner)
    url = reverse("extraction-form", args=[form.review.slug, form.pk])
    page = client.get(url)
    assert "frozen" in page.content.decode() and "data-frozen" in page.content.decode()
    assert client.post(url, {"spec": json.dumps(SPEC.to_dict())}).status_code == 403
    response = client.post(
        reverse("extraction-form-action", args=[form.review.slug, form.pk]),
        {"action": "new_version"},
    )
    draft = Form.objects.get(family=form.family, version=2)
    assert draft.status == "draft"
    assert response["Location"] == reverse("extraction-form", args=[form.review.slug, draft.pk])


def test_preview_shows_the_form_with_disabled_inputs(client_for, review, owner):
    draft = create_form(review=review, actor=owner, spec=SPEC)
    client = client_for(owner)
    url = reverse("extraction-form-preview", args=[review.slug, draft.pk])
    html = client.get(url).content.decode()
    assert 'name="f-sample_size"' in html and 'name="f-arms-0-events"' in html
    assert 'inputmode="numeric" aria-label="Events" disabled' in html
    unsaved = SPEC.to_dict()
    unsaved["sections"][0]["title"] = "Unsaved section"
    response = client.post(url, {"spec": json.dumps(unsaved)}, HTTP_HX_REQUEST="true")
    assert "Unsaved section" in response.content.decode()
    assert "<html" not in response.content.decode()


def test_extractor_saves_a_draft_then_submits(client_for, form, reviewer):
    record = included_studies(form.review).first()
    client = client_for(reviewer)
    assert start(client, form, record)["Location"] == page_url(form, record)
    draft = client.post(page_url(form, record), {"f-country": "Norway", "action": "draft"})
    assert draft.status_code == 302
    mine = Extraction.objects.get(extractor=reviewer)
    assert mine.status == "draft" and mine.values == {"country": "Norway"}
    assert submit(client, form, record).status_code == 302
    mine.refresh_from_db()
    assert mine.status == "submitted"
    assert mine.values == {
        "sample_size": 120,
        "country": "Norway",
        "arms": [{"arm": "MSC", "events": 4}, {"arm": "Placebo", "events": 9}],
    }


def test_submit_with_errors_names_fields_and_cells_and_keeps_the_values(client_for, form, reviewer):
    record = included_studies(form.review).first()
    client = client_for(reviewer)
    start(client, form, record)
    response = submit(client, form, record, **{"f-sample_size": "", "f-arms-1-events": "-3"})
    assert response.status_code == 400
    html = response.content.decode()
    summary = html.split("data-error-summary")[1].split("</div>")[0]
    assert "Sample size: This field is required." in summary
    assert "Arms, row 2, Events: must be at least 0" in summary
    field = html.split('id="field-sample_size"')[1].split('id="field-country"')[0]
    assert "This field is required." in field
    cell = html.split('name="f-arms-1-events"')[1].split("</td>")[0]
    assert "must be at least 0" in cell
    assert 'value="Norway"' in html and 'value="-3"' in html and 'value="Placebo"' in html
    assert Extraction.objects.get(extractor=reviewer).status == "draft"


def test_extractors_are_blind_to_each_other(client_for, form, reviewer, reviewer2):
    record = included_studies(form.review).first()
    first, second = client_for(reviewer), client_for(reviewer2)
    start(first, form, record)
    submit(first, form, record, **{"f-country": SECRET})
    start(second, form, record)
    home = second.get(reverse("extraction-home", args=[form.review.slug])).content.decode()
    assert SECRET not in home and reviewer.username not in home
    assert "1 of 2 submitted" in home and "You: draft" in home
    page = second.get(page_url(form, record)).content.decode()
    assert SECRET not in page
    compare_url = reverse("extraction-compare", args=[form.review.slug, form.pk, record.pk])
    assert second.get(compare_url).status_code == 403


def test_owner_sees_statuses_but_no_values_until_all_have_submitted(
    client_for, form, owner, reviewer
):
    record = included_studies(form.review).first()
    first = client_for(reviewer)
    start(first, form, record)
    submit(first, form, record, **{"f-country": SECRET})
    client = client_for(owner)
    home = client.get(reverse("extraction-home", args=[form.review.slug])).content.decode()
    assert "rachel (submitted)" in home and SECRET not in home
    compare_url = reverse("extraction-compare", args=[form.review.slug, form.pk, record.pk])
    response = client.get(compare_url)
    assert response.status_code == 302
    assert "1 of 2 so far" in str(list(response.wsgi_request._messages)[0])


def test_comparison_highlights_disagreements_and_consensus_is_prefilled_then_final(
    client_for, form, owner, reviewer, reviewer2
):
    record = included_studies(form.review).first()
    for user, events in ((reviewer, "9"), (reviewer2, "8")):
        client = client_for(user)
        start(client, form, record)
        assert submit(client, form, record, **{"f-arms-1-events": events}).status_code == 302
    client = client_for(owner)
    url = reverse("extraction-compare", args=[form.review.slug, form.pk, record.pk])
    page = client.get(url)
    html = page.content.decode()
    assert 'class="x-agree" data-compare="sample_size"' in html
    assert 'class="x-disagree" data-compare="arms"' in html
    row = html.split('data-compare-row="2"')[1].split("</tr>")[0]
    assert '<span class="x-a">9</span>' in row and '<span class="x-b">8</span>' in row
    consensus = html.split('id="consensus-form"')[1]
    assert 'name="f-sample_size" value="120"' in consensus
    assert 'name="f-arms-1-arm" value="Placebo"' in consensus
    assert 'name="f-arms-1-events" value=""' in consensus  # the disputed cell is left empty
    response = client.post(url, {**filled(**{"f-arms-1-events": "8"}), "action": "finalise"})
    assert response.status_code == 302
    final = Consensus.objects.get(form=form, record=record)
    assert final.status == "final" and final.values["arms"][1] == {"arm": "Placebo", "events": 8}


def test_consensus_finalise_refuses_an_empty_required_field(
    client_for, form, owner, reviewer, reviewer2
):
    record = included_studies(form.review).first()
    for user in (reviewer, reviewer2):
        client = client_for(user)
        start(client, form, record)
        submit(client, form, record)
    url = reverse("extraction-compare", args=[form.review.slug, form.pk, record.pk])
    data = {**filled(**{"f-sample_size": ""}), "action": "finalise"}
    response = client_for(owner).post(url, data)
    assert response.status_code == 400
    assert "Sample size: This field is required." in response.content.decode()
    assert Consensus.objects.get(form=form, record=record).status == "draft"


def test_extraction_carries_to_a_new_version(client_for, form, owner, reviewer):
    record = included_studies(form.review).first()
    client = client_for(reviewer)
    start(client, form, record)
    client.post(page_url(form, record), {**filled(), "action": "draft"})
    draft = new_form_version(form=form, actor=owner)
    spec = SPEC.to_dict()
    del spec["sections"][0]["fields"][1]  # country is dropped in version 2
    update_form(form=draft, actor=owner, spec=spec)
    v2 = publish_form(form=draft, actor=owner)
    page = client.get(page_url(v2, record)).content.decode()
    assert "Carry to version 2" in page and "sample_size" in page
    old = Extraction.objects.get(form=form, extractor=reviewer)
    response = client.post(
        reverse("extraction-action", args=[form.review.slug, v2.pk, record.pk]),
        {"action": "carry", "extraction": old.pk},
    )
    assert response["Location"] == page_url(v2, record)
    carried = Extraction.objects.get(form=v2, extractor=reviewer)
    assert carried.carried_from == old and carried.values["sample_size"] == 120
    assert "country" not in carried.values


def test_imported_text_is_escaped(client_for, form, reviewer):
    record = included_studies(form.review).first()
    Record.objects.filter(pk=record.pk).update(title="<script>alert(1)</script>")
    client = client_for(reviewer)
    start(client, form, record)
    for url in (reverse("extraction-home", args=[form.review.slug]), page_url(form, record)):
        html = client.get(url).content.decode()
        assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_posts_need_the_csrf_token(form, reviewer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    record = included_studies(form.review).first()
    assert start(client, form, record).status_code == 403
    assert not Extraction.objects.exists()


def test_consensus_downloads_hold_the_agreed_values(client_for, form, owner, reviewer, reviewer2):
    record = included_studies(form.review).first()
    for user in (reviewer, reviewer2):
        client = client_for(user)
        start(client, form, record)
        submit(client, form, record)
    owner_client = client_for(owner)
    url = reverse("extraction-compare", args=[form.review.slug, form.pk, record.pk])
    owner_client.post(url, {**filled(), "action": "finalise"})
    slug = form.review.slug
    response = owner_client.get(
        reverse("extraction-export", args=[slug, form.pk, "consensus", "json"])
    )
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert "Placebo" in response.content.decode()
    response = owner_client.get(
        reverse("extraction-export", args=[slug, form.pk, "consensus", "csv"])
    )
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        text = "".join(archive.read(name).decode("utf-8-sig") for name in archive.namelist())
    assert "Norway" in text and "Placebo" in text
    own = reverse("extraction-export", args=[slug, form.pk, "extractor", "xlsx"])
    assert client_for(reviewer).get(f"{own}?user=rachel").status_code == 200
    assert client_for(reviewer).get(f"{own}?user=roberto").status_code == 403


@pytest.mark.parametrize("n", [1, 6])
def test_home_query_count_does_not_grow_with_studies(
    n, client_for, review, owner, reviewer, reviewer2, django_assert_num_queries
):
    for record in import_records(review, owner, n):
        include(review, record, reviewer, reviewer2)
    draft = create_form(review=review, actor=owner, spec=SPEC)
    form = publish_form(form=draft, actor=owner)
    for record in included_studies(review):
        start(client_for(reviewer), form, record)
    client = client_for(owner)
    url = reverse("extraction-home", args=[review.slug])
    with django_assert_num_queries(11):  # 11: the extractors' workload (#20)
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("n", [1, 6])
def test_extraction_page_query_count_does_not_grow_with_studies(
    n, client_for, review, owner, reviewer, reviewer2, django_assert_num_queries
):
    for record in import_records(review, owner, n):
        include(review, record, reviewer, reviewer2)
    draft = create_form(review=review, actor=owner, spec=SPEC)
    form = publish_form(form=draft, actor=owner)
    record = included_studies(review).first()
    client = client_for(reviewer)
    start(client, form, record)
    with django_assert_num_queries(10):
        assert client.get(page_url(form, record)).status_code == 200


@pytest.fixture
def rob2_form(review, owner, studies):
    draft = create_form_from_template(review=review, actor=owner, template="rob2")
    return publish_form(form=draft, actor=owner)


def test_rob2_answers_get_the_algorithms_proposal_live(client_for, rob2_form, reviewer):
    url = reverse("extraction-rob2", args=[rob2_form.review.slug, rob2_form.pk])
    client = client_for(reviewer)
    low = client.post(url, {"f-q1_1": "Y", "f-q1_2": "Y", "f-q1_3": "N"}).json()
    assert low["proposals"]["d1_judgement"] == "low"
    assert low["labels"]["low"] == "Low risk"
    high = client.post(url, {"f-q1_1": "Y", "f-q1_2": "N", "f-q1_3": "N"}).json()
    assert high["proposals"]["d1_judgement"] == "high"
    assert high["proposals"]["d2_judgement"] is None


def test_a_judgement_left_to_the_proposal_takes_it_and_an_override_needs_a_reason(
    client_for, rob2_form, reviewer
):
    record = included_studies(rob2_form.review).first()
    client = client_for(reviewer)
    start(client, rob2_form, record)
    answers = {"f-q1_1": "Y", "f-q1_2": "Y", "f-q1_3": "N"}
    response = client.post(
        page_url(rob2_form, record), {**answers, "f-d1_judgement-judgement": "", "action": "draft"}
    )
    assert response.status_code == 302
    mine = Extraction.objects.get(extractor=reviewer)
    assert mine.values["d1_judgement"] == {"judgement": "low", "override_reason": ""}
    page = client.get(page_url(rob2_form, record)).content.decode()
    assert 'data-proposal-for="d1_judgement">Low risk<' in page
    assert 'data-rob2-url="/r/' in page
    response = client.post(
        page_url(rob2_form, record),
        {**answers, "f-d1_judgement-judgement": "high", "action": "submit"},
    )
    assert response.status_code == 400
    assert (
        "Domain 1 risk-of-bias judgement: the algorithm proposes &quot;Low risk&quot;; give a "
        "reason for overriding it" in response.content.decode()
    )


def test_the_full_text_pdf_is_shown_beside_the_form(client_for, form, reviewer):
    record = included_studies(form.review).first()
    pdf = io.BytesIO(b"%PDF-1.4\n%%EOF\n")
    pdf.name = "trial.pdf"
    attach_full_text(
        review=form.review, record=record, actor=reviewer, file=pdf, filename="trial.pdf"
    )
    client = client_for(reviewer)
    start(client, form, record)
    html = client.get(page_url(form, record)).content.decode()
    src = reverse("fulltext-pdf", args=[form.review.slug, record.pk])
    assert f'data-pdf-url="{src}"' in html  # the pdf.js viewer (reviewflow/pdf_viewer.js)
    assert 'data-evidence-form="extraction-form"' in html
    assert "data-pdf-source" not in html  # uploaded by a member: no source line to give
    # An open-access copy says where it came from under the viewer, as at full text.
    url = "https://europepmc.org/articles/PMC1/pdf"
    FullTextReport.objects.filter(record=record).update(
        pdf_source="europepmc", pdf_url=url, pdf_licence="cc-by", pdf_version="acceptedVersion"
    )
    html = client.get(page_url(form, record)).content.decode()
    assert (
        f'<p class="pdfv-source muted" data-pdf-source>Open-access copy from <a href="{url}"'
        ' target="_blank" rel="noopener noreferrer nofollow">Europe PMC</a> · licence cc-by · '
        "accepted manuscript (after peer review)</p>"
    ) in html
    other = included_studies(form.review).last()
    assert "data-pdf-viewer" not in client.get(page_url(form, other)).content.decode()


def test_an_extraction_on_a_superseded_version_stays_readable(client_for, form, owner, reviewer):
    record = included_studies(form.review).first()
    client = client_for(reviewer)
    start(client, form, record)
    client.post(page_url(form, record), {**filled(), "action": "draft"})
    publish_form(form=new_form_version(form=form, actor=owner), actor=owner)
    html = client.get(page_url(form, record)).content.decode()
    assert "has been superseded" in html
    assert 'name="f-country" value="Norway" disabled' in html
    assert "Save draft" not in html


def test_owner_assigns_an_extractor_to_a_study(client_for, form, owner, reviewer2, viewer):
    record = included_studies(form.review).first()
    url = reverse("extraction-action", args=[form.review.slug, form.pk, record.pk])
    client = client_for(owner)
    home = client.get(reverse("extraction-home", args=[form.review.slug])).content.decode()
    assert "<option>roberto</option>" in home and "<option>victor</option>" not in home
    assert client.post(url, {"action": "assign", "extractor": "victor"}).status_code == 404
    client.post(url, {"action": "assign", "extractor": "roberto"})
    assert Extraction.objects.get(record=record).extractor == reviewer2
    assert client_for(reviewer2).post(url, {"action": "assign", "extractor": "roberto"})
    assert Extraction.objects.count() == 1
