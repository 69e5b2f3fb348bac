"""GRADE: the proposals (risk of bias from the RoB consensus, inconsistency from I²,
imprecision from the CI), the certainty, absolute effects per 1,000, and the
summary-of-findings page, its owners' ratings and its HTML and DOCX downloads."""

from __future__ import annotations

import io
import math
import zipfile

import pytest
from django.urls import reverse

from extraction.grade import Judgement, certainty, corresponding_risk, propose
from extraction.models import GradeAssessment
from extraction.selectors import included_studies
from extraction.services.extractions import start_extraction, submit_extraction
from extraction.services.forms import create_form, publish_form
from extraction.spec import FieldSpec, FormSpec, SectionSpec
from extraction.synthesis import EffectSet, EffectSize, Measure, meta_analyse
from reviewflow.reviews.audit_words import describe
from reviewflow.reviews.models import AuditEvent
from tests.extraction.test_synthesis_pages import DATA, SPEC, _values


def _result(yis, vis, measure=Measure.RR, names=None):
    names = names or [f"s{i}" for i in range(len(yis))]
    effects = [EffectSize(n, measure, y, v) for n, y, v in zip(names, yis, vis, strict=True)]
    return meta_analyse(EffectSet(measure, effects), method="DL")


def test_inconsistency_follows_i2_thresholds():
    calm = propose(_result([0.1, 0.12, 0.11], [0.04, 0.05, 0.04]))["inconsistency"]
    assert calm.level == "not_serious" and calm.reason == "I² = 0%"
    wild = propose(_result([-1.0, 1.0, 0.0], [0.01, 0.01, 0.01]))["inconsistency"]
    assert wild.level == "very_serious" and wild.reason.endswith("considerable heterogeneity")


def test_imprecision_from_the_ci_of_a_ratio():
    precise = propose(_result([-0.7, -0.6], [0.01, 0.01]))["imprecision"]
    assert precise.level == "not_serious"
    crosses = propose(_result([-0.1, 0.05], [0.01, 0.01]))["imprecision"]
    assert crosses.level == "serious" and crosses.reason.endswith("includes no effect")
    wide = propose(_result([0.0, 0.1], [0.5, 0.6]))["imprecision"]
    assert wide.level == "very_serious"
    assert wide.reason.endswith("includes appreciable benefit and appreciable harm")


def test_risk_of_bias_from_the_share_of_weight_at_high_risk():
    result = _result([0.1, 0.1], [0.01, 0.03], names=["A", "B"])  # weights 75% and 25%
    high = propose(result, {"A": "high", "B": "low"})["risk_of_bias"]
    assert high.level == "very_serious" and high.reason.startswith("75% of the weight")
    concerns = propose(result, {"A": "low", "B": "some_concerns"})["risk_of_bias"]
    assert concerns.level == "not_serious"
    assert propose(result, {"A": "some_concerns", "B": None})["risk_of_bias"] == Judgement(
        "serious",
        "75% of the weight from studies at high risk or with some concerns; 1 study not assessed",
    )
    assert propose(result)["risk_of_bias"] is None


def test_certainty_drops_a_level_per_serious_concern():
    serious = {"inconsistency": Judgement("serious", "x")}
    assert certainty("randomised", {}) == "high"
    assert certainty("randomised", serious) == "moderate"
    assert certainty("randomised", {**serious, "imprecision": Judgement("very_serious")}) == (
        "very_low"
    )
    assert certainty("observational", {}) == "low"


def test_absolute_risk_per_measure_by_hand():
    assert corresponding_risk(Measure.RR, 0.2, 0.5) == pytest.approx(0.1)
    assert corresponding_risk(Measure.OR, 0.2, 0.5) == pytest.approx(0.1 / 0.9)
    assert corresponding_risk(Measure.RD, 0.2, -0.05) == pytest.approx(0.15)


# --- Pages ---------------------------------------------------------------------------------

RISK_OF_BIAS = {"Europe": "high", "Asia": "low"}
# A RoB 2 form that records only the overall judgement, one assessor per study.
ROB = FormSpec(
    "Risk of bias",
    extractors_needed=1,
    sections=(
        SectionSpec(
            "RoB 2",
            fields=(FieldSpec("overall", "Overall", "judgement", rob2={"domain": "overall"}),),
        ),
    ),
)


