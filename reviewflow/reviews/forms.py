from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.text import slugify

from reviewflow.reviews.models import Review, Role


def propose_slug(title: str) -> str:
    """The address a review's title suggests (``slug.js`` proposes the same as it is typed)."""
    return slugify(title)[:60].rstrip("-")


class ReviewForm(forms.ModelForm):
    class Meta:
        model = Review
        fields = ["title", "slug", "question", "protocol_registration"]
        widgets = {
            "question": forms.Textarea(attrs={"rows": 3}),
            "slug": forms.TextInput(attrs={"data-slug-from": "id_title"}),
        }
        help_texts = {
            "slug": "Short name used in addresses: lower-case letters, digits and hyphens. "
            "Proposed from the title; leave it empty to take the proposal.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        if not data.get("slug") and "slug" not in self.errors:
            # Empty: the title's proposal on a new review; an existing one keeps its own.
            data["slug"] = (
                self.instance.slug if self.instance.pk else propose_slug(data.get("title") or "")
            )
            if not data["slug"]:
                self.add_error("slug", "Give the review a short name with letters or digits.")
        return data

    def validate_unique(self) -> None:
        # The service reports a taken slug with a message of its own.
        pass


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="An existing user's username.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.REVIEWER)

    def clean_username(self) -> object:
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(
                f"No user called “{username}”: send an invitation link instead."
            )
        return user


class InvitationForm(forms.Form):
    email = forms.EmailField(required=False, help_text="Optional: who the link is for.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.REVIEWER)
    days = forms.IntegerField(min_value=1, max_value=90, initial=14, label="Valid for (days)")


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
