"""Cochrane risk-of-bias tool for randomized trials, version 1 (RoB 1, 2011).

Source: Higgins JPT, Altman DG, Sterne JAC (eds). Chapter 8: Assessing risk of bias in
included studies. Cochrane Handbook for Systematic Reviews of Interventions, version 5.1.0
(March 2011), Table 8.5.a ("The Cochrane Collaboration's tool for assessing risk of bias"),
and Higgins JPT et al. BMJ 2011;343:d5928. The domain names match robvis's ROB1 example
data (``data_raw/data_rob1.csv``).

RoB 1 has **no signalling questions and no algorithm**: for each domain the assessor
describes what the report says ("support for judgement") and judges low, high or unclear
risk; nothing is proposed. The Handbook gives no rule for an overall judgement either
(section 8.7 leaves summary assessments to the review authors), so the overall judgement
is optional and never proposed.
"""

from __future__ import annotations

from .base import Tool

JUDGEMENTS = {"low": "Low risk", "high": "High risk", "unclear": "Unclear risk"}
DOMAINS = ("D1", "D2", "D3", "D4", "D5", "D6", "D7")
DOMAIN_TITLES = {
    "D1": "Random sequence generation (selection bias)",
    "D2": "Allocation concealment (selection bias)",
    "D3": "Blinding of participants and personnel (performance bias)",
    "D4": "Blinding of outcome assessment (detection bias)",
    "D5": "Incomplete outcome data (attrition bias)",
    "D6": "Selective reporting (reporting bias)",
    "D7": "Other bias",
}
# What Table 8.5.a asks the assessor to describe in each domain, shortened.
SUPPORT_HELP = {
    "D1": "Describe the method used to generate the allocation sequence in sufficient "
    "detail to allow an assessment of whether it should produce comparable groups.",
    "D2": "Describe the method used to conceal the allocation sequence in sufficient detail "
    "to determine whether intervention allocations could have been foreseen in advance "
    "of, or during, enrolment.",
    "D3": "Describe all measures used, if any, to blind study participants and personnel "
    "from knowledge of which intervention a participant received.",
    "D4": "Describe all measures used, if any, to blind outcome assessors from knowledge of "
    "which intervention a participant received.",
    "D5": "Describe the completeness of outcome data, including attrition and exclusions "
    "from the analysis, and whether missing data were balanced across groups.",
    "D6": "State how the possibility of selective outcome reporting was examined by the "
    "review authors, and what was found.",
    "D7": "State any important concerns about bias not addressed in the other domains.",
}

TOOL = Tool(
    key="rob1",
    name="RoB 1",
    domains=DOMAINS,
    domain_titles=DOMAIN_TITLES,
    judgements=JUDGEMENTS,
)
