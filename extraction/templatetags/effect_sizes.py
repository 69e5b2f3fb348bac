"""``{% effect_sizes_panel form "form-id" %}``: the live effect-size panel of the extraction
and consensus pages, shown only when the form has a table with effect inputs."""

from __future__ import annotations

from typing import Any

from django import template

from extraction.effect_inputs import effect_tables
from extraction.models import Form
from extraction.selectors import form_spec

register = template.Library()


@register.inclusion_tag("extraction/_effects.html", takes_context=True)
def effect_sizes_panel(context: dict[str, Any], form: Form, html_form_id: str) -> dict[str, Any]:
    tables = effect_tables(form_spec(form))
    return {
        "review": context.get("review"),
        "form": form,
        "tables": tables,
        "html_form_id": html_form_id,
    }


@register.filter
def has_effect_inputs(form: Form) -> bool:
    """Whether the form has a table the synthesis page can pool (for a link to it)."""
    return bool(effect_tables(form_spec(form)))
