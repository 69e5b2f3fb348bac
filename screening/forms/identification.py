from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django import forms

from screening.importers import ENCODINGS, FORMATS
from screening.models import OtherMethod, Search, SourceType

SOURCES = [
    "PubMed",
    "MEDLINE (Ovid)",
    "Embase",
    "Scopus",
    "Web of Science",
    "PsycINFO",
    "CINAHL",
    "Cochrane CENTRAL",
    "Lens",
    "ClinicalTrials.gov",
    "WHO ICTRP",
    "Google Scholar",
]


class SearchUploadForm(forms.Form):
    file = forms.FileField(
        help_text="One export file of one search: RIS, PubMed/MEDLINE (.nbib), "
        "BibTeX, EndNote XML, Web of Science, CSV/TSV/XLSX or EBSCOhost text."
    )
    source = forms.CharField(max_length=120, help_text="The database or register searched.")
    source_type = forms.ChoiceField(
        choices=SourceType.choices, initial=SourceType.DATABASE, label="Source type (PRISMA)"
    )
    other_method = forms.ChoiceField(
        choices=[("", "—")] + list(OtherMethod.choices),
        required=False,
        label="Other method",
        help_text="Only for source type “Other method”.",
    )
    search_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    search_string = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The search exactly as run (PRISMA-S).",
    )
    format = forms.ChoiceField(
        choices=[("auto", "Detect from the content")] + [(f, f.upper()) for f in FORMATS],
        initial="auto",
    )
    encoding = forms.ChoiceField(
        choices=[("auto", "Detect automatically")] + list(ENCODINGS.items()),
        initial="auto",
        required=False,
        help_text="Of text exports. Detection reads UTF-8, Windows-1252 and, from their "
        "content, Chinese, Japanese, Korean, Cyrillic and other encodings; choose one if "
        "the imported text looks garbled.",
    )
    column_map = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Column mapping (CSV/XLSX)",
        help_text="Optional, for CSV files with unusual headers: JSON such as "
        '{"Article Title": "title", "Summary": "abstract"}.',
    )

    supersedes = forms.TypedChoiceField(
        coerce=int,
        empty_value=None,
        required=False,
        label="New run of",
        help_text="Only when this file is a new run of a search already imported: it then "
        "replaces that search in every count, instead of adding to it.",
    )

    def __init__(self, *args: Any, earlier: Iterable[Search] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[object, str]] = [("", "— (a search of its own)")]
        choices += [(s.pk, s.describe()) for s in earlier]
        self.fields["supersedes"].choices = choices  # type: ignore[attr-defined]

    def clean_encoding(self) -> str:
        return self.cleaned_data["encoding"] or "auto"

    def clean_column_map(self) -> dict[str, str]:
        raw = self.cleaned_data["column_map"].strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"The column mapping is not valid JSON: {exc.msg}."
            ) from None
        except ValueError:  # a number past the 4,300 digits int() reads
            raise forms.ValidationError(
                "The column mapping is not valid JSON: a number in it is too long."
            ) from None
        except RecursionError:
            raise forms.ValidationError(
                "The column mapping is not valid JSON: it is nested too deeply."
            ) from None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise forms.ValidationError(
                'The column mapping must map column names to field names, e.g. {"Title": "title"}.'
            )
        return value
