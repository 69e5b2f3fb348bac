from __future__ import annotations

from django import forms

from screening.models import ConnectorSource, Schedule, SearchMethod
from screening.services.connectors import MAX_QUERY_LENGTH


class SavedSearchForm(forms.Form):
    source = forms.ChoiceField(choices=ConnectorSource.choices, initial=ConnectorSource.PUBMED)
    query = forms.CharField(
        max_length=MAX_QUERY_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="In the database's own syntax, exactly as you would type it on its site.",
    )
    date_from = forms.DateField(
        required=False,
        label="Published from",
        help_text="For ClinicalTrials.gov, the date a study was first posted.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = forms.DateField(
        required=False,
        label="Published until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class ScheduleForm(forms.Form):
    schedule = forms.ChoiceField(choices=Schedule.choices, required=False)


class CitationSearchForm(forms.Form):
    method = forms.ChoiceField(
        label="Citations to search",
        choices=[c for c in SearchMethod.choices if c[0]],
        initial=SearchMethod.CITATIONS,
        help_text="Through OpenAlex, from the DOIs of the studies included at full text when "
        "it runs; counted in PRISMA as citation searching.",
    )
