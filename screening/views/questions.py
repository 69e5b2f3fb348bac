"""Pages of screening questions: a stage's checklist, which owners define, reword, reorder
and delete (linked from the stage's settings), and the panel of the screening page where a
reviewer answers it (``a`` then ``y`` / ``n`` / ``u``) before voting."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render

from reviewflow.errors import ReviewflowError
from reviewflow.params import choice_param, int_param, text_param
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role
from screening.models import Answer, Record, ScreeningQuestion, Stage
from screening.selectors.questions import questions_of, questions_with_my_answers
from screening.services import questions as services
from screening.services.screening.stage_settings import get_stage_settings

ACTIONS = ("create", "update", "delete", "up", "down")
# In answer mode (after ``a``) on the screening page, these keys answer the marked question.
ANSWER_KEYS: dict[str, str] = {Answer.YES: "y", Answer.NO: "n", Answer.UNCLEAR: "u"}


def screen_questions_context(
    access: ReviewAccess, record: Record, stage: str, typed: dict[str, str] | None = None
) -> dict[str, object]:
    """What the questions panel of the screening page shows: the stage's questions, each
    with the user's own answer on the record (one query), or what they had chosen
    (``typed``) when their vote was refused. Nobody else's answer shows here: at a blind
    stage the record is open, so others' answers are hidden (blinding)."""
    questions = questions_with_my_answers(access.review, stage, record.pk, access.user)
    for question in questions:
        if typed is not None and str(question.pk) in typed:
            question.mine = typed[str(question.pk)]  # type: ignore[attr-defined]
    return {
        "questions_box": {
            "questions": questions,
            "answers": [(value, text, ANSWER_KEYS[value]) for value, text in Answer.choices],
        }
    }


def answers_from_post(post: QueryDict) -> dict[str, str]:
    """The answers a vote form sends: ``answer-<question id>`` per question of the stage,
    an empty value clearing it (the service checks the ids and values)."""
    return {
        key.removeprefix("answer-"): text_param(post, key)
        for key in post
        if key.startswith("answer-")
    }


@login_required
def questions_page(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    """GET: the stage's questions (owners). POST: ``action`` is ``create``, ``update``,
    ``delete``, ``up`` or ``down``; ``question`` names the question to change."""
    access = get_review_for(request.user, slug, role=Role.OWNER)
    if stage not in Stage.values:
        raise Http404("No such stage.")
    error, error_field, values = "", "", {"text": "", "exclusion_reason": ""}
    if request.method == "POST":
        action = choice_param(request.POST, "action", choices=ACTIONS, default="")
        values = {
            "text": text_param(request.POST, "text"),
            "exclusion_reason": text_param(request.POST, "exclusion_reason"),
        }
        try:
            if action == "create":
                question = services.create_question(
                    review=access.review, actor=access.user, stage=stage, **values
                )
                messages.success(request, f"Question “{question.text}” added.")
            elif action:
                question_id = int_param(request.POST, "question", default=None, min_value=1)
                question = get_object_or_404(
                    ScreeningQuestion, pk=question_id or 0, review=access.review, stage=stage
                )
                if action == "delete":
                    n = services.delete_question(question=question, actor=access.user)
                    messages.success(
                        request,
                        f"Question “{question.text}” deleted (with its {n} answer"
                        f"{'' if n == 1 else 's'}).",
                    )
                elif action in ("up", "down"):
                    services.move_question(
                        question=question, actor=access.user, by=-1 if action == "up" else 1
                    )
                else:
                    services.update_question(
                        question=question,
                        actor=access.user,
                        text=values["text"],
                        exclusion_reason=values["exclusion_reason"],
                    )
                    messages.success(request, f"Question “{question.text}” saved.")
            else:
                raise ReviewflowError("Unknown action: add, save, move or delete a question.")
        except ReviewflowError as exc:
            error, error_field = exc.message, exc.field or ""
        else:
            return redirect("stage-questions", slug=slug, stage=stage)
    return render(
        request,
        "screening/questions.html",
        {
            "access": access,
            "review": access.review,
            "stage": stage,
            "stage_label": Stage(stage).label,
            "questions": list(questions_of(access.review, stage)),
            "reasons": get_stage_settings(access.review, stage).exclusion_reasons,
            "error": error,
            "error_field": error_field,
            "values": values,
        },
        status=400 if error else 200,
    )
