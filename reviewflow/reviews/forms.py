from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from reviewflow.reviews.models import Review, Role


class ReviewForm(forms.ModelForm):
    class Meta:
        model = Review
        fields = ["title", "slug", "question", "protocol_registration"]
        widgets = {
            "question": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "slug": "Short name used in addresses: lower-case letters, digits and hyphens.",
        }

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
