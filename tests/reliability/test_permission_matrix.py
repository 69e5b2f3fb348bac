"""The permission matrix: every URL and every API operation, as every persona.

One review is built with one of each object (a search with records, a duplicate pair, votes,
an outcome and a conflict, a full-text report, a pilot round, an invitation, a published form
with submitted extractions and a consensus). Every URL pattern of the resolver and every
operation of the OpenAPI schema is then requested as anonymous, outsider, a member of another
review (with this review's ids), viewer, reviewer and owner. The expected outcome of each GET
is one row of ``HTML_GET`` or ``API_GET``; a new URL without a row fails the test. Every
write (POST/PUT/PATCH/DELETE) is also issued as anonymous, outsider and other-review member:
it must be refused and change nothing; and as each member whose role is below the least role
``WRITE_ROLES`` gives it: 403, and nothing changes. Nobody ever gets a 500, and no
non-member's response holds a record title of the review.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from extraction.models import Consensus, Extraction, Form
from extraction.services.consensus import consensus_for
from extraction.services.extractions import start_extraction, submit_extraction
from extraction.services.forms import create_form, publish_form
from reviewflow.reviews import services as review_services
from reviewflow.reviews.models import (
    ROLE_RANK,
    AuditEvent,
    Invitation,
    Membership,
    Notification,
    Review,
    Role,
)
from screening.models import (
    Conflict,
    DuplicatePair,
    FullTextReport,
    Label,
    OaRun,
    Outcome,
    PairDecision,
    PdfBatch,
    PdfFile,
    Record,
    RecordLabel,
    RetractionCheck,
    Search,
    Stage,
    Vote,
)
from screening.services import dedup, identification
from screening.services.connectors import create_saved_search
from screening.services.discussion import add_comment
from screening.services.fulltext import attach_full_text
from screening.services.labels import apply_label, create_label
from screening.services.pdfs import create_pdf_batch
from screening.services.questions import create_question
from screening.services.screening import pilot
from screening.services.screening.votes import cast_vote
from tests.extraction.helpers import GOOD, spec
from tests.screening.factories import ris_records, upload
from tests.screening.test_pdf_matching import make_pdf

pytestmark = pytest.mark.django_db(transaction=True)  # imports and dedup run on commit

PERSONAS = ("anonymous", "outsider", "other_member", "viewer", "reviewer", "owner")
NON_MEMBERS = ("anonymous", "outsider", "other_member")
WRITE_METHODS = ("post", "put", "patch", "delete")

# URL prefixes not in the matrix, each with its reason.
SKIPPED_PREFIXES = {
    "admin/": "Django admin: staff only, guarded by Django's own admin site",
    "accounts/": (
        "Django's auth views (login, logout, password reset) and allauth's OpenID Connect"
        " sign-in (reviews/sso.py): no review data"
    ),
    "api/schema/": "the OpenAPI schema itself: public description, no review data",
    "api/docs/": "Swagger UI for the schema: static page, no review data",
}
# Writes not issued at all by non-members, each with its reason.
WRITES_NOT_ISSUED = {
    "invitation-accept": "the token is the credential: whoever holds it may join",
    "api-invitation-accept": "the token is the credential: whoever holds it may join",
    "invitation-signup": "the token is the credential: whoever holds it may make an account",
}
# Pages that hold no review data and accept writes from the personas named: a write there
# need not be refused, but with an empty body it must still change nothing, leak nothing,
# and never fail.
SIGNED_IN = ("outsider", "other_member")
OPEN_WRITES = {
    "healthz": (NON_MEMBERS, "the health check answers every method"),
    "dashboard": (SIGNED_IN, "each user's own list of reviews"),
    "review-create": (SIGNED_IN, "anyone signed in may start a review (an empty form is re-shown)"),
    "api-reviews": (SIGNED_IN, "anyone signed in may start a review (an empty body is a 400)"),
    # Notifications (#20): each user's own; another's notification is not found (404).
    "notification-open": (SIGNED_IN, "one's own notification only (another's is a 404)"),
    "notifications-read-all": (SIGNED_IN, "marks the caller's own notifications read"),
    "notification-settings": (SIGNED_IN, "the caller's own e-mail settings (empty: refused)"),
    "notification-unsubscribe": (NON_MEMBERS, "the signed token is the credential (bad: 404)"),
    "api-notification-read": (SIGNED_IN, "one's own notification only (another's is a 404)"),
    "api-notifications-read-all": (SIGNED_IN, "marks the caller's own notifications read"),
    "api-notification-preferences": (SIGNED_IN, "the caller's own settings (empty: a 400)"),
}
# Every write a member may make, with the least role allowed to make it. A viewer's write
# to a reviewer's or an owner's, and a reviewer's to an owner's, sent with an empty body,
# must be refused with 403 and change nothing. Keys: a page's URL name (its POST), or
# "METHOD /schema/path" of an API operation. A member's write without a row fails the test;
# pages that take no POST (a viewer's POST is answered 405) need none.
_R = "/api/v1/reviews/{slug}"
WRITE_ROLES: dict[str, Role] = {
    # The API.
    f"PATCH {_R}/": Role.OWNER,
    f"POST {_R}/members/": Role.OWNER,
    f"PATCH {_R}/members/{{member_id}}/": Role.OWNER,
    f"DELETE {_R}/members/{{member_id}}/": Role.OWNER,
    f"POST {_R}/invitations/": Role.OWNER,
    f"DELETE {_R}/invitations/{{invitation_id}}/": Role.OWNER,
    f"POST {_R}/invitations/{{invitation_id}}/resend/": Role.OWNER,
    f"POST {_R}/searches/": Role.OWNER,
    f"DELETE {_R}/searches/{{search_id}}/": Role.OWNER,
    f"POST {_R}/duplicates/{{pair_id}}/resolve/": Role.OWNER,
    f"POST {_R}/records/{{record_id}}/unmerge/": Role.OWNER,
    f"POST {_R}/screening/{{stage}}/votes/": Role.REVIEWER,
    f"POST {_R}/screening/{{stage}}/votes/undo/": Role.REVIEWER,
    # Assigned work (#20).
    f"POST {_R}/screening/{{stage}}/assignments/": Role.OWNER,
    f"POST {_R}/screening/{{stage}}/assignments/reassign/": Role.OWNER,
    f"POST {_R}/screening/{{stage}}/assignments/remove/": Role.OWNER,
    f"PATCH {_R}/screening/{{stage}}/prioritisation/": Role.OWNER,
    f"POST {_R}/screening/{{stage}}/prioritisation/stop/": Role.OWNER,
    f"POST {_R}/screening/{{stage}}/prioritisation/stop/undo/": Role.OWNER,
    f"POST {_R}/screening/{{stage}}/prioritisation/sample/": Role.OWNER,
    f"POST {_R}/conflicts/{{conflict_id}}/resolve/": Role.REVIEWER,
    f"POST {_R}/forms/": Role.OWNER,
    f"PUT {_R}/forms/{{form_id}}/": Role.OWNER,
    f"PATCH {_R}/forms/{{form_id}}/": Role.OWNER,
    f"DELETE {_R}/forms/{{form_id}}/": Role.OWNER,
    f"POST {_R}/forms/{{form_id}}/new-version/": Role.OWNER,
    f"POST {_R}/forms/{{form_id}}/publish/": Role.OWNER,
    f"PUT {_R}/forms/{{form_id}}/summary-of-findings/": Role.OWNER,  # GRADE ratings (#23)
    f"POST {_R}/extractions/": Role.REVIEWER,
    f"PATCH {_R}/extractions/{{extraction_id}}/": Role.REVIEWER,  # one's own
    f"DELETE {_R}/extractions/{{extraction_id}}/": Role.OWNER,
    f"POST {_R}/extractions/{{extraction_id}}/carry/": Role.REVIEWER,
    f"POST {_R}/extractions/{{extraction_id}}/reopen/": Role.REVIEWER,
    f"POST {_R}/extractions/{{extraction_id}}/submit/": Role.REVIEWER,
    f"PUT {_R}/consensus/{{form_id}}/{{record_id}}/": Role.OWNER,
    f"POST {_R}/labels/": Role.OWNER,
    f"PATCH {_R}/labels/{{label_id}}/": Role.OWNER,
    f"DELETE {_R}/labels/{{label_id}}/": Role.OWNER,
    f"POST {_R}/saved-searches/": Role.OWNER,
    f"POST {_R}/saved-searches/{{saved_search_id}}/run/": Role.OWNER,
    f"PATCH {_R}/saved-searches/{{saved_search_id}}/": Role.OWNER,
    f"POST {_R}/rounds/": Role.OWNER,
    f"PATCH {_R}/rounds/{{number}}/prisma-counts/": Role.OWNER,  # entered counts (#21)
    f"POST {_R}/retraction-checks/": Role.OWNER,
    f"POST {_R}/records/{{record_id}}/labels/": Role.REVIEWER,  # one's own
    f"DELETE {_R}/records/{{record_id}}/labels/": Role.REVIEWER,  # one's own
    f"POST {_R}/records/bulk/": Role.REVIEWER,  # one's own labels, on many records
    f"POST {_R}/consensus/{{form_id}}/{{record_id}}/finalise/": Role.OWNER,
    # Screening questions (#18): owners define them; reviewers answer, their own.
    f"POST {_R}/screening/{{stage}}/questions/": Role.OWNER,
    f"PATCH {_R}/screening/{{stage}}/questions/{{question_id}}/": Role.OWNER,
    f"DELETE {_R}/screening/{{stage}}/questions/{{question_id}}/": Role.OWNER,
    f"PUT {_R}/records/{{record_id}}/answers/": Role.REVIEWER,  # one's own
    # Discussion and my votes (#18): one's own comments (owners delete any), one's own vote.
    f"POST {_R}/records/{{record_id}}/comments/": Role.REVIEWER,
    f"PATCH {_R}/records/{{record_id}}/comments/{{comment_id}}/": Role.REVIEWER,
    f"DELETE {_R}/records/{{record_id}}/comments/{{comment_id}}/": Role.REVIEWER,
    f"PATCH {_R}/screening/{{stage}}/votes/{{vote_id}}/": Role.REVIEWER,
    # PDF batches (#22): reviewers and owners upload and decide the matches.
    f"POST {_R}/pdf-batches/": Role.REVIEWER,
    f"POST {_R}/pdf-files/{{file_id}}/resolve/": Role.REVIEWER,
    "fulltext-batches": Role.REVIEWER,
    "fulltext-resolve": Role.REVIEWER,
    # Open-access look-ups (#22): reviewers and owners start one, as they upload PDFs.
    f"POST {_R}/oa-runs/": Role.REVIEWER,
    "oa-runs": Role.REVIEWER,
    # Pages (their POST).
    "review-settings": Role.OWNER,
    "review-members": Role.OWNER,
    "member-role": Role.OWNER,
    "member-remove": Role.OWNER,
    "invitation-revoke": Role.OWNER,
    "invitation-resend": Role.OWNER,
    "review-searches": Role.OWNER,
    "search-delete": Role.OWNER,
    "duplicate-decide": Role.OWNER,
    "record-unmerge": Role.OWNER,
    "screen-vote": Role.REVIEWER,
    "screen-undo": Role.REVIEWER,
    "workload-split": Role.OWNER,  # assigned work (#20)
    "workload-reassign": Role.OWNER,
    "stage-settings": Role.OWNER,
    "pilot": Role.OWNER,
    "prioritisation": Role.OWNER,
    "prioritisation-retrain": Role.OWNER,
    "prioritisation-stop": Role.OWNER,
    "prioritisation-stop-undo": Role.OWNER,
    "prioritisation-sample": Role.OWNER,
    "conflict-resolve": Role.REVIEWER,
    "fulltext-attach": Role.REVIEWER,
    "fulltext-study": Role.REVIEWER,
    "prisma": Role.OWNER,
    "prisma-csv": Role.OWNER,
    "extraction-form-new": Role.OWNER,
    "extraction-form": Role.OWNER,
    "extraction-form-preview": Role.OWNER,  # the builder's preview of its unsaved state
    "extraction-form-action": Role.OWNER,
    "extraction-rob2": Role.REVIEWER,
    "extraction-effects": Role.REVIEWER,  # live effect sizes of the values posted (#23)
    "extraction-grade": Role.OWNER,  # GRADE ratings of the summary-of-findings table (#23)
    "extraction-page": Role.REVIEWER,
    "extraction-action": Role.REVIEWER,
    "extraction-compare": Role.OWNER,
    "review-labels": Role.OWNER,
    "saved-searches": Role.OWNER,
    "saved-search-run": Role.OWNER,
    "saved-search-schedule": Role.OWNER,
    "round-start": Role.OWNER,
    "retractions-check": Role.OWNER,
    "record-labels": Role.REVIEWER,
    "stage-questions": Role.OWNER,
    "record-comments": Role.REVIEWER,
    "comment-edit": Role.REVIEWER,
    "comment-delete": Role.REVIEWER,
    "screen-change": Role.REVIEWER,
    "records-bulk": Role.REVIEWER,  # one's own labels, on many records
    # Not a write: the download of the records ticked on the list (a POST, to carry their
    # ids with the CSRF token); every member exports what they can see.
    "records-export": Role.VIEWER,
}
# A kwarg whose value depends on the URL: (URL name, kwarg) -> value.
KWARG_OVERRIDES = {
    ("export-records", "stage"): "included",
    # A risk-of-bias plot: its kind and format (the matrix's form has no judgements, #23).
    ("extraction-rob-plot", "kind"): "traffic-light",
    ("extraction-rob-plot", "fmt"): "svg",
    # A forest or funnel plot of the synthesis page (#23): its kind and format.
    ("extraction-synthesis-plot", "kind"): "forest",
    ("extraction-synthesis-plot", "fmt"): "svg",
    ("extraction-grade-export", "fmt"): "html",
    ("extraction-synthesis-csv", "which"): "results",
}

# A status code, or "login" for a redirect to the sign-in page.
Cell = int | str

# GET of each HTML pattern, by URL name: one cell per persona, in PERSONAS' order.
HTML_GET: dict[str, tuple[Cell, ...]] = {
    # name: (anonymous, outsider, other_member, viewer, reviewer, owner)
    "healthz": (200, 200, 200, 200, 200, 200),
    "dashboard": ("login", 200, 200, 200, 200, 200),
    "review-create": ("login", 200, 200, 200, 200, 200),
    "invitation-accept": ("login", 200, 200, 200, 200, 200),  # the token is the credential
    # Making an account from the link (#20): the signed-in are sent to accept it instead.
    "invitation-signup": (200, 302, 302, 302, 302, 302),
    "review-detail": ("login", 404, 404, 200, 200, 200),
    "review-settings": ("login", 404, 404, 403, 403, 200),
    "review-members": ("login", 404, 404, 200, 200, 200),
    "review-audit": ("login", 404, 404, 403, 403, 200),
    "review-searches": ("login", 404, 404, 200, 200, 200),
    "search-detail": ("login", 404, 404, 200, 200, 200),
    "review-records": ("login", 404, 404, 200, 200, 200),
    # The records list's bulk labels (POST only) and the export of what it lists (#18).
    "records-bulk": ("login", 405, 405, 405, 405, 405),
    "records-export": ("login", 404, 404, 200, 200, 200),
    # Members read the labels and their counts; owners define them.
    "review-labels": ("login", 404, 404, 200, 200, 200),
    # Members see the saved database searches and their runs; owners save and run them.
    "saved-searches": ("login", 404, 404, 200, 200, 200),
    "saved-search-run": ("login", 405, 405, 405, 405, 405),
    "saved-search-schedule": ("login", 405, 405, 405, 405, 405),
    "round-start": ("login", 405, 405, 405, 405, 405),
    # Retraction watch (#21): members read the flags and checks; owners ask for a check.
    "retractions": ("login", 404, 404, 200, 200, 200),
    "retractions-panel": ("login", 404, 404, 200, 200, 200),
    "retractions-check": ("login", 405, 405, 405, 405, 405),
    "round-changelog": ("login", 404, 404, 200, 200, 200),
    "record-detail": ("login", 404, 404, 200, 200, 200),
    # Members read the pairs (as in the API); owners decide them.
    "review-duplicates": ("login", 404, 404, 200, 200, 200),
    "screen": ("login", 404, 404, 403, 200, 200),
    "stage-settings": ("login", 404, 404, 403, 403, 200),
    # A stage's screening questions, defined by owners from its settings (#18).
    "stage-questions": ("login", 404, 404, 403, 403, 200),
    "pilot": ("login", 404, 404, 403, 403, 200),
    "prioritisation": ("login", 404, 404, 403, 403, 200),
    # Every member reads the adjudication desk; adjudicators decide (#18).
    "conflicts": ("login", 404, 404, 200, 200, 200),
    "agreement": ("login", 404, 404, 403, 403, 200),
    "fulltext-pdf": ("login", 404, 404, 200, 200, 200),
    # PDF batches (#22): members read the batches and the queue; reviewers upload.
    "fulltext-batches": ("login", 404, 404, 200, 200, 200),
    "fulltext-batch": ("login", 404, 404, 200, 200, 200),
    "oa-runs": ("login", 404, 404, 200, 200, 200),
    "oa-run": ("login", 404, 404, 200, 200, 200),
    "fulltext-resolve": ("login", 405, 405, 405, 405, 405),
    "prisma": ("login", 404, 404, 200, 200, 200),
    "exports": ("login", 404, 404, 200, 200, 200),
    "export-records": ("login", 404, 404, 200, 200, 200),
    "export-votes": ("login", 404, 404, 403, 403, 200),
    "export-audit": ("login", 404, 404, 403, 403, 200),
    "extraction-home": ("login", 404, 404, 200, 200, 200),
    # Members read a form (as in the API) on its preview; the builder sends them there.
    "extraction-form": ("login", 404, 404, 302, 302, 200),
    "extraction-form-preview": ("login", 404, 404, 200, 200, 200),
    "extraction-export": ("login", 404, 404, 200, 200, 200),
    "extraction-page": ("login", 404, 404, 403, 200, 200),
    "extraction-compare": ("login", 404, 404, 403, 403, 200),
    # Risk-of-bias plots of a form's final consensus (#23): every member reads them, as the
    # consensus export; the matrix's form judges no risk of bias, so it has no plot (404).
    "extraction-rob-plots": ("login", 404, 404, 200, 200, 200),
    "extraction-rob-plot": ("login", 404, 404, 404, 404, 404),
    # Meta-analysis of a form's final consensus (#23): every member reads it; the matrix's
    # form has no table of effect inputs, so there is nothing to plot or export (404).
    "extraction-synthesis": ("login", 404, 404, 200, 200, 200),
    "extraction-synthesis-plot": ("login", 404, 404, 404, 404, 404),
    "extraction-synthesis-csv": ("login", 404, 404, 404, 404, 404),
    # Every outcome in one long CSV (#23): its header alone when no table holds effect inputs.
    "extraction-synthesis-long-csv": ("login", 404, 404, 200, 200, 200),
    # The RevMan 5 file (#23): a review file without outcomes when no table holds them.
    "extraction-synthesis-rm5": ("login", 404, 404, 200, 200, 200),
    "extraction-effects": ("login", 405, 405, 405, 405, 405),  # POST only
    # The summary-of-findings table (an empty one: no outcome) and its download.
    "extraction-grade": ("login", 404, 404, 200, 200, 200),
    "extraction-grade-export": ("login", 404, 404, 200, 200, 200),
    # POST-only views: a GET is refused (405) once signed in.
    "member-role": ("login", 405, 405, 405, 405, 405),
    "member-remove": ("login", 405, 405, 405, 405, 405),
    "invitation-revoke": ("login", 405, 405, 405, 405, 405),
    "invitation-resend": ("login", 405, 405, 405, 405, 405),
    "search-delete": ("login", 405, 405, 405, 405, 405),
    "duplicate-decide": ("login", 405, 405, 405, 405, 405),
    "record-unmerge": ("login", 405, 405, 405, 405, 405),
    "screen-vote": ("login", 405, 405, 405, 405, 405),
    "screen-undo": ("login", 405, 405, 405, 405, 405),
    "prioritisation-retrain": ("login", 405, 405, 405, 405, 405),
    "prioritisation-stop": ("login", 405, 405, 405, 405, 405),
    "prioritisation-stop-undo": ("login", 405, 405, 405, 405, 405),
    "prioritisation-sample": ("login", 405, 405, 405, 405, 405),
    "conflict-resolve": ("login", 405, 405, 405, 405, 405),
    "fulltext-attach": ("login", 405, 405, 405, 405, 405),
    "fulltext-study": ("login", 405, 405, 405, 405, 405),
    "record-labels": ("login", 405, 405, 405, 405, 405),
    # Discussion and my votes (#18).
    "record-comments": ("login", 404, 404, 200, 200, 200),
    "comment-edit": ("login", 405, 405, 405, 405, 405),
    "comment-delete": ("login", 405, 405, 405, 405, 405),
    "screen-history": ("login", 404, 404, 403, 200, 200),
    # Notifications (#20): each signed-in user's own; the built one is the owner's (a
    # mention), so opening it is the owner's POST only; the unsubscribe link's token here is
    # not a signed one (the invitation's): not found, for everyone.
    "notifications": ("login", 200, 200, 200, 200, 200),
    "notification-settings": ("login", 200, 200, 200, 200, 200),
    "notification-open": ("login", 405, 405, 405, 405, 405),
    "notifications-read-all": ("login", 405, 405, 405, 405, 405),
    "notification-unsubscribe": (404, 404, 404, 404, 404, 404),
    # Assigned work (#20): reviewers see their own row; owners split and move work.
    "workload": ("login", 404, 404, 403, 200, 200),
    "workload-split": ("login", 405, 405, 405, 405, 405),
    "workload-reassign": ("login", 405, 405, 405, 405, 405),
    "screen-goto": ("login", 404, 404, 403, 200, 200),
    "screen-record": ("login", 404, 404, 403, 200, 200),
    "screen-change": ("login", 405, 405, 405, 405, 405),
    "prisma-csv": ("login", 405, 405, 405, 405, 405),
    "extraction-form-new": ("login", 405, 405, 405, 405, 405),
    "extraction-form-action": ("login", 405, 405, 405, 405, 405),
    "extraction-rob2": ("login", 405, 405, 405, 405, 405),
    "extraction-action": ("login", 405, 405, 405, 405, 405),
}

# GET of each API operation, by schema path: one cell per persona, in PERSONAS' order.
API_GET: dict[str, tuple[Cell, ...]] = {
    # path: (anonymous, outsider, other_member, viewer, reviewer, owner)
    # Anonymous callers get a non-member's 404 for a review's URLs (SECURITY.md).
    "/api/v1/": (403, 200, 200, 200, 200, 200),  # the API root: links, no review data
    "/api/v1/reviews/": (403, 200, 200, 200, 200, 200),  # each user's own reviews
    "/api/v1/reviews/{slug}/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/audit/": (404, 404, 404, 403, 403, 200),
    "/api/v1/reviews/{slug}/conflicts/": (404, 404, 404, 200, 200, 200),
    # Notifications (#20): each signed-in user's own list, count and settings.
    "/api/v1/notifications/": (403, 200, 200, 200, 200, 200),
    "/api/v1/notifications/unread-count/": (403, 200, 200, 200, 200, 200),
    "/api/v1/notifications/preferences/": (403, 200, 200, 200, 200, 200),
    # Discussion (#18): the built comment is on a settled record, so every member reads it.
    "/api/v1/reviews/{slug}/records/{record_id}/comments/": (404, 404, 404, 200, 200, 200),
    f"{_R}/records/{{record_id}}/comments/{{comment_id}}/": (404, 404, 404, 200, 200, 200),
    # My votes (#18): the built vote is the reviewer's; the owner's own votes are others.
    "/api/v1/reviews/{slug}/screening/{stage}/history/": (404, 404, 404, 403, 200, 200),
    # Assigned work (#20): reviewers read their own assignments and workload row.
    "/api/v1/reviews/{slug}/screening/{stage}/assignments/": (404, 404, 404, 403, 200, 200),
    "/api/v1/reviews/{slug}/screening/{stage}/workload/": (404, 404, 404, 403, 200, 200),
    "/api/v1/reviews/{slug}/screening/{stage}/votes/{vote_id}/": (404, 404, 404, 403, 200, 404),
    "/api/v1/reviews/{slug}/conflicts/{conflict_id}/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/consensus/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/consensus/{form_id}/{record_id}/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/duplicates/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/extractions/": (404, 404, 404, 403, 200, 200),
    "/api/v1/reviews/{slug}/extractions/{extraction_id}/": (404, 404, 404, 403, 200, 200),
    "/api/v1/reviews/{slug}/forms/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/forms/{form_id}/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/forms/{form_id}/synthesis/": (404, 404, 404, 200, 200, 200),
    f"{_R}/forms/{{form_id}}/summary-of-findings/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/invitations/": (404, 404, 404, 403, 403, 200),
    "/api/v1/reviews/{slug}/labels/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/labels/{label_id}/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/saved-searches/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/saved-searches/{saved_search_id}/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/members/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/prisma.svg": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/prisma/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/rounds/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/rounds/{number}/changelog/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/rounds/{number}/prisma-counts/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/retraction-checks/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/retraction-checks/{check_id}/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/editorial-notices/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/records/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/records/export/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/records/{record_id}/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/records/{record_id}/labels/": (404, 404, 404, 200, 200, 200),
    # Every member reads a stage's questions and the answers they may see (#18).
    "/api/v1/reviews/{slug}/records/{record_id}/answers/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/screening/{stage}/questions/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/screening/{stage}/questions/{question_id}/": (
        404,
        404,
        404,
        200,
        200,
        200,
    ),
    "/api/v1/reviews/{slug}/screening/{stage}/next/": (404, 404, 404, 403, 200, 200),
    "/api/v1/reviews/{slug}/screening/{stage}/prioritisation/": (404, 404, 404, 403, 403, 200),
    "/api/v1/reviews/{slug}/screening/{stage}/votes/": (404, 404, 404, 403, 200, 200),
    "/api/v1/reviews/{slug}/searches/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/searches/{search_id}/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/pdf-batches/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/pdf-batches/{batch_id}/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/oa-runs/": (404, 404, 404, 200, 200, 200),
    "/api/v1/reviews/{slug}/oa-runs/{run_id}/": (404, 404, 404, 200, 200, 200),
}


def _ris(title: str, doi: str, volume: str = "8", first_page: int = 100) -> str:
    return "\n".join(
        [
            "TY  - JOUR",
            f"TI  - {title}",
            "AU  - Smith, John",
            "AU  - Doe, Ann",
            "PY  - 2019",
            "JO  - Stem Cells Transl Med",
            f"VL  - {volume}",
            f"SP  - {first_page}",
            f"EP  - {first_page + 10}",
            *([f"DO  - {doi}"] if doi else []),
            "ER  - ",
            "",
        ]
    )


def _import(review: Review, owner: Any, text: str, name: str, source: str) -> Search:
    search = identification.create_search(
        review=review, actor=owner, file=upload(text, name), filename=name, source=source
    )
    search.refresh_from_db()
    assert search.status == "done", search.failure
    return search


def _build(review: Review, owner: Any, reviewer: Any, reviewer2: Any) -> dict[str, Any]:
    """One of each object of the review, and the URL kwargs that point at them."""
    title = "Mesenchymal stem cells for knee osteoarthritis: a randomised trial"
    _import(review, owner, ris_records(6, prefix="Matrix stromal cell study"), "a.ris", "PubMed")
    # The same trial without a DOI and another volume: a pair for a human to decide.
    _import(review, owner, _ris(title, "10.1002/sctm.19-0001"), "b.ris", "Embase")
    _import(review, owner, _ris(title, "", volume="9"), "c.ris", "Scopus")
    dedup.run_dedup(review_id=review.pk)
    pair = DuplicatePair.objects.filter(review=review).first()
    assert pair is not None, "the fixture needs a duplicate pair"
    assert pair.decision == PairDecision.PENDING

    records = list(
        Record.objects.filter(review=review, search__filename="a.ris").order_by("position")
    )
    key, disputed, excluded = records[0], records[1], records[2]
    round_ = pilot.start_pilot(review=review, stage=Stage.TITLE_ABSTRACT, actor=owner, size=2)
    for rec in round_.records.all():
        for user in (reviewer, reviewer2):
            pilot.cast_pilot_vote(pilot=round_, record=rec, reviewer=user, decision="include")
    pilot.close_pilot(pilot=round_, actor=owner)

    def vote(record: Record, user: Any, decision: str, stage: str) -> None:
        cast_vote(review=review, record=record, reviewer=user, stage=stage, decision=decision)

    for user in (reviewer, reviewer2):
        vote(key, user, "include", Stage.TITLE_ABSTRACT)
        vote(excluded, user, "exclude", Stage.TITLE_ABSTRACT)
    vote(disputed, reviewer, "include", Stage.TITLE_ABSTRACT)
    vote(disputed, reviewer2, "exclude", Stage.TITLE_ABSTRACT)
    conflict = Conflict.objects.get(record=disputed)
    attach_full_text(
        review=review,
        record=key,
        actor=owner,
        file=io.BytesIO(b"%PDF-1.4\n% a tiny full text\n%%EOF\n"),
        filename="smith2019.pdf",
    )
    for user in (reviewer, reviewer2):
        vote(key, user, "include", Stage.FULL_TEXT)

    draft = create_form(review=review, actor=owner, spec=spec())
    form = publish_form(form=draft, actor=owner)
    extraction = None
    for user in (reviewer, reviewer2):
        extraction = start_extraction(form=form, record=key, extractor=user)
        submit_extraction(extraction=extraction, actor=user, values=GOOD)
    assert extraction is not None
    consensus_for(form=form, record=key)
    label = create_label(review=review, actor=owner, name="Check references", key="r")
    saved_search = create_saved_search(
        review=review, actor=owner, source="pubmed", query="stem cells AND osteoarthritis"
    )
    apply_label(review=review, record=key, label=label, user=reviewer)
    question = create_question(
        review=review, actor=owner, stage=Stage.TITLE_ABSTRACT, text="Adults with knee OA?"
    )

    invitation = review_services.create_invitation(
        review=review, actor=owner, role=Role.REVIEWER, email="nadia@example.org"
    )
    # A PDF batch whose one PDF matched no record: it waits for a person (#22).
    batch = create_pdf_batch(
        review=review,
        actor=owner,
        files=[("unrelated.pdf", io.BytesIO(make_pdf(["An unrelated report", "A. Nobody"])))],
    )
    pdf_file = PdfFile.objects.get(batch=batch)
    assert pdf_file.status == "unmatched", pdf_file.message
    # A finished open-access look-up (#22); none is started here (it would go online).
    oa_run = OaRun.objects.create(review=review, created_by=owner, status="done")
    viewer_membership = Membership.objects.get(review=review, role=Role.VIEWER)
    comment = add_comment(
        record=key, stage=Stage.TITLE_ABSTRACT, author=reviewer, body="cc @olivia"
    )
    return {
        "slug": review.slug,
        "member_id": viewer_membership.pk,
        "invitation_id": invitation.pk,
        "token": invitation.token,
        "search_id": key.search_id,
        "record_id": key.pk,
        "pair_id": pair.pk,
        "stage": Stage.TITLE_ABSTRACT.value,
        "conflict_id": conflict.pk,
        "form_id": form.pk,
        "extraction_id": extraction.pk,
        "which": "consensus",
        "fmt": "csv",
        "label_id": label.pk,
        "saved_search_id": saved_search.pk,
        "number": 1,  # round 1: every review has it
        "question_id": question.pk,
        "comment_id": comment.pk,
        "vote_id": Vote.objects.get(record=key, reviewer=reviewer, stage=Stage.TITLE_ABSTRACT).pk,
        "batch_id": batch.pk,
        "run_id": oa_run.pk,
        "file_id": pdf_file.pk,
        "check_id": RetractionCheck.objects.create(review=review, status="done").pk,
        # The owner's notification of the comment's mention (#20).
        "notification_id": Notification.objects.get(user=owner).pk,
    }


def _patterns(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    """(route, pattern) of every URL pattern, depth first."""
    out: list[tuple[str, URLPattern]] = []
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            out += _patterns(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            out.append((prefix + str(p.pattern), p))
    return out


PARAM = re.compile(r"<(?:[^:>]+:)?([^>]+)>|\{([^}]+)\}")


def _to_schema(route: str) -> str:
    """``r/<slug:slug>/`` -> ``/r/{slug}/``, the schema's spelling."""
    return "/" + PARAM.sub(lambda m: "{" + (m.group(1) or m.group(2)) + "}", route)


