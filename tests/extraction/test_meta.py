"""Pooling against metafor's published outputs (4 decimals) and against hand computation.

Pure: no database. Sources are metafor 5.1-12's tests and reference pages (see
``fixtures/synthesis/README.md``); where a source prints 2 decimals only, the test says so
and allows the rounding (± 0.005), and a computation by hand pins the value more tightly.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.meta_analysis import combine_effects

from extraction.synthesis import (
    EffectSet,
    EffectSize,
    Measure,
    SynthesisError,
    compute_effects,
    effect_from_means,
    effect_from_reported,
    mantel_haenszel,
    meta_analyse,
    subgroup_analysis,
)
from extraction.synthesis.io import read_effects_csv
from extraction.synthesis.meta import reml_tau2

FIXTURES = Path(__file__).parent / "fixtures" / "synthesis"
TOL = 1e-4
PRINTED_2DP = 0.005 + 1e-9


def fixture(name: str, measure: str) -> EffectSet:
    return read_effects_csv((FIXTURES / name).read_bytes(), measure=measure, name=name)


def figures(r, *names):
    return tuple(getattr(r, n) for n in names)


# --- dat.bcg, inverse variance: tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r ---

BCG_IV = [
    # measure, method, estimate, ci_low, ci_high, z, q, tau2, i2
    ("RR", "FE", -0.4303, -0.5097, -0.3509, -10.6247, 152.2330, 0.0, 92.1173),
    ("RR", "DL", -0.7141, -1.0644, -0.3638, -3.9952, 152.2330, 0.3088, 92.1173),
    ("OR", "FE", -0.4361, -0.5190, -0.3533, -10.3190, 163.1649, 0.0, 92.6455),
    ("OR", "DL", -0.7474, -1.1242, -0.3706, -3.8873, 163.1649, 0.3663, 92.6455),
    ("RD", "FE", -0.0009, -0.0014, -0.0005, -4.0448, 276.4737, 0.0, 95.6596),
    ("RD", "DL", -0.0071, -0.0101, -0.0040, -4.5128, 276.4737, 0.0000, 95.6596),
]


@pytest.mark.parametrize(("measure", "method", *"abcdefg"), BCG_IV)
def test_bcg_inverse_variance_matches_metafor(measure, method, a, b, c, d, e, f, g):
    r = meta_analyse(fixture("dat_bcg.csv", measure), method=method)
    assert r.k == 13
    got = figures(r, "estimate", "ci_low", "ci_high", "statistic", "q", "tau2", "i2")
    assert got == pytest.approx((a, b, c, d, e, f, g), abs=TOL)


def test_bcg_reml_matches_metafor_rma_uni_reference():
    # docs/reference/rma.uni.html: rma(yi, vi, data=dat, method="REML"), measure "RR"
    r = meta_analyse(fixture("dat_bcg.csv", "RR"), method="REML")
    assert figures(r, "estimate", "se", "statistic", "ci_low", "ci_high") == pytest.approx(
        (-0.7145, 0.1798, -3.9744, -1.0669, -0.3622), abs=TOL
    )
    assert figures(r, "tau2", "tau", "q", "q_df") == pytest.approx(
        (0.3132, 0.5597, 152.2330, 12), abs=TOL
    )
    assert (r.i2, r.h2) == pytest.approx((92.22, 12.86), abs=PRINTED_2DP)
    assert r.i2 == pytest.approx(92.2214, abs=TOL)  # docs/reference/confint.rma.html
    # docs/reference/predict.rma.html (2 decimals): pi -1.87 to 0.44, as RR 0.15 to 1.55
    assert (r.pi_low, r.pi_high) == pytest.approx((-1.87, 0.44), abs=PRINTED_2DP)
    assert (math.exp(r.pi_low), math.exp(r.pi_high)) == pytest.approx((0.15, 1.55), abs=0.005)
    # and by hand: the PI uses z and sqrt(se² + tau²)
    half = 1.959963984540054 * math.sqrt(r.se**2 + r.tau2)
    assert r.pi_low == pytest.approx(r.estimate - half, rel=1e-12)


def test_bcg_reml_with_knapp_hartung_matches_metafor_readme():
    # metafor README.md: rma(yi, vi, data=dat, test="knha"); predict(res, transf=exp, digits=2)
    r = meta_analyse(fixture("dat_bcg.csv", "RR"), method="REML", knha=True)
    assert figures(r, "estimate", "se", "statistic", "p", "ci_low", "ci_high") == pytest.approx(
        (-0.7145, 0.1808, -3.9522, 0.0019, -1.1084, -0.3206), abs=TOL
    )
    assert r.to_dict()["distribution"] == "t(12)"
    back = [math.exp(x) for x in (r.ci_low, r.ci_high, r.pi_low, r.pi_high)]
    assert back == pytest.approx([0.33, 0.73, 0.14, 1.76], abs=PRINTED_2DP)


def test_reml_tau2_is_a_root_of_the_reml_score():
    effects = fixture("dat_bcg.csv", "RR").effects
    yi = np.array([e.yi for e in effects])
    vi = np.array([e.vi for e in effects])
    tau2 = reml_tau2(yi, vi)
    w = 1 / (vi + tau2)
    p = np.diag(w) - np.outer(w, w) / w.sum()
    score = float(yi @ p @ p @ yi - np.trace(p))
    assert abs(score) < 1e-8


# --- Mantel–Haenszel: tests/testthat/test_misc_metan_vs_rma.mh_with_dat.bcg.r -------------

BCG_MH = [
    ("RR", -0.4537, -0.5308, -0.3766, -11.5338, 152.5676),
    ("OR", -0.4734, -0.5538, -0.3930, -11.5444, 163.9426),
    ("RD", -0.0033, -0.0039, -0.0027, -11.4708, 386.7759),
]


@pytest.mark.parametrize(("measure", "est", "lo", "hi", "z", "q"), BCG_MH)
def test_bcg_mantel_haenszel_matches_metafor(measure, est, lo, hi, z, q):
    r = mantel_haenszel(fixture("dat_bcg.csv", measure))
    got = figures(r, "estimate", "ci_low", "ci_high", "statistic", "q")
    assert got == pytest.approx((est, lo, hi, z, q), abs=TOL)
    assert r.method == "MH" and r.tau2 == 0


def test_bcg_mantel_haenszel_se_and_heterogeneity_match_metafor_reference():
    # docs/reference/rma.mh.html
    r = mantel_haenszel(fixture("dat_bcg.csv", "OR"))
    assert (r.se, r.i2, r.h2) == pytest.approx((0.0410, 92.68, 13.66), abs=0.005)
    assert math.exp(r.estimate) == pytest.approx(0.6229, abs=TOL)


def hand_mh_or(tables):
    r = s = 0.0
    for a, b, c, d in tables:
        n = a + b + c + d
        r += a * d / n
        s += b * c / n
    return math.log(r / s)


def test_hahn_mantel_haenszel_with_zero_cells_matches_metafor():
    # metadat docs/reference/dat.hahn2001.html (2 decimals): rma.mh(measure="OR", …)
    effects = fixture("dat_hahn2001.csv", "OR")
    r = mantel_haenszel(effects)
    assert figures(r, "estimate", "se", "statistic", "ci_low", "ci_high") == pytest.approx(
        (-0.49, 0.14, -3.51, -0.77, -0.22), abs=PRINTED_2DP
    )
    assert (r.q, r.q_df, r.i2, r.h2) == pytest.approx((6.53, 8, 0.0, 0.82), abs=PRINTED_2DP)
    # The estimate by hand from the uncorrected tables (the MH estimate needs no correction).
    tables = [e.counts for e in effects.effects]
    assert r.estimate == pytest.approx(hand_mh_or(tables), rel=1e-12)
    # Three studies with no events in either arm are named, not pooled; one is corrected.
    assert [x.study for x in r.excluded] == ["Banhladesh 1996a", "India 1984a", "Panama 1982"]
    assert r.corrections == ("study 'USA 1982': a cell is zero: 0.5 was added to all four cells",)


def test_mantel_haenszel_refuses_a_study_with_only_a_reported_estimate():
    effects = fixture("dat_bcg.csv", "OR")
    effects.effects.append(effect_from_reported("Lee 2015", 0.5, Measure.OR, se=0.3))
    with pytest.raises(SynthesisError) as exc:
        mantel_haenszel(effects)
    assert str(exc.value) == (
        "Mantel–Haenszel needs the 2×2 table of every study; "
        "study 'Lee 2015' has only a reported estimate"
    )


# --- Continuous: tests/testthat/test_analysis_example_normand1999.r, test_misc_rma_uni.r --


def normand_md_pooled_sd() -> EffectSet:
    out = EffectSet(Measure.MD)
    with (FIXTURES / "dat_normand1999.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            n1, n2, s1, s2 = (float(row[c]) for c in ("n1i", "n2i", "sd1i", "sd2i"))
            sdp = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
            e = effect_from_means(
                row["study"], float(row["m1i"]), sdp, n1, float(row["m2i"]), sdp, n2, Measure.MD
            )
            assert isinstance(e, EffectSize)
            out.effects.append(e)
    return out


@pytest.mark.parametrize(
    ("method", "est", "lo", "hi", "tau2"),
    [
        ("FE", -3.4939, -5.0265, -1.9613, 0.0),
        ("DL", -14.0972, -24.4454, -3.7490, 218.7216),
        ("REML", -15.1217, -32.6716, 2.4282, 685.1965),
    ],
)
def test_normand_mean_difference_matches_metafor(method, est, lo, hi, tau2):
    r = meta_analyse(normand_md_pooled_sd(), method=method)
    assert figures(r, "estimate", "ci_low", "ci_high", "tau2") == pytest.approx(
        (est, lo, hi, tau2), abs=TOL
    )


def test_normand_smd_reml_tau2_matches_metafor():
    # test_misc_rma_uni.r: escalc(measure="SMD", …, subset=1:4); rma() → tau2 1.0090
    effects = fixture("dat_normand1999.csv", "SMD")
    subset = EffectSet(Measure.SMD, effects.effects[:4])
    assert meta_analyse(subset, method="REML").tau2 == pytest.approx(1.0090, abs=TOL)


# --- statsmodels and hand computation -----------------------------------------------------


def test_fixed_effect_and_dl_agree_with_statsmodels():
    effects = fixture("dat_normand1999.csv", "SMD")
    yi = np.array([e.yi for e in effects.effects])
    vi = np.array([e.vi for e in effects.effects])
    sm = combine_effects(yi, vi, method_re="dl")
    fe = meta_analyse(effects, method="FE")
    dl = meta_analyse(effects, method="DL")
    assert (fe.estimate, fe.se, fe.q) == pytest.approx(
        (sm.mean_effect_fe, sm.sd_eff_w_fe, sm.q), rel=1e-12
    )
    assert (dl.estimate, dl.se, dl.tau2) == pytest.approx(
        (sm.mean_effect_re, sm.sd_eff_w_re, sm.tau2), rel=1e-12
    )
    knha = meta_analyse(effects, method="DL", knha=True)
    assert knha.se == pytest.approx(math.sqrt(sm.var_hksj_re), rel=1e-12)


def three_studies(yi, vi) -> EffectSet:
    out = EffectSet(Measure.MD)
    for i, (y, v) in enumerate(zip(yi, vi, strict=True)):
        out.effects.append(effect_from_reported(f"s{i}", y, Measure.MD, se=math.sqrt(v)))
    return out


def test_dersimonian_laird_by_hand():
    yi, vi = [1.0, 2.0, 4.0], [0.5, 0.25, 1.0]
    w = [1 / v for v in vi]
    mu_fe = sum(a * b for a, b in zip(w, yi, strict=True)) / sum(w)  # (2 + 8 + 4) / 7 = 2
    q = sum(a * (y - mu_fe) ** 2 for a, y in zip(w, yi, strict=True))  # 2 + 0 + 4 = 6
    c = sum(w) - sum(a**2 for a in w) / sum(w)  # 7 - 21/7 = 4
    tau2 = (q - 2) / c  # 1
    w_re = [1 / (v + tau2) for v in vi]
    mu = sum(a * b for a, b in zip(w_re, yi, strict=True)) / sum(w_re)
    r = meta_analyse(three_studies(yi, vi), method="DL")
    assert (mu_fe, q, c, tau2) == (2.0, 6.0, 4.0, 1.0)
    assert (r.q, r.tau2, r.estimate) == pytest.approx((6.0, 1.0, mu), rel=1e-12)
    assert r.se == pytest.approx(1 / math.sqrt(sum(w_re)), rel=1e-12)
    assert r.i2 == pytest.approx(100 * (6 - 2) / 6, rel=1e-12)  # DL: I² = (Q - df) / Q
    assert r.weights == pytest.approx(tuple(100 * a / sum(w_re) for a in w_re), rel=1e-12)


def test_dl_tau2_is_truncated_at_zero_and_then_equals_fixed_effect():
    effects = three_studies([1.0, 1.1, 0.9], [0.5, 0.5, 0.5])  # Q far below its df
    sm = combine_effects(np.array([1.0, 1.1, 0.9]), np.array([0.5, 0.5, 0.5]), method_re="dl")
    assert sm.tau2 < 0  # statsmodels leaves it negative
    dl, fe = meta_analyse(effects, method="DL"), meta_analyse(effects, method="FE")
    assert dl.tau2 == 0 and (dl.estimate, dl.se) == (fe.estimate, fe.se)
    assert (dl.i2, dl.h2) == (0, 1)


def test_knapp_hartung_needs_two_studies():
    with pytest.raises(SynthesisError) as exc:
        meta_analyse(three_studies([1.0], [0.5]), method="REML", knha=True)
    assert str(exc.value) == "the Hartung–Knapp adjustment needs at least 2 studies"


def test_no_study_to_pool_says_why():
    effects = compute_effects([("Panama 1982", {"ai": 0, "bi": 33, "ci": 0, "di": 30})], "OR")
    with pytest.raises(SynthesisError) as exc:
        meta_analyse(effects, method="FE")
    assert str(exc.value).startswith("no study has an effect to pool: study 'Panama 1982': no")


def test_subgroups_are_pooled_apart_and_tested_for_differences():
    effects = fixture("dat_bcg.csv", "RR")
    sub = subgroup_analysis(effects, method="REML")
    assert list(sub.groups) == ["random", "alternate", "systematic"]
    for name, g in sub.groups.items():
        alone = EffectSet(Measure.RR, [e for e in effects.effects if e.subgroup == name])
        assert g.estimate == pytest.approx(meta_analyse(alone, method="REML").estimate, rel=1e-12)
    mus = np.array([g.estimate for g in sub.groups.values()])
    ws = np.array([1 / g.se**2 for g in sub.groups.values()])
    mean = (ws * mus).sum() / ws.sum()
    assert sub.q_between == pytest.approx(float((ws * (mus - mean) ** 2).sum()), rel=1e-12)
    assert sub.df_between == 2
    assert sub.overall is not None and sub.overall.estimate == pytest.approx(-0.7145, abs=TOL)
