"""Pooling study effects: fixed effect, random effects (DL, REML), Mantel–Haenszel.

Pure numpy/scipy plus statsmodels, no Django. Every figure is computed as metafor 4.x
computes it (``rma.uni``, ``rma.mh``, ``predict.rma``); ``tests/extraction/test_meta.py``
checks them against metafor's published outputs to 4 decimals.

What statsmodels (``statsmodels.stats.meta_analysis.combine_effects``) does here, and where
our own code fills a gap:

- statsmodels: the inverse-variance fixed-effect estimate and its SE, Cochran's Q, and the
  DerSimonian–Laird τ² with its random-effects estimate and SE.
- ours: truncating the DL τ² at 0 (statsmodels leaves it negative when Q < k-1; metafor and
  RevMan truncate, and the random-effects model then equals the fixed-effect one); REML
  (statsmodels has DL and Paule–Mandel only), by Fisher scoring from the Hedges estimate as
  ``rma.uni`` does, iterated until τ² changes by less than 1e-10; Mantel–Haenszel for OR, RR
  and RD (Robins–Breslow–Greenland, Greenland–Robins and Sato–Greenland–Robins variances,
  as ``rma.mh``); the I² and H² of random-effects models from τ² and the "typical" sampling
  variance (metafor's definition; for FE and MH they come from Q); the Hartung–Knapp(–Sidik–
  Jonkman) adjustment applied to REML as well (statsmodels offers it with its own τ²
  estimators); the prediction interval; study weights.
- Intervals and tests use the normal distribution; with ``knha`` the t distribution with
  k-1 degrees of freedom, for the CI, the p-value and the prediction interval alike. This
  is what ``predict.rma`` does: its prediction interval uses z unless the model was fitted
  with ``test="t"``/``"knha"`` (the "t with k-2 df" interval of Higgins et al. 2009 is not
  metafor's default, and not ours).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from .effects import EffectSet, EffectSize, Exclusion, Measure, SynthesisError

__all__ = [
    "MetaResult",
    "Method",
    "SubgroupResult",
    "mantel_haenszel",
    "meta_analyse",
    "reml_tau2",
    "subgroup_analysis",
]

REML_TOLERANCE = 1e-10
REML_MAX_ITERATIONS = 1000


class Method(StrEnum):
    FE = "FE"
    DL = "DL"
    REML = "REML"

    @property
    def label(self) -> str:
        return {
            "FE": "fixed effect, inverse variance",
            "DL": "random effects, DerSimonian–Laird",
            "REML": "random effects, REML",
        }[self.value]


@dataclass(frozen=True)
class MetaResult:
    """A pooled estimate on the analysis scale (log for OR and RR) and its heterogeneity."""

    measure: Measure
    method: str  # FE, DL, REML or MH
    k: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float  # z, or t with knha
    p: float
    tau2: float
    i2: float  # percent
    h2: float
    q: float
    q_df: int
    q_p: float
    pi_low: float
    pi_high: float
    knha: bool
    level: float
    studies: tuple[str, ...]
    weights: tuple[float, ...]  # percent, in the order of ``studies``
    excluded: tuple[Exclusion, ...] = ()
    corrections: tuple[str, ...] = ()

    @property
    def tau(self) -> float:
        return math.sqrt(self.tau2)

    @property
    def method_label(self) -> str:
        if self.method == "MH":
            return "fixed effect, Mantel–Haenszel"
        label = Method(self.method).label
        return f"{label}, Hartung–Knapp" if self.knha else label

    def back(self, value: float) -> float:
        """A value on the measure's own scale (exp for OR and RR)."""
        return math.exp(value) if self.measure.is_ratio else value

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "k": self.k,
            "estimate": self.estimate,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "tau2": self.tau2,
            "i2": self.i2,
            "q": self.q,
            "measure": self.measure.value,
            "method": self.method,
            "knha": self.knha,
            "scale": "log" if self.measure.is_ratio else "raw",
            "statistic": self.statistic,
            "distribution": f"t({self.k - 1})" if self.knha else "normal",
            "p": self.p,
            "q_df": self.q_df,
            "q_p": self.q_p,
            "tau": self.tau,
            "h2": self.h2,
            "pi_low": self.pi_low,
            "pi_high": self.pi_high,
            "level": self.level,
            "weights": dict(zip(self.studies, self.weights, strict=True)),
            "excluded": [{"study": e.study, "reason": e.reason} for e in self.excluded],
            "corrections": list(self.corrections),
        }
        if self.measure.is_ratio:
            out["estimate_exp"] = self.back(self.estimate)
            out["ci_low_exp"] = self.back(self.ci_low)
            out["ci_high_exp"] = self.back(self.ci_high)
            out["pi_low_exp"] = self.back(self.pi_low)
            out["pi_high_exp"] = self.back(self.pi_high)
        return out