@pytest.fixture
def rated(review, owner, reviewer, reviewer2):
    """The outcome form's three poolable studies, and a RoB 2 form judging them overall."""
    from tests.extraction.helpers import included_records

    included_records(review, owner, (reviewer, reviewer2), n=4)
    form = publish_form(form=create_form(review=review, actor=owner, spec=SPEC), actor=owner)
    rob = publish_form(form=create_form(review=review, actor=owner, spec=ROB), actor=owner)
    for record, row in zip(included_studies(review), DATA, strict=True):
        extraction = start_extraction(form=form, record=record, extractor=reviewer)
        submit_extraction(extraction=extraction, actor=reviewer, values=_values(*row))
        judged = start_extraction(form=rob, record=record, extractor=reviewer)
        level = RISK_OF_BIAS[row[4]]
        values = {"overall": {"judgement": level, "override_reason": ""}}
        submit_extraction(extraction=judged, actor=reviewer, values=values)
    return form


def _url(form, fmt=None):
    if fmt:
        return reverse("extraction-grade-export", args=[form.review.slug, form.pk, fmt])
    return reverse("extraction-grade", args=[form.review.slug, form.pk])


@pytest.mark.django_db
def test_sof_row_has_the_pooled_rr_and_risks_per_thousand(client_for, rated, viewer):
    page = client_for(viewer).get(_url(rated))
    text = page.content.decode()
    assert page.status_code == 200
    # Pooled control risk by hand: (20 + 5 + 18) / (100 + 50 + 82).
    acr = (20 + 5 + 18) / 232
    assert f"{1000 * acr:.0f} per 1,000" in text
    body = (
        client_for(viewer)
        .get(
            reverse("api-form-synthesis", args=[rated.review.slug, rated.pk]),
            {"measure": "RR", "method": "REML"},
        )
        .json()
    )
    rr = math.exp(body["analysis"]["result"]["estimate"])
    assert f"RR {rr:.2f}" in text
    assert f"{1000 * acr * rr:.0f} per 1,000" in text
    assert ">462 (3)<" in text  # 200 + 100 + 162 participants in the three pooled studies
    weights = body["analysis"]["result"]["weights"]
    high = sum(w for s, w in weights.items() if s in ("Family1 2001", "Family3 2003"))
    assert high >= 50  # the proposal: very serious, with its reason, until an owner rates
    assert f"Risk of bias: very serious ({high:.0f}% of the weight from high-risk studies)" in text
    assert "(proposed)" in text
    assert "<form" not in text.split("data-sof")[1].split("</table>")[0]
    assert "data-grade-form" not in text  # a viewer reads, does not rate


@pytest.mark.django_db
def test_owner_rates_an_outcome_with_reasons_and_it_is_audited(client_for, rated, owner):
    client = client_for(owner)
    page = client.get(_url(rated)).content.decode()
    assert "data-grade-form" in page
    key = "dichotomous|death|1 year"
    post = {"outcome": key, "design": "randomised"}
    for domain in ("risk_of_bias", "inconsistency", "indirectness", "imprecision"):
        post |= {f"{domain}-level": "not_serious", f"{domain}-reason": ""}
    post |= {"publication_bias-level": "serious", "publication_bias-reason": ""}
    refused = client.post(_url(rated), post)
    assert refused.status_code == 400
    assert "Publication bias: give the reason for downgrading (serious)." in (
        refused.content.decode()
    )
    assert not GradeAssessment.objects.exists()
    post["publication_bias-reason"] = "Industry-funded trials only"
    assert client.post(_url(rated), post).status_code == 302
    saved = GradeAssessment.objects.get()
    assert saved.judgements["publication_bias"] == {
        "level": "serious",
        "reason": "Industry-funded trials only",
    }
    text = client.get(_url(rated)).content.decode()
    assert "Publication bias: serious (Industry-funded trials only)" in text
    assert ">Moderate<" in text
    event = AuditEvent.objects.get(action="form.grade_saved")
    from reviewflow.reviews.audit_words import Event

    sentence = describe(
        Event(event.action, "olivia", event.target, before=event.before, after=event.after)
    )
    assert sentence.text == (
        "olivia rated the certainty of 'Death · 1 year (Dichotomous outcomes)' in Outcome data "
        "(version 1): moderate"
    )