def _fill(route: str, kwargs: dict[str, Any], name: str, failures: list[str]) -> str | None:
    """``route`` with each ``<conv:kwarg>`` or ``{kwarg}`` replaced by the built object's id."""
    missing: list[str] = []

    def value(match: re.Match[str]) -> str:
        kwarg = match.group(1) or match.group(2)
        if (name, kwarg) in KWARG_OVERRIDES:
            return str(KWARG_OVERRIDES[(name, kwarg)])
        if kwarg not in kwargs:
            missing.append(kwarg)
            return ""
        return str(kwargs[kwarg])

    url = "/" + PARAM.sub(value, route).lstrip("/")
    if missing:
        failures.append(
            f"{route} ({name}): no value for URL kwarg(s) {missing}: "
            "build the object in _build() and add the kwarg to the map it returns"
        )
        return None
    return url


def _classify(response: Any) -> Cell:
    if response.status_code == 302 and "/accounts/login/" in response.get("Location", ""):
        return "login"
    return int(response.status_code)


def _body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def _counts() -> dict[str, int]:
    models: list[type[Model]] = [
        Review,
        Membership,
        Invitation,
        AuditEvent,
        Search,
        Record,
        Vote,
        Outcome,
        FullTextReport,
        Form,
        Extraction,
        Consensus,
        Label,
        RecordLabel,
        PdfBatch,
        PdfFile,
        OaRun,
    ]
    counts = {m.__name__: m._default_manager.count() for m in models}
    counts["pending pairs"] = DuplicatePair.objects.filter(decision=PairDecision.PENDING).count()
    counts["open conflicts"] = Conflict.objects.filter(resolved_at=None).count()
    counts["draft extractions"] = Extraction.objects.filter(submitted_at=None).count()
    return counts


