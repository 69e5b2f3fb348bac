"""The review's navigation: links grouped by the steps of a review, the current page and
its group marked (``aria-current``), each link shown only to the roles its page admits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()

ANY, SCREENER, OWNER = "any", "screener", "owner"


@dataclass(frozen=True)
class NavLink:
    label: str
    url_name: str
    # Pages that count as this link's (a record's page is under Records).
    also: tuple[str, ...] = ()
    stage: str | None = None
    role: str = ANY


# Identify · Screen · Extract · Report · Team · Settings. A link whose page does not exist
# (yet) in this installation is left out rather than breaking every page.
NAV: tuple[tuple[str, tuple[NavLink, ...]], ...] = (
    (
        "Identify",
        (
            NavLink("Searches", "review-searches", also=("search-detail", "search-delete")),
            NavLink("Saved searches", "saved-searches"),
            NavLink("Records", "review-records", also=("record-detail", "record-labels")),
            NavLink(
                "Duplicates",
                "review-duplicates",
                also=("duplicate-decide", "record-unmerge"),
                role=OWNER,
            ),
        ),
    ),
    (
        "Screen",
        (
            NavLink(
                "Title/abstract",
                "screen",
                stage="title-abstract",
                also=("screen-record",),
                role=SCREENER,
            ),
            NavLink(
                "Full text", "screen", stage="full-text", also=("screen-record",), role=SCREENER
            ),
            NavLink("PDF uploads", "fulltext-batches", also=("fulltext-batch",)),
            NavLink("My votes", "screen-history", stage="title-abstract", role=SCREENER),
            NavLink("Conflicts", "conflicts", role=SCREENER),
            NavLink("Labels", "review-labels"),
            NavLink("Questions", "stage-questions", stage="title-abstract", role=OWNER),
            NavLink("Pilot round", "pilot", stage="title-abstract", role=OWNER),
            NavLink("Prioritisation", "prioritisation", stage="title-abstract", role=OWNER),
            NavLink("Agreement", "agreement", role=OWNER),
        ),
    ),
    (
        "Extract",
        (
            NavLink(
                "Forms and extractions",
                "extraction-home",
                also=(
                    "extraction-form-new",
                    "extraction-form",
                    "extraction-form-preview",
                    "extraction-page",
                    "extraction-rob2",
                    "extraction-compare",
                ),
            ),
        ),
    ),
    (
        "Report",
        (
            NavLink("PRISMA", "prisma"),
            NavLink("Exports", "exports"),
            NavLink("Retraction watch", "retractions"),
        ),
    ),
    (
        "Team",
        (
            NavLink("Members", "review-members"),
            # Owners' (reviewers reach their own row from the screening page, #20).
            NavLink("Workload", "workload", stage="title-abstract", role=OWNER),
            NavLink("Audit trail", "review-audit", role=OWNER),
        ),
    ),
    (
        "Settings",
        (
            NavLink("Review", "review-settings", role=OWNER),
            NavLink(
                "Title/abstract screening", "stage-settings", stage="title-abstract", role=OWNER
            ),
            NavLink("Full-text screening", "stage-settings", stage="full-text", role=OWNER),
        ),
    ),
)


@dataclass(frozen=True)
class ShownLink:
    label: str
    url: str
    current: bool


@dataclass(frozen=True)
class ShownGroup:
    label: str
    links: list[ShownLink]

    @property
    def current(self) -> bool:
        return any(link.current for link in self.links)


def _allowed(link: NavLink, access: Any) -> bool:
    if link.role == ANY:
        return True
    if access is None:
        return False
    return bool(access.is_owner if link.role == OWNER else access.can_screen)


def _is_current(link: NavLink, url_name: str | None, stage: str | None) -> bool:
    if url_name != link.url_name and url_name not in link.also:
        return False
    # A stage's pages belong to that stage's link; a page of the other stage does not.
    return link.stage is None or stage is None or stage == link.stage


def nav_groups(
    *, slug: str, access: Any, url_name: str | None, stage: str | None
) -> list[ShownGroup]:
    """The groups and links ``access`` may follow, the current page marked."""
    groups = []
    for label, links in NAV:
        shown = []
        for link in links:
            if not _allowed(link, access):
                continue
            args = [slug, link.stage] if link.stage else [slug]
            try:
                url = reverse(link.url_name, args=args)
            except NoReverseMatch:
                continue
            shown.append(ShownLink(link.label, url, _is_current(link, url_name, stage)))
        if shown:
            groups.append(ShownGroup(label, shown))
    return groups


@register.simple_tag(takes_context=True)
def review_nav_groups(context: template.Context) -> list[ShownGroup]:
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    review = context["review"]
    return nav_groups(
        slug=review.slug,
        access=context.get("access"),
        url_name=match.url_name if match else None,
        stage=match.kwargs.get("stage") if match else None,
    )