@pytest.mark.django_db
def test_only_owners_rate(client_for, rated, reviewer, outsider):
    post = {"outcome": "dichotomous|death|1 year", "design": "randomised"}
    assert client_for(reviewer).post(_url(rated), post).status_code == 403
    assert client_for(outsider).post(_url(rated), post).status_code == 404
    assert not GradeAssessment.objects.exists()


@pytest.mark.django_db
def test_downloads_are_html_and_docx(client_for, rated, viewer):
    client = client_for(viewer)
    html = client.get(_url(rated, "html"))
    assert html["Content-Disposition"].endswith('-summary-of-findings.html"')
    text = html.content.decode()
    assert text.startswith("<!DOCTYPE html>") and "Death · 1 year" in text
    assert "<script" not in text and "style=" not in text
    docx = client.get(_url(rated, "docx"))
    assert docx.content[:2] == b"PK"
    with zipfile.ZipFile(io.BytesIO(docx.content)) as archive:
        document = archive.read("word/document.xml").decode()
    assert "Summary of findings: Outcome data" in document
    assert "Death · 1 year (Dichotomous outcomes)" in document
    assert client.get(_url(rated, "pdf")).status_code == 404


def _api(form):
    return reverse("api-form-summary-of-findings", args=[form.review.slug, form.pk])


@pytest.mark.django_db
def test_api_reads_the_table_and_owners_rate_through_it(client_for, rated, owner, reviewer):
    from rest_framework.test import APIClient

    body = client_for(reviewer).get(_api(rated)).json()
    [row] = body["rows"]
    assert (row["measure"], row["k"], row["participants"]) == ("RR", 3, 462)
    assert row["saved"] is False and row["certainty"] in ("low", "very_low")
    assert row["proposals"]["risk_of_bias"]["level"] == "very_serious"
    assert row["proposals"]["indirectness"] is None
    acr = (20 + 5 + 18) / 232
    assert row["absolute_per_1000"]["control"] == pytest.approx(1000 * acr)
    assert row["absolute_per_1000"]["intervention"] == pytest.approx(
        1000 * acr * row["relative"]["estimate"]
    )
    judgements = {d: {"level": "not_serious", "reason": ""} for d in row["judgements"]}
    put = {"outcome": row["outcome"]["key"], "design": "randomised", "judgements": judgements}
    api = APIClient()
    api.force_authenticate(reviewer)
    assert api.put(_api(rated), put, format="json").status_code == 403
    api.force_authenticate(owner)
    bad = {**put, "judgements": {**judgements, "imprecision": {"level": "serious"}}}
    refused = api.put(_api(rated), bad, format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "Imprecision: give the reason for downgrading (serious).",
        "field": "imprecision",
    }
    saved = api.put(_api(rated), put, format="json").json()
    assert saved["saved"] is True and saved["certainty"] == "high"
    assert GradeAssessment.objects.get().judgements == judgements


# --- Pooling method and assumed control risk per outcome ----------------------------------

KEY = "dichotomous|death|1 year"
ARMS = [(20, 100), (5, 50), (18, 82)]  # the control arms of the three pooled studies


def test_control_risk_pooled_median_and_mean_by_hand():
    from extraction.grade import control_risk, control_risk_label

    assert control_risk(ARMS) == pytest.approx(43 / 232)
    assert control_risk(ARMS, "median") == pytest.approx(0.2)
    assert control_risk(ARMS, "mean") == pytest.approx((0.2 + 0.1 + 18 / 82) / 3)
    assert control_risk([(0, 0)], "median") is None  # no arm with participants
    assert control_risk_label("median", 3) == "median of 3 control arms"
    assert control_risk_label("typed", 0, "Smith 2019 cohort") == "from Smith 2019 cohort"


def _settings(**chosen):
    return {"outcome": KEY, "action": "settings", "method": "REML", "control_risk": "pooled"} | (
        chosen
    )