def test_every_url_and_api_operation_answers_each_persona_as_the_table_says(
    review, owner, reviewer, reviewer2, viewer, outsider, make_user
):
    kwargs = _build(review, owner, reviewer, reviewer2)
    other_owner = make_user("mallory")
    review_services.create_review(
        title="Another review", slug="other-review", owner=other_owner, question="?"
    )
    users = {
        "anonymous": None,
        "outsider": outsider,
        "other_member": other_owner,
        "viewer": viewer,
        "reviewer": reviewer,
        "owner": owner,
    }
    titles = [
        t.encode() for t in Record.objects.filter(review=review).values_list("title", flat=True)
    ]
    assert titles

    def html(persona: str) -> Client:
        client = Client()
        if users[persona] is not None:
            client.force_login(users[persona])
        return client

    def api(persona: str) -> APIClient:
        client = APIClient()
        if users[persona] is not None:
            client.force_authenticate(users[persona])
        return client

    failures: list[str] = []
    observed: set[str] = set()

    def check(where: str, persona: str, response: Any) -> Cell:
        cell = _classify(response)
        if response.status_code >= 500:
            failures.append(f"{where} as {persona}: {response.status_code}")
        if persona in NON_MEMBERS:
            body = _body(response)
            leaked = [t.decode() for t in titles if t in body]
            if leaked:
                failures.append(f"{where} as {persona}: the body holds record titles {leaked}")
        return cell

    # The API: every operation of the schema, its GETs against API_GET.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations: list[tuple[str, str, str, str]] = []  # (method, path, url, URL name)
    for path, methods in sorted(schema["paths"].items()):
        url = _fill(path, kwargs, path, failures)
        if url is None:
            continue
        name = resolve(url).url_name or path
        for method in methods:
            operations.append((method, path, url, name))
            if method != "get":
                continue
            row = tuple(check(f"GET {url}", p, api(p).get(url, format="json")) for p in PERSONAS)
            observed.add(path)
            if path not in API_GET:
                failures.append(f"GET {path}: no row in API_GET; add one: {path!r}: {row},")
            elif API_GET[path] != row:
                failures.append(f"GET {url}: expected {API_GET[path]}, got {row}")

    # HTML: every URL pattern of the resolver, against HTML_GET.
    pages: list[tuple[str, str]] = []  # (URL name, url)
    for route, pattern in _patterns(get_resolver()):
        if any(route.startswith(prefix) for prefix in SKIPPED_PREFIXES):
            continue
        if route.startswith("api/v1/"):  # checked above, operation by operation
            if _to_schema(route) not in schema["paths"]:
                failures.append(f"{route}: an API URL missing from the OpenAPI schema")
            continue
        name = pattern.name or route
        url = _fill(route, kwargs, name, failures)
        if url is None:
            continue
        pages.append((name, url))
        row = tuple(check(f"GET {url} ({name})", p, html(p).get(url)) for p in PERSONAS)
        observed.add(name)
        if name not in HTML_GET:
            failures.append(f"GET {route}: no row in HTML_GET; add one: {name!r}: {row},")
        elif HTML_GET[name] != row:
            failures.append(f"GET {url} ({name}): expected {HTML_GET[name]}, got {row}")

    # Writes by non-members, with an empty body: refused, and nothing changes.
    refused: set[Cell] = {401, 403, 404, 405, "login"}
    before = _counts()
    # (WRITE_ROLES key, method, url, URL name, send as persona)
    writes = [
        (
            f"{method.upper()} {path}",
            method,
            url,
            name,
            lambda p, m=method, u=url: getattr(api(p), m)(u, {}, format="json"),
        )
        for method, path, url, name in operations
        if method in WRITE_METHODS
    ] + [("", "post", url, name, lambda p, u=url: html(p).post(u, {})) for name, url in pages]
    for _, method, url, name, send in writes:
        if name in WRITES_NOT_ISSUED:
            continue
        for persona in NON_MEMBERS:
            cell = check(f"{method.upper()} {url} ({name})", persona, send(persona))
            if cell not in refused and persona not in OPEN_WRITES.get(name, ((), ""))[0]:
                failures.append(
                    f"{method.upper()} {url} ({name}) as {persona}: {cell}, not refused"
                )
    after = _counts()
    if after != before:
        changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        failures.append(f"non-members' writes changed data (before, after): {changed}")

    # Writes by members below the least role WRITE_ROLES gives: 403, and nothing changes.
    before = after
    seen_writes: set[str] = set()
    for key, method, url, name, send in writes:
        if name in WRITES_NOT_ISSUED or name in OPEN_WRITES:
            continue
        key = key or name  # a page: its URL name
        where = f"{method.upper()} {url} ({name})"
        least = WRITE_ROLES.get(key)
        if least is None:
            cell = check(where, "viewer", send("viewer"))
            if cell != 405:
                failures.append(f"{where}: no row in WRITE_ROLES (a viewer got {cell}); add one")
            continue
        seen_writes.add(key)
        for persona in ("viewer", "reviewer"):
            if ROLE_RANK[Role(persona)] >= ROLE_RANK[least]:
                continue
            cell = check(where, persona, send(persona))
            if cell != 403:
                failures.append(f"{where} as {persona}: {cell}, not refused with 403")
    after = _counts()
    if after != before:
        changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        failures.append(f"members' refused writes changed data (before, after): {changed}")
    stale_writes = sorted(set(WRITE_ROLES) - seen_writes)
    if stale_writes:
        failures.append(f"WRITE_ROLES rows for writes that no longer exist: {stale_writes}")

    stale = sorted((set(HTML_GET) | set(API_GET)) - observed)
    if stale:
        failures.append(f"rows for URLs that no longer exist: {stale}")
    assert not failures, "\n".join(failures)