def _arrays(effects: Sequence[EffectSize]) -> tuple[np.ndarray, np.ndarray]:
    yi = np.array([e.yi for e in effects], dtype=float)
    vi = np.array([e.vi for e in effects], dtype=float)
    return yi, vi


def reml_tau2(yi: np.ndarray, vi: np.ndarray) -> float:
    """REML τ² of the random-effects model by Fisher scoring, as ``rma.uni`` does it.

    Starts from the Hedges (HE) estimate, takes the scoring step
    ``(y'PPy - tr P) / tr PP``, halves a step that would make τ² negative, and stops when τ²
    changes by less than ``REML_TOLERANCE``.
    """
    k = len(yi)
    if k < 2:
        return 0.0
    tau2 = max(
        0.0, (float(np.sum((yi - yi.mean()) ** 2)) - float(vi.sum()) * (k - 1) / k) / (k - 1)
    )
    for _ in range(REML_MAX_ITERATIONS):
        w = 1 / (vi + tau2)
        # P = W - W 1 1'W / sum(W); only its products with y and its traces are needed.
        p_mat = np.diag(w) - np.outer(w, w) / w.sum()
        py = p_mat @ yi
        pp = p_mat @ p_mat
        adj = (float(py @ py) - float(np.trace(p_mat))) / float(np.trace(pp))
        while tau2 + adj < 0:
            adj /= 2
        new = tau2 + adj
        if abs(new - tau2) < REML_TOLERANCE:
            return new
        tau2 = new
    raise SynthesisError(
        f"REML did not converge in {REML_MAX_ITERATIONS} steps; use --method DL instead"
    )


def _heterogeneity(q: float, k: int) -> tuple[int, float]:
    df = k - 1
    return df, float(stats.chi2.sf(q, df)) if df > 0 else 1.0


def _crit(level: float, knha: bool, k: int) -> float:
    if knha:
        return float(stats.t.ppf(1 - (1 - level) / 2, k - 1))
    return float(stats.norm.ppf(1 - (1 - level) / 2))


def _p(statistic: float, knha: bool, k: int) -> float:
    if knha:
        return float(2 * stats.t.sf(abs(statistic), k - 1))
    return float(2 * stats.norm.sf(abs(statistic)))


def meta_analyse(
    effects: EffectSet | Sequence[EffectSize],
    *,
    method: Method | str = Method.REML,
    knha: bool = False,
    level: float = 0.95,
) -> MetaResult:
    """Inverse-variance pooling: fixed effect (FE) or random effects (DL, REML).

    ``knha`` applies the Hartung–Knapp–Sidik–Jonkman adjustment (the SE times
    √(Σwᵢ(yᵢ-μ)²/(k-1)), t with k-1 df), as ``rma(test="knha")``: not truncated below at 1.
    """
    method = Method(method)
    excluded: tuple[Exclusion, ...] = ()
    corrections: tuple[str, ...] = ()
    if isinstance(effects, EffectSet):
        excluded, corrections = tuple(effects.excluded), tuple(effects.corrections)
        measure = effects.measure
        effects = effects.effects
    if not effects:
        raise SynthesisError("no study has an effect to pool" + _why(excluded))
    measure = effects[0].measure
    k = len(effects)
    if knha and k < 2:
        raise SynthesisError("the Hartung–Knapp adjustment needs at least 2 studies")
    yi, vi = _arrays(effects)
    if np.any(vi <= 0):
        raise SynthesisError("every study needs a sampling variance above 0")

    if k == 1:
        fe_mu, fe_se, q = float(yi[0]), float(math.sqrt(vi[0])), 0.0
        sm = None
    else:
        # statsmodels also computes its random-effects weights with the untruncated τ²,
        # which divides by zero when τ² = -vᵢ; those are not used then (see below).
        with np.errstate(divide="ignore", invalid="ignore"):
            sm = combine_effects(yi, vi, method_re="dl")
        fe_mu, fe_se, q = float(sm.mean_effect_fe), float(sm.sd_eff_w_fe), float(sm.q)
    q = max(0.0, q)
    q_df, q_p = _heterogeneity(q, k)

    if method == Method.FE or k == 1:
        tau2, mu, se = 0.0, fe_mu, fe_se
    elif method == Method.DL:
        assert sm is not None
        tau2 = max(0.0, float(sm.tau2))
        if tau2 > 0:
            mu, se = float(sm.mean_effect_re), float(sm.sd_eff_w_re)
        else:
            mu, se = fe_mu, fe_se
    else:
        tau2 = reml_tau2(yi, vi)
        w_re = 1 / (vi + tau2)
        mu, se = float(np.sum(w_re * yi) / w_re.sum()), float(math.sqrt(1 / w_re.sum()))

    w = 1 / (vi + tau2)
    if knha:
        s2w = float(np.sum(w * (yi - mu) ** 2)) / (k - 1)
        se = se * math.sqrt(s2w)

    if method == Method.FE or k == 1:
        i2 = max(0.0, 100 * (q - q_df) / q) if q > 0 else 0.0
        h2 = q / q_df if q_df > 0 else 1.0
    else:
        w_fe = 1 / vi
        typical = (k - 1) * w_fe.sum() / (w_fe.sum() ** 2 - np.sum(w_fe**2))
        i2 = float(100 * tau2 / (typical + tau2))
        h2 = float(tau2 / typical + 1)

    crit = _crit(level, knha, k)
    statistic = mu / se if se > 0 else math.inf
    pi_half = crit * math.sqrt(se**2 + tau2)
    weights = 100 * w / w.sum()
    return MetaResult(
        measure=measure,
        method=method.value,
        k=k,
        estimate=mu,
        se=se,
        ci_low=mu - crit * se,
        ci_high=mu + crit * se,
        statistic=statistic,
        p=_p(statistic, knha, k),
        tau2=tau2,
        i2=i2,
        h2=h2,
        q=q,
        q_df=q_df,
        q_p=q_p,
        pi_low=mu - pi_half,
        pi_high=mu + pi_half,
        knha=knha,
        level=level,
        studies=tuple(e.study for e in effects),
        weights=tuple(float(x) for x in weights),
        excluded=excluded,
        corrections=corrections,
    )