def _synthesis(client, form, **params):
    url = reverse("api-form-synthesis", args=[form.review.slug, form.pk])
    return client.get(url, {"measure": "RR", **params}).json()["analysis"]["result"]


@pytest.mark.django_db
def test_owner_chooses_the_method_and_the_median_control_risk(client_for, rated, owner):
    client = client_for(owner)
    page = client.get(_url(rated)).content.decode()
    assert 'data-grade-settings="dichotomous|death|1 year"' in page
    assert "Random effects, REML" in page.split("data-sof>")[1]  # the default, shown
    post = _settings(method="DL", knha="on", control_risk="median")
    assert client.post(_url(rated), post).status_code == 302
    saved = GradeAssessment.objects.get()
    assert (saved.method, saved.knha, saved.control_risk) == ("DL", True, "median")
    assert saved.judgements == {}  # the rating is still the proposals'
    text = client.get(_url(rated)).content.decode()
    table = text.split("data-sof>")[1].split("</table>")[0]
    assert "Random effects, DerSimonian–Laird, Hartung–Knapp" in table
    assert "200 per 1,000" in table and "(median of 3 control arms)" in table
    result = _synthesis(client, rated, method="DL", knha="1")
    rr, low, high = (math.exp(result[k]) for k in ("estimate", "ci_low", "ci_high"))
    assert f"RR {rr:.2f} ({low:.2f} to {high:.2f})" in table
    assert f"{200 * rr:.0f} per 1,000 ({200 * low:.0f} to {200 * high:.0f})" in table
    assert "(proposed)" in table
    event = AuditEvent.objects.get(action="form.grade_settings_saved")
    assert event.before["method"] == "REML" and event.after["method"] == "DL"
    from reviewflow.reviews.audit_words import Event

    sentence = describe(
        Event(event.action, "olivia", event.target, before=event.before, after=event.after)
    )
    assert sentence.text == (
        "olivia set how 'Death · 1 year (Dichotomous outcomes)' in Outcome data (version 1) "
        "is pooled: random effects (DerSimonian–Laird) with Hartung–Knapp; assumed control "
        "risk the median of the control arms"
    )


@pytest.mark.django_db
def test_a_typed_control_risk_with_its_source_reaches_the_exports(client_for, rated, owner):
    client = client_for(owner)
    post = _settings(
        method="FE",
        control_risk="typed",
        control_risk_per_1000="120",
        control_risk_source="Smith 2019, population cohort",
    )
    assert client.post(_url(rated), post).status_code == 302
    rr = math.exp(_synthesis(client, rated, method="FE")["estimate"])
    for fmt in ("html", "docx"):
        body = client.get(_url(rated, fmt)).content
        if fmt == "docx":
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                body = archive.read("word/document.xml")
        text = body.decode()
        assert "120 per 1,000" in text, fmt
        assert "from Smith 2019, population cohort" in text, fmt
        assert "Fixed effect, inverse variance" in text, fmt
        assert f"{120 * rr:.0f} per 1,000" in text, fmt
    page = client.get(_url(rated)).content.decode()
    assert 'name="control_risk_per_1000" value="120"' in page
    event = AuditEvent.objects.get(action="form.grade_settings_saved")
    sentence = describe(event)
    assert sentence.text.endswith(
        "fixed effect (inverse variance); assumed control risk 120 per 1,000 from "
        "'Smith 2019, population cohort'"
    )


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        (
            {"method": "FE", "knha": "on"},
            "The Hartung–Knapp adjustment applies to random effects (DL or REML) only.",
        ),
        ({"method": "Bayes"}, "Pooling method must be one of: FE, MH, DL, REML, not 'Bayes'."),
        (
            {"control_risk": "typed", "control_risk_per_1000": "abc", "control_risk_source": "x"},
            "Assumed control risk: enter a risk per 1,000 from 0 to 1000, not 'abc'.",
        ),
        (
            {"control_risk": "typed", "control_risk_per_1000": "1200", "control_risk_source": "x"},
            "Assumed control risk: enter a risk per 1,000 from 0 to 1000, not '1200'.",
        ),
        (
            {"control_risk": "typed", "control_risk_per_1000": "50"},
            "Assumed control risk: say where the typed risk comes from (e.g. a cohort study).",
        ),
        (
            {"control_risk": "median", "control_risk_per_1000": "50"},
            "A risk per 1,000 and its source go with 'typed' only: choose 'typed' or clear them.",
        ),
    ],
)
@pytest.mark.django_db
def test_refused_settings_name_the_field_and_change_nothing(
    client_for, rated, owner, chosen, message
):
    from django.utils.html import escape

    response = client_for(owner).post(_url(rated), _settings(**chosen))
    assert response.status_code == 400
    assert escape(message) in response.content.decode()
    assert not GradeAssessment.objects.exists()
    assert not AuditEvent.objects.filter(action="form.grade_settings_saved").exists()


