from __future__ import annotations

from django import forms

from screening.models import Adjudicators, StageOrder


class StageSettingsForm(forms.Form):
    reviewers_needed = forms.TypedChoiceField(
        choices=[(1, "1"), (2, "2 (dual screening)"), (3, "3")],
        coerce=int,
        initial=2,
        label="Reviewers per record",
    )
    blind = forms.BooleanField(
        required=False, label="Blind: reviewers cannot see each other's votes"
    )
    criteria = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 5}), label="Eligibility criteria"
    )
    include_terms = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Terms to highlight in green",
        help_text="One per line; * matches any ending or beginning (random*).",
    )
    exclude_terms = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Terms to highlight in red",
    )
    exclusion_reasons = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        label="Exclusion reasons",
        help_text="One per line; reviewers pick them with the number keys.",
    )
    reasons_required = forms.BooleanField(
        required=False, label="An exclusion needs a reason (always so at full text)"
    )
    adjudicators = forms.ChoiceField(choices=Adjudicators.choices, label="Who resolves conflicts")
    order = forms.ChoiceField(
        choices=StageOrder.choices,
        required=False,
        label="Order of records",
        help_text="“Most relevant first” retrains a model on the team's decisions every few "
        "votes (it starts after one include and one exclude). Keep random for a pilot round.",
    )
    show_scores = forms.BooleanField(
        required=False,
        label="Show each record's relevance score to reviewers",
        help_text="Off by default: a score can anchor a reviewer, which blind screening avoids.",
    )
    open_after_assigned = forms.BooleanField(
        required=False,
        initial=True,
        label="When a reviewer's assigned records are done, offer them any open record",
        help_text="Off: reviewers with assigned work screen only that (see Workload).",
    )

    def clean_order(self) -> str:
        return self.cleaned_data["order"] or StageOrder.RANDOM

    def clean_exclusion_reasons(self) -> list[str]:
        return [
            line.strip()
            for line in self.cleaned_data["exclusion_reasons"].splitlines()
            if line.strip()
        ]
