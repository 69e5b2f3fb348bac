"""REST API of assigned screening work (#20): the assignments of a stage (list; owners
split the open records and move a reviewer's open work) and the workload figures. Same
selectors and services as the workload page; reviewers see their own assignments and
row, owners everyone's; counts only, never a decision."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.errors import ReviewflowError
from reviewflow.keyset import Keyset, KeysetPagination
from reviewflow.params import text_param
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role
from screening.models import ScreeningAssignment, ScreeningState, Stage, Vote
from screening.selectors.work import screening_workload
from screening.services.screening.stage_settings import (
    get_stage_settings,
    update_stage_settings,
)
from screening.services.work import (
    SplitMode,
    check_split,
    reassign_open_work,
    remove_open_assignments,
    split_work,
)


def _stage(stage: str) -> str:
    if stage not in Stage.values:
        raise Http404("No such stage.")
    return stage


def _users(review: Any, names: list[str], field: str) -> list[User]:
    found = {u.username: u for u in User.objects.filter(username__in=names)}
    for name in names:
        if name not in found:
            raise ReviewflowError(f"No user {name!r}.", field=field)
    return [found[name] for name in names]


class AssignmentSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    assigned_by = serializers.CharField(
        source="assigned_by.username", read_only=True, allow_null=True, default=None
    )
    status = serializers.SerializerMethodField(
        help_text="done (the reviewer voted on it), open (it waits for their vote) or "
        "covered (others completed it, or it left the stage, before they voted)."
    )

    class Meta:
        model = ScreeningAssignment
        fields = ["id", "record", "stage", "reviewer", "due_date", "assigned_by", "created_at",
                  "status"]  # fmt: skip

    def get_status(self, obj: Any) -> str:
        if obj.voted:
            return "done"
        return "open" if obj.still_open else "covered"


class SplitSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=SplitMode.choices)
    reviewers = serializers.ListField(
        child=serializers.CharField(max_length=150), max_length=200, help_text="Usernames."
    )
    shares = serializers.DictField(
        child=serializers.IntegerField(),
        required=False,
        help_text="By share: {username: share from 1 to 100}.",
    )
    searches = serializers.ListField(
        child=serializers.IntegerField(), required=False, max_length=500,
        help_text="By search: the ids of the searches whose records are assigned.",
    )  # fmt: skip
    batch_size = serializers.IntegerField(required=False, allow_null=True, default=None)
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
    open_after_assigned = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Also set the stage's setting: once their assigned records are done, "
        "reviewers are offered any open record (true) or nothing (false).",
    )


class AssignedSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="Assignments made.")
    records = serializers.IntegerField(help_text="Records they cover.")
    per_reviewer = serializers.DictField(child=serializers.IntegerField())


class ReassignSerializer(serializers.Serializer):
    reviewer = serializers.CharField(max_length=150, help_text="Whose open work moves.")
    to = serializers.ListField(child=serializers.CharField(max_length=150), max_length=200)
    due_date = serializers.DateField(
        required=False, allow_null=True, default=None,
        help_text="Empty: each record keeps its due date.",
    )  # fmt: skip


class RemoveSerializer(serializers.Serializer):
    reviewer = serializers.CharField(max_length=150)


class RemovedSerializer(serializers.Serializer):
    removed = serializers.IntegerField()


def _made(made: list[ScreeningAssignment]) -> dict[str, Any]:
    per: dict[int, int] = {}
    for a in made:
        per[a.reviewer_id] = per.get(a.reviewer_id, 0) + 1
    names = dict(User.objects.filter(pk__in=per).values_list("pk", "username"))
    return {
        "created": len(made),
        "records": len({a.record_id for a in made}),
        "per_reviewer": {names[pk]: n for pk, n in sorted(per.items())},
    }


class AssignmentPagination(KeysetPagination):
    keyset = Keyset(("id",))  # in the order they were assigned


@extend_schema(
    parameters=[OpenApiParameter("reviewer", str, description="Owners: one reviewer's only")]
)
class AssignmentListView(ListAPIView):
    """The stage's assignments (reviewers: their own); POST (owners) splits the records
    that still need votes among reviewers: evenly, by share, by search or a fixed batch
    each. Running it again tops up."""

    serializer_class = AssignmentSerializer
    pagination_class = AssignmentPagination  # by key: deep pages cost no more (#25)

    def get_queryset(self) -> Any:
        access = get_review_for(self.request.user, self.kwargs["slug"], role=Role.REVIEWER)
        stage = _stage(self.kwargs["stage"])
        needed = get_stage_settings(access.review, stage).reviewers_needed
        qs = ScreeningAssignment.objects.filter(review=access.review, stage=stage)
        if not access.is_owner:
            qs = qs.filter(reviewer=access.user)
        else:
            name = text_param(self.request.query_params, "reviewer")[:150]
            if name:
                qs = qs.filter(reviewer__username=name)
        voted = Vote.objects.filter(
            record_id=OuterRef("record_id"), stage=stage, reviewer_id=OuterRef("reviewer_id")
        )
        closed = ScreeningState.objects.filter(record_id=OuterRef("record_id"), stage=stage)
        closed = closed.filter(Q(closed=True) | Q(votes__gte=needed))
        return (
            qs.select_related("reviewer", "assigned_by")
            .annotate(voted=Exists(voted), still_open=~Exists(closed))
            .order_by("id")
        )

    @extend_schema(
        operation_id="screening_assignments_create",
        request=SplitSerializer,
        responses={201: AssignedSerializer},
    )
    def post(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        stage = _stage(stage)
        data = SplitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        split = check_split(
            review=access.review,
            mode=v["mode"],
            reviewers=_users(access.review, v["reviewers"], "reviewers"),
            shares=v.get("shares"),
            searches=v.get("searches"),
            batch_size=v["batch_size"],
            due_date=v["due_date"],
        )
        made = split_work(review=access.review, stage=stage, actor=access.user, split=split)
        if v["open_after_assigned"] is not None:
            update_stage_settings(
                review=access.review,
                stage=stage,
                actor=access.user,
                open_after_assigned=v["open_after_assigned"],
            )
        return Response(_made(made), status=status.HTTP_201_CREATED)


class ReassignView(GenericAPIView):
    """Owners: move one reviewer's assigned records they have not voted on to others
    (evenly); their votes stay. The way to hand over a departing reviewer's work."""

    serializer_class = ReassignSerializer

    @extend_schema(request=ReassignSerializer, responses={200: AssignedSerializer})
    def post(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        stage = _stage(stage)
        data = ReassignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        (source,) = _users(access.review, [v["reviewer"]], "reviewer")
        made = reassign_open_work(
            review=access.review,
            stage=stage,
            from_reviewer=source,
            to_reviewers=_users(access.review, v["to"], "to"),
            actor=access.user,
            due_date=v["due_date"],
        )
        return Response(_made(made))


class RemoveView(GenericAPIView):
    """Owners: remove one reviewer's assignments they have not voted on (votes stay)."""

    serializer_class = RemoveSerializer

    @extend_schema(request=RemoveSerializer, responses={200: RemovedSerializer})
    def post(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        stage = _stage(stage)
        data = RemoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        (reviewer,) = _users(access.review, [data.validated_data["reviewer"]], "reviewer")
        removed = remove_open_assignments(
            review=access.review, stage=stage, reviewer=reviewer, actor=access.user
        )
        return Response({"removed": removed})


class WorkloadRowSerializer(serializers.Serializer):
    reviewer = serializers.CharField(source="username")
    member = serializers.BooleanField(help_text="False: left the review with work assigned.")
    assigned = serializers.IntegerField()
    done = serializers.IntegerField(help_text="Assigned records they voted on.")
    left = serializers.IntegerField(help_text="Assigned records that wait for their vote.")
    covered = serializers.IntegerField(
        help_text="Assigned records completed by others (or no longer screened) first."
    )
    overdue = serializers.IntegerField(help_text="Left, with a due date already past.")
    due_date = serializers.DateField(allow_null=True, help_text="Earliest due date of the left.")
    pace = serializers.FloatField(help_text="Votes per day over the last 7 days.")
    finish = serializers.DateField(
        allow_null=True, help_text="Projected finish: today + left / pace (null: none left, "
        "or no recent votes).",
    )  # fmt: skip


class WorkloadSerializer(serializers.Serializer):
    stage = serializers.CharField()
    today = serializers.DateField()
    reviewers_needed = serializers.IntegerField()
    open_after_assigned = serializers.BooleanField()
    rows = WorkloadRowSerializer(many=True)


class WorkloadView(GenericAPIView):
    """Each reviewer's assigned, done and left records at the stage, pace, projected
    finish and overdue count (reviewers: their own row)."""

    serializer_class = WorkloadSerializer

    @extend_schema(responses=WorkloadSerializer)
    def get(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        stage = _stage(stage)
        conf = get_stage_settings(access.review, stage)
        now = timezone.now()
        today = timezone.localdate(now)
        rows = screening_workload(
            access.review,
            stage,
            needed=conf.reviewers_needed,
            now=now,
            today=today,
            only=None if access.is_owner else access.user,
        )
        payload = {
            "stage": stage,
            "today": today,
            "reviewers_needed": conf.reviewers_needed,
            "open_after_assigned": conf.open_after_assigned,
            "rows": rows,
        }
        return Response(WorkloadSerializer(payload).data)