@pytest.mark.django_db
def test_a_continuous_outcome_takes_no_mantel_haenszel_nor_control_risk(rated, owner):
    from extraction.services.grade import check_grade_settings
    from reviewflow.errors import ReviewflowError

    common = {"knha": False, "control_risk_per_1000": None, "control_risk_source": ""}
    with pytest.raises(ReviewflowError, match="Mantel–Haenszel pools binary outcomes only"):
        check_grade_settings(binary=False, method="MH", control_risk="pooled", **common)
    with pytest.raises(ReviewflowError, match="A continuous outcome has no control risk"):
        check_grade_settings(binary=False, method="REML", control_risk="mean", **common)
    chosen = check_grade_settings(binary=True, method="MH", control_risk="mean", **common)
    assert (chosen.method, chosen.control_risk) == ("MH", "mean")


@pytest.mark.django_db
def test_a_reviewer_cannot_choose_the_pooling(client_for, rated, reviewer):
    assert client_for(reviewer).post(_url(rated), _settings(method="DL")).status_code == 403
    assert not GradeAssessment.objects.exists()


@pytest.mark.django_db
def test_api_reads_and_writes_the_settings_all_or_nothing(client_for, rated, owner):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(owner)
    [row] = api.get(_api(rated)).json()["rows"]
    assert row["settings"] == {
        "method": "REML",
        "knha": False,
        "control_risk": "pooled",
        "control_risk_per_1000": None,
        "control_risk_source": "",
    }
    assert row["control_risk_source"] == "3 control arms pooled"
    typed = {
        "method": "REML",
        "control_risk": "typed",
        "control_risk_per_1000": 12.5,
        "control_risk_source": "Registry 2020",
    }
    bad_judgements = {"imprecision": {"level": "serious"}}
    refused = api.put(
        _api(rated),
        {"outcome": KEY, "settings": typed, "judgements": bad_judgements},
        format="json",
    )
    assert refused.status_code == 400
    assert not GradeAssessment.objects.exists()  # the settings were not kept either
    saved = api.put(_api(rated), {"outcome": KEY, "settings": typed}, format="json").json()
    assert saved["settings"]["control_risk_per_1000"] == 12.5
    assert saved["absolute_per_1000"]["control"] == pytest.approx(12.5)
    assert saved["control_risk_source"] == "from Registry 2020"
    assert saved["saved"] is False
    nothing = api.put(_api(rated), {"outcome": KEY}, format="json")
    assert nothing.status_code == 400
    assert nothing.json()["detail"] == "Send judgements, settings or both."


@pytest.mark.django_db
def test_the_database_refuses_settings_the_service_would_refuse(rated):
    from decimal import Decimal

    from django.db import IntegrityError, transaction

    bad = [
        {"method": "FE", "knha": True},
        {"control_risk": "typed", "control_risk_per_1000": None, "control_risk_source": "x"},
        {
            "control_risk": "typed",
            "control_risk_per_1000": Decimal("50"),
            "control_risk_source": "",
        },
        {
            "control_risk": "typed",
            "control_risk_per_1000": Decimal("1001"),
            "control_risk_source": "x",
        },
        {"control_risk": "median", "control_risk_per_1000": Decimal("50")},
    ]
    for fields in bad:
        with pytest.raises(IntegrityError), transaction.atomic():
            GradeAssessment.objects.create(form=rated, outcome_key=KEY, **fields)
    assert not GradeAssessment.objects.exists()
