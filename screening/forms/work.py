"""The workload page's forms (#20): split a stage's work, move a reviewer's open work."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User

from screening.services.work import MAX_BATCH, MAX_SHARE, SplitMode


class DateInput(forms.DateInput):
    input_type = "date"


class SplitForm(forms.Form):
    mode = forms.ChoiceField(choices=SplitMode.choices, initial=SplitMode.EVENLY, label="Split")
    reviewers = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, label="Among these reviewers"
    )
    searches = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Searches (by search)",
        help_text="Only these searches' records are assigned.",
    )
    batch_size = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_BATCH,
        label="Records per reviewer (fixed batch)",
    )
    due_date = forms.DateField(required=False, widget=DateInput, label="Due date")

    def __init__(
        self, *args: Any, people: list[User], searches: list[tuple[int, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.people = {u.username: u for u in people}
        choices = [(u.username, u.username) for u in people]
        self.fields["reviewers"].choices = choices  # type: ignore[attr-defined]
        self.fields["searches"].choices = [  # type: ignore[attr-defined]
            (str(pk), label) for pk, label in searches
        ]
        for user in people:
            self.fields[f"share_{user.username}"] = forms.IntegerField(
                required=False,
                min_value=1,
                max_value=MAX_SHARE,
                initial=1,
                label=f"Share of {user.username}",
            )

    def share_fields(self) -> list[forms.BoundField]:
        return [self[f"share_{name}"] for name in self.people]

    def chosen(self) -> list[User]:
        return [self.people[name] for name in self.cleaned_data["reviewers"]]

    def shares(self) -> dict[str, int]:
        return {
            name: self.cleaned_data.get(f"share_{name}") or 1
            for name in self.cleaned_data["reviewers"]
        }

    def search_ids(self) -> list[int]:
        return [int(pk) for pk in self.cleaned_data["searches"]]


class ReassignForm(forms.Form):
    source = forms.ChoiceField(label="Move the open work of")
    to = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, label="To")
    due_date = forms.DateField(
        required=False,
        widget=DateInput,
        label="New due date",
        help_text="Empty: each record keeps its due date.",
    )

    def __init__(self, *args: Any, people: list[User], sources: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.people = {u.username: u for u in [*people, *sources]}
        self.fields["source"].choices = [  # type: ignore[attr-defined]
            (u.username, u.username) for u in sources
        ]
        self.fields["to"].choices = [  # type: ignore[attr-defined]
            (u.username, u.username) for u in people
        ]
