"""Evidence synthesis: effect sizes, meta-analysis, forest and funnel plots.

A pure core (no Django, no ORM): the ``metaanalysis`` command reads a CSV into it, and the
extraction pages can call the same functions with values from a form.
"""

from .effects import (
    EffectSet,
    EffectSize,
    Exclusion,
    Measure,
    SynthesisError,
    compute_effects,
    effect_from_counts,
    effect_from_means,
    effect_from_reported,
)
from .meta import (
    MetaResult,
    Method,
    SubgroupResult,
    mantel_haenszel,
    meta_analyse,
    subgroup_analysis,
)

__all__ = [
    "EffectSet",
    "EffectSize",
    "Exclusion",
    "Measure",
    "MetaResult",
    "Method",
    "SubgroupResult",
    "SynthesisError",
    "compute_effects",
    "effect_from_counts",
    "effect_from_means",
    "effect_from_reported",
    "mantel_haenszel",
    "meta_analyse",
    "subgroup_analysis",
]