def _why(excluded: Sequence[Exclusion]) -> str:
    if not excluded:
        return ""
    return ": " + "; ".join(str(e) for e in excluded[:3]) + ("; …" if len(excluded) > 3 else "")


def mantel_haenszel(effects: EffectSet, *, level: float = 0.95) -> MetaResult:
    """Mantel–Haenszel fixed-effect pooling of OR, RR or RD, as metafor's ``rma.mh``.

    The pooled estimate uses the 2×2 tables as given, with no continuity correction (metafor's
    ``add=c(1/2, 0), to=c("only0", "none")``); Q, I² and H² come from the studies' own
    (corrected) effects around the MH estimate. Studies with no events in either arm add
    nothing to an OR or RR and are listed as excluded; for RD they count, in the estimate
    and in the weights, but not in Q (metafor's ``drop00=c(TRUE, FALSE)``). Weights are
    the MH ones: OR bᵢcᵢ/Nᵢ, RR cᵢn₁ᵢ/Nᵢ, RD n₁ᵢn₂ᵢ/Nᵢ.
    """
    measure = effects.measure
    if not measure.is_binary:
        raise SynthesisError(f"Mantel–Haenszel pools OR, RR or RD, not {measure.value}")
    without = [e.study for e in effects.effects if e.counts is None]
    if without:
        raise SynthesisError(
            "Mantel–Haenszel needs the 2×2 table of every study; "
            f"study '{without[0]}' has only a reported estimate"
        )
    if not effects.effects:
        raise SynthesisError("no study has an effect to pool" + _why(effects.excluded))
    tables = np.array([e.counts for e in effects.effects], dtype=float)
    ai, bi, ci, di = tables.T
    n1, n2 = ai + bi, ci + di
    nn = n1 + n2
    if measure == Measure.OR:
        r_i, s_i = ai * di / nn, bi * ci / nn
        r, s = r_i.sum(), s_i.sum()
        if r == 0 or s == 0:
            raise SynthesisError("the Mantel–Haenszel odds ratio is not estimable (R or S is 0)")
        p_i, q_i = (ai + di) / nn, (bi + ci) / nn
        mu = math.log(r / s)
        se = math.sqrt(
            0.5
            * (
                np.sum(p_i * r_i) / r**2
                + np.sum(p_i * s_i + q_i * r_i) / (r * s)
                + np.sum(q_i * s_i) / s**2
            )
        )
        raw_w = bi * ci / nn
    elif measure == Measure.RR:
        r, s = np.sum(ai * n2 / nn), np.sum(ci * n1 / nn)
        if r == 0 or s == 0:
            raise SynthesisError("the Mantel–Haenszel risk ratio is not estimable (no events)")
        mu = math.log(r / s)
        se = math.sqrt(np.sum(n1 * n2 * (ai + ci) / nn**2 - ai * ci / nn) / (r * s))
        raw_w = ci * n1 / nn
    else:
        denom = np.sum(n1 * n2 / nn)
        mu = float(np.sum(ai * n2 / nn - ci * n1 / nn) / denom)
        se = math.sqrt(
            (
                mu
                * np.sum(
                    ci * (n1 / nn) ** 2
                    - ai * (n2 / nn) ** 2
                    + (n1 / nn) * (n2 / nn) * (n2 - n1) / 2
                )
                + np.sum(ai * (n2 - ci) / nn + ci * (n1 - ai) / nn) / 2
            )
            / denom**2
        )
        raw_w = n1 * n2 / nn

    in_q = [e for e in effects.effects if not _all_or_none(e.counts)]
    yi, vi = _arrays(in_q)
    q = max(0.0, float(np.sum((yi - mu) ** 2 / vi))) if len(in_q) > 1 else 0.0
    q_df, q_p = _heterogeneity(q, len(in_q)) if len(in_q) > 1 else (0, 1.0)
    i2 = max(0.0, 100 * (q - q_df) / q) if q > 0 else 0.0
    h2 = q / q_df if q_df > 0 else 1.0
    crit = _crit(level, False, len(effects.effects))
    statistic = mu / se
    weights = 100 * raw_w / raw_w.sum()
    return MetaResult(
        measure=measure,
        method="MH",
        k=len(effects.effects),
        estimate=mu,
        se=se,
        ci_low=mu - crit * se,
        ci_high=mu + crit * se,
        statistic=statistic,
        p=_p(statistic, False, 0),
        tau2=0.0,
        i2=i2,
        h2=h2,
        q=q,
        q_df=q_df,
        q_p=q_p,
        pi_low=mu - crit * se,
        pi_high=mu + crit * se,
        knha=False,
        level=level,
        studies=tuple(e.study for e in effects.effects),
        weights=tuple(float(x) for x in weights),
        excluded=tuple(effects.excluded),
        corrections=tuple(effects.corrections),
    )


