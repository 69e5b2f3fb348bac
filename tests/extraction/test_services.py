"""Extraction services: form versions, studies, slots, drafts and submissions, carrying,
comparison and consensus."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from extraction.errors import ExtractionInvalid
from extraction.models import Consensus, Extraction, Form
from extraction.selectors import comparison_for, form_spec, included_studies, study_statuses
from extraction.services.consensus import consensus_for, save_consensus
from extraction.services.extractions import (
    assign_extractor,
    carry_extraction,
    carry_preview,
    reopen_extraction,
    save_draft,
    start_extraction,
    submit_extraction,
    unassign_extractor,
)
from extraction.services.forms import (
    create_form,
    create_form_from_template,
    delete_draft_form,
    new_form_version,
    publish_form,
    update_form,
)
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.services.fulltext import link_same_study
from tests.extraction.helpers import (
    ARMS,
    FIELDS,
    GOOD,
    included_records,
    published_form,
    spec,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(review, owner, reviewer, reviewer2):
    return included_records(review, owner, (reviewer, reviewer2))


@pytest.fixture
def form(review, owner, records):
    return published_form(review, owner)


def both_submit(form, record, reviewer, reviewer2, a, b):
    ea = start_extraction(form=form, record=record, extractor=reviewer)
    eb = start_extraction(form=form, record=record, extractor=reviewer2)
    submit_extraction(extraction=ea, actor=reviewer, values=a)
    submit_extraction(extraction=eb, actor=reviewer2, values=b)
    return ea, eb


# ------------------------------------------------------------------------------ forms


def test_owner_creates_a_draft_form_from_a_spec(review, owner):
    form = create_form(review=review, actor=owner, spec=spec())
    assert (form.status, form.version, form.title, form.extractors_needed) == (
        "draft",
        1,
        "Trial data",
        2,
    )
    assert form_spec(form) == spec()
    event = AuditEvent.objects.get(action="form.created")
    assert (event.object_type, event.object_id) == ("extraction_form", form.pk)


def test_a_form_can_be_posted_as_json_data(review, owner):
    form = create_form(review=review, actor=owner, spec=spec().to_dict())
    assert form_spec(form).fields()[-1] == ARMS


def test_reviewer_cannot_create_forms(review, reviewer):
    with pytest.raises(ReviewflowError, match="Only owners of this review can build"):
        create_form(review=review, actor=reviewer, spec=spec())
    assert not Form.objects.exists()


def test_an_invalid_form_names_the_place_and_saves_nothing(review, owner):
    data = spec().to_dict()
    data["sections"][0]["fields"][2]["key"] = "sample_size"
    with pytest.raises(ReviewflowError) as info:
        create_form(review=review, actor=owner, spec=data)
    assert str(info.value) == ('Section 1, field 3 ("Country"): key "sample_size" is used twice')
    assert not Form.objects.exists()


def test_form_from_template_and_unknown_template(review, owner):
    form = create_form_from_template(review=review, actor=owner, template="rob2")
    assert any(f.kind == "judgement" for f in form_spec(form).fields())
    assert form.title == form_spec(form).title != ""
    named = create_form_from_template(
        review=review, actor=owner, template="rob2", title="  RoB 2: pain at 12 months "
    )
    assert named.title == form_spec(named).title == "RoB 2: pain at 12 months"
    with pytest.raises(ReviewflowError, match='There is no template "nope"'):
        create_form_from_template(review=review, actor=owner, template="nope")


def test_update_changes_a_draft_and_audits_before_and_after(review, owner):
    form = create_form(review=review, actor=owner, spec=spec())
    update_form(form=form, actor=owner, spec=spec(title="Renamed", extractors=1))
    form.refresh_from_db()
    assert (form.title, form.extractors_needed) == ("Renamed", 1)
    event = AuditEvent.objects.get(action="form.updated")
    assert event.before["spec"]["title"] == "Trial data"
    assert event.after["spec"]["title"] == "Renamed"


def test_a_published_form_is_frozen(review, owner):
    form = published_form(review, owner)
    with pytest.raises(ReviewflowError) as info:
        update_form(form=form, actor=owner, spec=spec(title="Changed"))
    assert str(info.value) == (
        "Version 1 of this form is published and cannot change: make a new version to edit it."
    )
    form.refresh_from_db()
    assert form.title == "Trial data"
    assert form.published_at is not None


def test_new_version_is_a_draft_and_publishing_it_supersedes_the_old(review, owner):
    v1 = published_form(review, owner)
    v2 = new_form_version(form=v1, actor=owner)
    assert (v2.family, v2.version, v2.status, v2.spec) == (v1.family, 2, "draft", v1.spec)
    with pytest.raises(ReviewflowError, match="Version 2 of this form is already a draft"):
        new_form_version(form=v1, actor=owner)
    update_form(form=v2, actor=owner, spec=spec(title="Trial data v2"))
    publish_form(form=v2, actor=owner)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == ("superseded", "published")
    assert v1.spec["title"] == "Trial data"  # the old definition never changes
    v3 = new_form_version(form=v1, actor=owner)
    assert v3.version == 3


def test_the_database_refuses_two_drafts_of_one_family(review, owner):
    v1 = published_form(review, owner)
    new_form_version(form=v1, actor=owner)
    with pytest.raises(IntegrityError), transaction.atomic():
        Form.objects.create(review=review, family=v1.family, version=9, title="x")


def test_only_drafts_can_be_deleted(review, owner):
    draft = create_form(review=review, actor=owner, spec=spec())
    published = published_form(review, owner)
    with pytest.raises(ReviewflowError, match="only drafts can be deleted"):
        delete_draft_form(form=published, actor=owner)
    delete_draft_form(form=draft, actor=owner)
    assert list(Form.objects.all()) == [published]
    assert AuditEvent.objects.filter(action="form.draft_deleted").count() == 1


def test_an_empty_form_cannot_be_published(review, owner):
    draft = create_form(review=review, actor=owner, spec=spec(fields=()))
    with pytest.raises(ReviewflowError, match="Add at least one field"):
        publish_form(form=draft, actor=owner)


# ------------------------------------------------------------------------------ studies


def test_included_studies_are_full_text_includes_one_per_study(
    review, owner, reviewer, reviewer2, records
):
    assert list(included_studies(review)) == records[:2]
    # The second report is another report of the first study: one study.
    link_same_study(review=review, record=records[1], actor=owner, study_of=records[0])
    assert list(included_studies(review)) == records[:1]


# ------------------------------------------------------------------------------ slots


def test_two_extractors_take_the_two_slots_and_a_third_is_refused(
    review, owner, reviewer, reviewer2, form, records
):
    a = start_extraction(form=form, record=records[0], extractor=reviewer)
    b = start_extraction(form=form, record=records[0], extractor=reviewer2)
    assert (a.slot, b.slot) == (1, 2)
    assert start_extraction(form=form, record=records[0], extractor=reviewer) == a
    with pytest.raises(ReviewflowError) as info:
        start_extraction(form=form, record=records[0], extractor=owner)
    assert str(info.value) == "This study already has its 2 extractors."
    assert Extraction.objects.count() == 2


def test_one_extractor_form_has_one_slot(review, owner, reviewer, reviewer2, records):
    form = published_form(review, owner, extractors=1)
    start_extraction(form=form, record=records[0], extractor=reviewer)
    with pytest.raises(ReviewflowError, match="This study already has its 1 extractor."):
        start_extraction(form=form, record=records[0], extractor=reviewer2)


def test_the_database_refuses_a_taken_slot(review, reviewer, reviewer2, form, records):
    start_extraction(form=form, record=records[0], extractor=reviewer)
    with pytest.raises(IntegrityError), transaction.atomic():
        Extraction.objects.create(form=form, record=records[0], extractor=reviewer2, slot=1)


def test_extraction_needs_an_included_study_a_published_form_and_an_extractor(
    review, owner, reviewer, viewer, form, records
):
    with pytest.raises(ReviewflowError, match="not an included study"):
        start_extraction(form=form, record=records[2], extractor=reviewer)
    with pytest.raises(ReviewflowError, match="Only reviewers and owners"):
        start_extraction(form=form, record=records[0], extractor=viewer)
    draft = create_form(review=review, actor=owner, spec=spec(title="Draft"))
    with pytest.raises(ReviewflowError, match="This form is not published yet."):
        start_extraction(form=draft, record=records[0], extractor=reviewer)
    assert not Extraction.objects.exists()


def test_owner_assigns_and_unassigns_extractors(review, owner, reviewer, viewer, form, records):
    extraction = assign_extractor(form=form, record=records[0], extractor=reviewer, actor=owner)
    assert (extraction.extractor, extraction.slot) == (reviewer, 1)
    with pytest.raises(ReviewflowError, match="victor is not a reviewer or owner"):
        assign_extractor(form=form, record=records[0], extractor=viewer, actor=owner)
    with pytest.raises(ReviewflowError, match="Only owners"):
        assign_extractor(form=form, record=records[1], extractor=reviewer, actor=reviewer)
    unassign_extractor(extraction=extraction, actor=owner)
    assert not Extraction.objects.exists()
    actions = set(
        AuditEvent.objects.filter(object_type="extraction").values_list("action", flat=True)
    )
    assert actions == {"extraction.assigned", "extraction.unassigned"}


# ------------------------------------------------------------------------------ values


def test_a_draft_keeps_normalised_values(review, reviewer, form, records):
    extraction = start_extraction(form=form, record=records[0], extractor=reviewer)
    save_draft(extraction=extraction, actor=reviewer, values={"sample_size": "12"})
    extraction.refresh_from_db()
    assert (extraction.status, extraction.values) == ("draft", {"sample_size": 12})
    save_draft(extraction=extraction, actor=reviewer, values=GOOD)
    extraction.refresh_from_db()
    assert extraction.values["dose"] == "1.5"
    assert extraction.values["outcomes"] == ["HbA1c", "C-peptide"]
    assert extraction.values["blinded"] is True


def test_invalid_values_name_the_field_and_cell_and_change_nothing(review, reviewer, form, records):
    extraction = start_extraction(form=form, record=records[0], extractor=reviewer)
    save_draft(extraction=extraction, actor=reviewer, values={"country": "Spain"})
    before = Extraction.objects.get(pk=extraction.pk)
    events = AuditEvent.objects.count()
    bad = {"sample_size": "many", "arms": [{"arm": "MSC"}, {"arm": "Placebo", "n": -3}]}
    with pytest.raises(ExtractionInvalid) as info:
        save_draft(extraction=extraction, actor=reviewer, values=bad)
    assert [str(e) for e in info.value.errors] == [
        "Sample size: must be a whole number",
        "Arms, row 2, Participants: must be at least 0",
    ]
    assert (info.value.errors[1].field, info.value.errors[1].row, info.value.errors[1].column) == (
        "arms",
        2,
        "n",
    )
    after = Extraction.objects.get(pk=extraction.pk)
    assert (after.values, after.updated_at) == (before.values, before.updated_at)
    assert AuditEvent.objects.count() == events


def test_submitting_with_a_required_field_empty_names_it_and_stays_a_draft(
    review, reviewer, form, records
):
    extraction = start_extraction(form=form, record=records[0], extractor=reviewer)
    values = {**GOOD, "sample_size": ""}
    with pytest.raises(ExtractionInvalid) as info:
        submit_extraction(extraction=extraction, actor=reviewer, values=values)
    assert str(info.value) == "Sample size: This field is required."
    extraction.refresh_from_db()
    assert (extraction.status, extraction.values, extraction.submitted_at) == ("draft", {}, None)


def test_only_the_extractor_saves_and_a_submitted_extraction_is_locked(
    review, reviewer, reviewer2, form, records
):
    extraction = start_extraction(form=form, record=records[0], extractor=reviewer)
    with pytest.raises(ReviewflowError, match="This is not your extraction."):
        save_draft(extraction=extraction, actor=reviewer2, values={})
    submit_extraction(extraction=extraction, actor=reviewer, values=GOOD)
    assert extraction.status == "submitted"
    with pytest.raises(ReviewflowError, match="submitted: reopen it to change it"):
        save_draft(extraction=extraction, actor=reviewer, values=GOOD)
    reopen_extraction(extraction=extraction, actor=reviewer)
    extraction.refresh_from_db()
    assert (extraction.status, extraction.submitted_at) == ("draft", None)


def test_audit_of_extractions_names_fields_not_values(review, reviewer, form, records):
    extraction = start_extraction(form=form, record=records[0], extractor=reviewer)
    save_draft(extraction=extraction, actor=reviewer, values={"country": "Atlantis"})
    event = AuditEvent.objects.get(action="extraction.saved")
    assert (event.object_type, event.object_id) == ("extraction", extraction.pk)
    assert event.after == {"fields": ["country"]}
    assert "Atlantis" not in str(list(AuditEvent.objects.values("before", "after", "target")))


# ------------------------------------------------------------------------------ consensus


def test_consensus_opens_when_both_submit_prefilled_with_agreed_values(
    review, owner, reviewer, reviewer2, form, records
):
    a = dict(GOOD)
    b = {
        **GOOD,
        "country": "Portugal",
        "arms": [{"arm": "MSC", "n": 21, "mean": "7.1"}, {"arm": "Placebo", "n": 20, "mean": "8"}],
    }
    ea = start_extraction(form=form, record=records[0], extractor=reviewer)
    submit_extraction(extraction=ea, actor=reviewer, values=a)
    with pytest.raises(ReviewflowError) as info:
        consensus_for(form=form, record=records[0])
    assert str(info.value) == (
        "The consensus opens when every extractor of this study has submitted (1 of 2 so far)."
    )
    eb = start_extraction(form=form, record=records[0], extractor=reviewer2)
    submit_extraction(extraction=eb, actor=reviewer2, values=b)
    consensus = Consensus.objects.get(form=form, record=records[0])
    assert consensus.status == "draft"
    assert "country" not in consensus.values  # they disagree: the adjudicator decides
    assert consensus.values["sample_size"] == 40
    # Row 1 disagrees on n only; row 2 agrees ("8.0" and "8" are the same decimal).
    assert consensus.values["arms"] == [
        {"arm": "MSC", "mean": "7.1"},
        {"arm": "Placebo", "n": 20, "mean": "8"},
    ]
    comparison = {c.field.key: c for c in comparison_for(form=form, record=records[0], user=owner)}
    assert comparison["country"].agree is False
    assert (comparison["country"].a, comparison["country"].b) == ("Spain", "Portugal")
    assert comparison["sample_size"].agree is True
    assert [r.agree for r in comparison["arms"].rows] == [False, True]
    assert comparison["arms"].rows[0].cells == {"arm": True, "n": False, "mean": True}


def test_adjudicator_settles_and_finalises_with_every_change_audited(
    review, owner, reviewer, reviewer2, form, records
):
    both_submit(form, records[0], reviewer, reviewer2, GOOD, {**GOOD, "sample_size": "41"})
    consensus = consensus_for(form=form, record=records[0])
    with pytest.raises(ExtractionInvalid) as info:
        save_consensus(
            form=form, record=records[0], actor=owner, values=consensus.values, final=True
        )
    assert str(info.value) == "Sample size: This field is required."
    save_consensus(form=form, record=records[0], actor=owner, values=consensus.values, final=False)
    settled = save_consensus(
        form=form,
        record=records[0],
        actor=owner,
        values={**consensus.values, "sample_size": 41},
        final=True,
    )
    assert (settled.status, settled.values["sample_size"], settled.updated_by) == (
        "final",
        41,
        owner,
    )
    event = AuditEvent.objects.filter(action="consensus.finalised").get()
    assert event.object_type == "consensus"
    assert "sample_size" not in event.before["values"]
    assert event.after["values"]["sample_size"] == 41
    with pytest.raises(ReviewflowError, match="Only owners of this review can settle"):
        save_consensus(
            form=form, record=records[0], actor=reviewer, values=settled.values, final=True
        )


def test_a_final_consensus_blocks_reopening_until_an_owner_reopens_it(
    review, owner, reviewer, reviewer2, form, records
):
    ea, _ = both_submit(form, records[0], reviewer, reviewer2, GOOD, GOOD)
    consensus = consensus_for(form=form, record=records[0])
    assert consensus.values == Extraction.objects.get(pk=ea.pk).values  # all agreed
    save_consensus(form=form, record=records[0], actor=owner, values=consensus.values, final=True)
    with pytest.raises(ReviewflowError, match="The consensus of this study is final"):
        reopen_extraction(extraction=ea, actor=reviewer)
    save_consensus(form=form, record=records[0], actor=owner, values=consensus.values, final=False)
    reopen_extraction(extraction=ea, actor=reviewer)
    assert AuditEvent.objects.filter(action="consensus.reopened").count() == 1


def test_an_untouched_consensus_follows_a_resubmitted_extraction(
    review, owner, reviewer, reviewer2, form, records
):
    ea, _ = both_submit(form, records[0], reviewer, reviewer2, GOOD, GOOD)
    reopen_extraction(extraction=ea, actor=reviewer)
    submit_extraction(extraction=ea, actor=reviewer, values={**GOOD, "country": "Peru"})
    consensus = Consensus.objects.get(form=form, record=records[0])
    assert "country" not in consensus.values


def test_with_one_extractor_the_submission_is_the_final_consensus(review, owner, reviewer, records):
    form = published_form(review, owner, extractors=1)
    extraction = start_extraction(form=form, record=records[0], extractor=reviewer)
    submit_extraction(extraction=extraction, actor=reviewer, values=GOOD)
    consensus = Consensus.objects.get(form=form, record=records[0])
    assert consensus.status == "final"
    assert consensus.values == Extraction.objects.get(pk=extraction.pk).values


# ------------------------------------------------------------------------------ carrying


def test_carrying_keeps_what_the_new_version_accepts(review, owner, reviewer, form, records):
    extraction = start_extraction(form=form, record=records[0], extractor=reviewer)
    submit_extraction(extraction=extraction, actor=reviewer, values=GOOD)
    v2 = new_form_version(form=form, actor=owner)
    # Version 2 drops "country" and allows only cohorts.
    fields = tuple(f for f in FIELDS if f.key != "country")
    fields = tuple(
        f if f.key != "design" else type(f)(**{**f.__dict__, "choices": ("Cohort",)})
        for f in fields
    )
    update_form(form=v2, actor=owner, spec=spec(fields=fields))
    with pytest.raises(ReviewflowError, match="This form is not published yet."):
        carry_extraction(extraction=extraction, to_form=v2, actor=reviewer)
    publish_form(form=v2, actor=owner)
    carried, dropped = carry_preview(extraction=extraction, to_form=v2)
    assert "country" not in carried and "design" not in carried
    assert "Country: the field is no longer in the form" in dropped
    new = carry_extraction(extraction=extraction, to_form=v2, actor=reviewer)
    assert (new.form, new.status, new.carried_from) == (v2, "draft", extraction)
    assert new.values["sample_size"] == 40 and new.values["arms"] == GOOD_ARMS_CLEAN
    assert set(new.values) == set(carried)
    extraction.refresh_from_db()
    assert (extraction.status, extraction.values["country"]) == ("submitted", "Spain")
    with pytest.raises(ReviewflowError, match="replaced by a newer version"):
        reopen_extraction(extraction=extraction, actor=reviewer)
    with pytest.raises(ReviewflowError, match="rachel already has an extraction"):
        carry_extraction(extraction=extraction, to_form=v2, actor=reviewer)
    with pytest.raises(ReviewflowError, match="only be carried to a newer version"):
        carry_extraction(extraction=new, to_form=form, actor=reviewer)


GOOD_ARMS_CLEAN = [
    {"arm": "MSC", "n": 20, "mean": "7.1"},
    {"arm": "Placebo", "n": 20, "mean": "8"},
]


def test_study_statuses_count_without_naming(review, reviewer, reviewer2, form, records):
    ea = start_extraction(form=form, record=records[0], extractor=reviewer)
    start_extraction(form=form, record=records[0], extractor=reviewer2)
    submit_extraction(extraction=ea, actor=reviewer, values=GOOD)
    statuses = study_statuses(form)
    assert statuses[records[0].pk].label == "1 of 2 submitted"
    assert statuses[records[1].pk].label == "0 of 2 submitted"
    assert not statuses[records[0].pk].complete


def test_deleting_a_review_deletes_its_forms_extractions_and_consensus(
    review, owner, reviewer, reviewer2, form, records
):
    both_submit(form, records[0], reviewer, reviewer2, GOOD, GOOD)
    assert Consensus.objects.count() == 1
    review.delete()
    assert not Form.objects.exists()
    assert not Extraction.objects.exists()
    assert not Consensus.objects.exists()


def test_a_form_version_with_extractions_cannot_be_deleted_alone(review, reviewer, form, records):
    start_extraction(form=form, record=records[0], extractor=reviewer)
    with pytest.raises(IntegrityError):
        form.delete()
