"""Pages for reviews, members, invitations and the audit trail."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.keyset import keyset_page
from reviewflow.reviews import services
from reviewflow.reviews.access import get_review_for, signed_in_user
from reviewflow.reviews.audit_page import AUDIT_ORDER, AuditFilterForm, audit_events, audit_lines
from reviewflow.reviews.forms import AddMemberForm, InvitationForm, ReviewForm, RoleForm
from reviewflow.reviews.models import Invitation, Membership, Review, Role
from reviewflow.reviews.progress import progress_for_reviews

INVITATIONS_SHOWN = 50


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    memberships = list(
        Membership.objects.filter(user=signed_in_user(request))
        .select_related("review")
        .annotate(member_count=Count("review__memberships"))
        .order_by("-review__updated_at")
    )
    progress = progress_for_reviews([m.review for m in memberships])
    rows = [(m, progress[m.review_id]) for m in memberships]
    return render(request, "reviews/dashboard.html", {"rows": rows})


@login_required
def review_create(request: HttpRequest) -> HttpResponse:
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            review = services.create_review(owner=signed_in_user(request), **form.cleaned_data)
        except ReviewflowError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, f"Review “{review.title}” created.")
            return redirect("review-detail", slug=review.slug)
    return render(request, "reviews/review_form.html", {"form": form, "creating": True})


@login_required
@require_safe
def review_detail(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug)
    progress = progress_for_reviews([access.review])[access.review.pk]
    members = access.review.memberships.select_related("user").order_by("role", "user__username")
    return render(
        request,
        "reviews/review_detail.html",
        {"access": access, "review": access.review, "progress": progress, "members": members},
    )


@login_required
def review_settings(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    review = access.review
    form = ReviewForm(request.POST or None, instance=review)
    if request.method == "POST" and form.is_valid():
        # Work on a fresh copy: the form has already written its values onto `review`.
        fresh = Review.objects.get(pk=review.pk)
        try:
            updated = services.update_review(
                review=fresh, actor=signed_in_user(request), **form.cleaned_data
            )
        except ReviewflowError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, "Review details saved.")
            return redirect("review-detail", slug=updated.slug)
    return render(
        request,
        "reviews/review_form.html",
        {"form": form, "access": access, "review": review, "creating": False},
    )


@login_required
def members(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug)
    review = access.review
    add_form = AddMemberForm(prefix="add")
    invite_form = InvitationForm(prefix="invite")
    if request.method == "POST":
        access = get_review_for(request.user, slug, role=Role.OWNER)
        if "add-username" in request.POST:
            add_form = AddMemberForm(request.POST, prefix="add")
            if add_form.is_valid():
                try:
                    services.add_member(
                        review=review,
                        actor=signed_in_user(request),
                        user=add_form.cleaned_data["username"],
                        role=add_form.cleaned_data["role"],
                    )
                except ReviewflowError as exc:
                    add_form.add_error("username", exc.message)
                else:
                    messages.success(request, "Member added.")
                    return redirect("review-members", slug=slug)
        else:
            invite_form = InvitationForm(request.POST, prefix="invite")
            if invite_form.is_valid():
                data = invite_form.cleaned_data
                try:
                    if data["email"]:
                        services.invite_by_email(
                            review=review,
                            actor=signed_in_user(request),
                            site_url=request.build_absolute_uri("/"),
                            **data,
                        )
                    else:
                        invitation = services.create_invitation(
                            review=review, actor=signed_in_user(request), **data
                        )
                except ReviewflowError as exc:
                    invite_form.add_error(exc.field if exc.field in data else None, exc.message)
                else:
                    if data["email"]:
                        messages.success(request, f"Invitation sent to {data['email']}.")
                    else:
                        link = request.build_absolute_uri(
                            reverse("invitation-accept", args=[invitation.token])
                        )
                        messages.success(request, f"Invitation created. Send this link: {link}")
                    return redirect("review-members", slug=slug)
    context = {
        "access": access,
        "review": review,
        "members": review.memberships.select_related("user").order_by("user__username"),
        # The latest invitations, open or not, with how each stands (sent, opened, …).
        "invitations": (
            review.invitations.with_emails().select_related("accepted_by")[:INVITATIONS_SHOWN]
            if access.is_owner
            else []
        ),
        "add_form": add_form,
        "invite_form": invite_form,
        "roles": Role.choices,
    }
    return render(request, "reviews/members.html", context)


@login_required
@require_POST
def member_role(request: HttpRequest, slug: str, member_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    membership = get_object_or_404(Membership, pk=member_id, review=access.review)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.change_role(
                membership=membership, actor=signed_in_user(request), role=form.cleaned_data["role"]
            )
        except ReviewflowError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"{membership.user.get_username()} is now {form.cleaned_data['role']}."
            )
    return redirect("review-members", slug=slug)


@login_required
@require_POST
def member_remove(request: HttpRequest, slug: str, member_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    membership = get_object_or_404(Membership, pk=member_id, review=access.review)
    try:
        services.remove_member(membership=membership, actor=signed_in_user(request))
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{membership.user.get_username()} removed from the review.")
    return redirect("review-members", slug=slug)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    invitation = get_object_or_404(Invitation, pk=invitation_id, review=access.review)
    try:
        services.revoke_invitation(invitation=invitation, actor=signed_in_user(request))
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Invitation revoked.")
    return redirect("review-members", slug=slug)


@login_required
@require_POST
def invitation_resend(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    invitation = get_object_or_404(Invitation, pk=invitation_id, review=access.review)
    try:
        services.resend_invitation(
            invitation=invitation,
            actor=signed_in_user(request),
            site_url=request.build_absolute_uri("/"),
        )
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Invitation sent again to {invitation.email}.")
    return redirect("review-members", slug=slug)


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    # The visit counts as "opened" before signing in: a new user may have no account yet.
    if request.method == "GET":
        services.mark_invitation_opened(
            token=token, visitor=request.user if isinstance(request.user, User) else None
        )
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    invitation = (
        Invitation.objects.select_related("review", "created_by").filter(token=token).first()
    )
    if request.method == "POST":
        try:
            membership = services.accept_invitation(token=token, user=signed_in_user(request))
        except ReviewflowError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"You joined “{membership.review.title}” as {membership.role}."
            )
            return redirect("review-detail", slug=membership.review.slug)
    return render(request, "reviews/invitation.html", {"invitation": invitation})


@login_required
@require_safe
def audit_trail(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    members = list(access.review.memberships.select_related("user").order_by("user__username"))
    form = AuditFilterForm(request.GET or None, members=members)
    filters = form.valid_filters() if form.is_bound else {}
    events = audit_events(access.review, filters)
    # The filters that held, for the pagination links (a malformed one is not carried on).
    kept = {k: form.data[k] for k in filters}
    # Read by key, never by OFFSET: a review's 200,000th event costs what its newest does.
    page = keyset_page(events, keyset=AUDIT_ORDER, size=50, params=request.GET, keep=kept)
    from screening.selectors.screening import mask_audit_events

    mask_audit_events(page.object_list, access.user)
    query = urlencode(kept)
    return render(
        request,
        "reviews/audit.html",
        {
            "access": access,
            "review": access.review,
            "page": page,
            "lines": audit_lines(access.review, page.object_list),
            "form": form,
            "query": query,
            "filtered": bool(filters),
        },
    )