def _all_or_none(counts: tuple[float, float, float, float] | None) -> bool:
    if counts is None:
        return False
    ai, bi, ci, di = counts
    return (ai == 0 and ci == 0) or (bi == 0 and di == 0)


@dataclass(frozen=True)
class SubgroupResult:
    """Each subgroup pooled on its own, the overall pool, and the test for differences."""

    groups: dict[str, MetaResult] = field(default_factory=dict)
    overall: MetaResult | None = None
    q_between: float = 0.0
    df_between: int = 0
    p_between: float = 1.0

    def to_dict(self) -> dict[str, object]:
        return {
            "subgroups": {name: r.to_dict() for name, r in self.groups.items()},
            "test_for_subgroup_differences": {
                "q": self.q_between,
                "df": self.df_between,
                "p": self.p_between,
            },
        }


def subgroup_analysis(
    effects: EffectSet,
    *,
    method: Method | str = Method.REML,
    knha: bool = False,
    mh: bool = False,
    level: float = 0.95,
) -> SubgroupResult:
    """Pool each subgroup separately (its own τ²), pool all, and test the difference.

    The test for subgroup differences is RevMan's: Q between = Σ (μ_g - μ̄)² / se_g² over
    the subgroup estimates, μ̄ their inverse-variance mean, chi² with G-1 df.
    """
    names: list[str] = []
    for e in effects.effects:
        name = e.subgroup or ""
        if name not in names:
            names.append(name)

    def pool(subset: EffectSet) -> MetaResult:
        if mh:
            return mantel_haenszel(subset, level=level)
        return meta_analyse(subset, method=method, knha=knha, level=level)

    groups: dict[str, MetaResult] = {}
    for name in names:
        subset = EffectSet(
            effects.measure,
            [e for e in effects.effects if (e.subgroup or "") == name],
            [x for x in effects.excluded if (x.subgroup or "") == name],
        )
        groups[name] = pool(subset)
    overall = pool(effects)
    if len(groups) < 2:
        return SubgroupResult(groups, overall)
    mus = np.array([g.estimate for g in groups.values()])
    ws = np.array([1 / g.se**2 for g in groups.values()])
    mean = float(np.sum(ws * mus) / ws.sum())
    q_between = float(np.sum(ws * (mus - mean) ** 2))
    df = len(groups) - 1
    return SubgroupResult(groups, overall, q_between, df, float(stats.chi2.sf(q_between, df)))
