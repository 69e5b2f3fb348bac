"""Effect sizes against metafor's ``escalc`` (published values) and against the formulas.

Pure: no database. Expected values name their source; metafor's are from metafor 5.1-12
(see ``fixtures/synthesis/README.md``).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import gamma
from statsmodels.stats.meta_analysis import effectsize_2proportions

from extraction.synthesis import (
    Exclusion,
    Measure,
    SynthesisError,
    compute_effects,
    effect_from_counts,
    effect_from_means,
    effect_from_reported,
)
from extraction.synthesis.effects import hedges_correction, missing_inputs

FIXTURES = Path(__file__).parent / "fixtures" / "synthesis"
TOL = 1e-4


def load(name: str) -> list[dict[str, str]]:
    with (FIXTURES / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def bcg_rows():
    return [
        (r["study"], {c: float(r[c]) for c in ("ai", "bi", "ci", "di")})
        for r in load("dat_bcg.csv")
    ]


def test_bcg_log_risk_ratios_match_metafor_escalc():
    # metafor README.md: escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    yi = [
        -0.8893,
        -1.5854,
        -1.3481,
        -1.4416,
        -0.2175,
        -0.7861,
        -1.6209,
        0.0120,
        -0.4694,
        -1.3713,
        -0.3394,
        0.4459,
        -0.0173,
    ]
    vi = [
        0.3256,
        0.1946,
        0.4154,
        0.0200,
        0.0512,
        0.0069,
        0.2230,
        0.0040,
        0.0564,
        0.0730,
        0.0124,
        0.5325,
        0.0714,
    ]
    effects = compute_effects(bcg_rows(), "RR")
    assert [e.yi for e in effects.effects] == pytest.approx(yi, abs=TOL / 2 + 1e-9)
    assert [e.vi for e in effects.effects] == pytest.approx(vi, abs=TOL / 2 + 1e-9)
    assert not effects.excluded and not effects.corrections


@pytest.mark.parametrize(
    ("measure", "statistic"), [("OR", "odds-ratio"), ("RR", "risk-ratio"), ("RD", "diff")]
)
@pytest.mark.parametrize(
    ("table", "zero"),
    [
        ((4, 119, 11, 128), False),
        ((62, 13536, 248, 12619), False),
        ((0, 20, 3, 17), True),
        ((5, 0, 7, 2), True),
    ],
)
def test_binary_effects_agree_with_statsmodels(measure, statistic, table, zero):
    # statsmodels adds a float zero_correction to the events of *every* study (and to the
    # totals only where a cell is zero), so it is asked for the correction on zero tables only.
    ai, bi, ci, di = (np.array([float(x)]) for x in table)
    eff, var = effectsize_2proportions(
        ai, ai + bi, ci, ci + di, statistic, zero_correction=0.5 if zero else None
    )
    ours = effect_from_counts("s", *table, Measure(measure))
    assert not isinstance(ours, Exclusion)
    assert (ours.yi, ours.vi) == (
        pytest.approx(eff[0], rel=1e-12),
        pytest.approx(var[0], rel=1e-12),
    )
    assert ours.corrected is zero


def test_a_zero_cell_adds_half_to_all_four_cells_and_says_so():
    e = effect_from_counts("Smith 2010", 0, 20, 3, 17, Measure.OR)
    assert e.yi == pytest.approx(math.log((0.5 * 17.5) / (20.5 * 3.5)))
    assert e.vi == pytest.approx(1 / 0.5 + 1 / 20.5 + 1 / 3.5 + 1 / 17.5)
    assert e.corrected
    assert e.note == "a cell is zero: 0.5 was added to all four cells"
    assert e.counts == (0, 20, 3, 17)


@pytest.mark.parametrize("measure", ["OR", "RR"])
def test_no_events_in_either_arm_excludes_the_study_for_ratios(measure):
    out = effect_from_counts("Panama 1982", 0, 33, 0, 30, Measure(measure))
    assert isinstance(out, Exclusion)
    label = "odds ratio" if measure == "OR" else "risk ratio"
    assert str(out) == (
        f"study 'Panama 1982': no events in either arm: the {label} is not estimable "
        "(excluded, as RevMan and metafor's drop00=TRUE do)"
    )


def test_no_events_in_either_arm_keeps_the_study_for_a_risk_difference():
    e = effect_from_counts("Panama 1982", 0, 33, 0, 30, Measure.RD)
    assert not isinstance(e, Exclusion)
    assert e.yi == pytest.approx(0.5 / 34 - 0.5 / 31)  # corrected, as escalc's to="only0"
    assert e.corrected


def test_normand_mean_differences_match_metafor():
    # metafor tests/testthat/test_analysis_example_normand1999.r (MD on the pooled SD)
    effects = []
    for r in load("dat_normand1999.csv"):
        n1, n2, s1, s2 = (float(r[c]) for c in ("n1i", "n2i", "sd1i", "sd2i"))
        sdp = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
        effects.append(
            effect_from_means(
                r["study"], float(r["m1i"]), sdp, n1, float(r["m2i"]), sdp, n2, Measure.MD
            )
        )
    assert [e.yi for e in effects] == [-20, -2, -55, -71, -4, 1, 11, -10, 7]
    assert [e.vi for e in effects] == pytest.approx(
        [40.5863, 2.0468, 15.2809, 150.2222, 20.1923, 1.2235, 95.3756, 8.0321, 20.6936], abs=TOL
    )
    assert [e.ci_low for e in effects] == pytest.approx(
        [-32.4864, -4.8041, -62.6616, -95.0223, -12.8073, -1.168, -8.1411, -15.5547, -1.9159],
        abs=TOL,
    )
    assert [e.ci_high for e in effects] == pytest.approx(
        [-7.5136, 0.8041, -47.3384, -46.9777, 4.8073, 3.168, 30.1411, -4.4453, 15.9159], abs=TOL
    )


def test_hedges_g_uses_the_exact_gamma_correction_as_metafor():
    # Edinburgh, dat.normand1999: computed here from the formulas with scipy's gamma.
    n1, m1, s1, n2, m2, s2 = 155, 55, 47, 156, 75, 64
    m = n1 + n2 - 2
    sdp = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / m)
    c = gamma(m / 2) / (math.sqrt(m / 2) * gamma((m - 1) / 2))
    g = c * (m1 - m2) / sdp
    e = effect_from_means("Edinburgh", m1, s1, n1, m2, s2, n2, Measure.SMD)
    assert e.yi == pytest.approx(g, rel=1e-12)
    assert e.vi == pytest.approx(1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2)), rel=1e-12)
    # The exact correction, not the 1 - 3/(4m - 1) approximation (0.8696 for m = 6).
    assert hedges_correction(6) == pytest.approx(2 / (math.sqrt(3) * gamma(2.5)), rel=1e-12)
    assert hedges_correction(6) == pytest.approx(0.8686, abs=TOL)


def test_a_reported_ratio_with_its_ci_becomes_a_log_ratio_with_its_se():
    e = effect_from_reported("Lee 2015", 0.5, Measure.OR, ci_low=0.25, ci_high=1.0)
    assert e.yi == pytest.approx(math.log(0.5))
    assert e.se == pytest.approx((math.log(1.0) - math.log(0.25)) / (2 * 1.959963984540054))
    assert e.note == "from the reported estimate and 95% CI"
    e = effect_from_reported("Lee 2015", -3.2, Measure.MD, se=1.1)
    assert (e.yi, e.vi) == (-3.2, pytest.approx(1.21))


def test_a_reported_estimate_outside_its_ci_is_refused():
    with pytest.raises(SynthesisError) as exc:
        effect_from_reported("Lee 2015", 1.5, Measure.RR, ci_low=0.2, ci_high=0.9)
    assert str(exc.value) == "study 'Lee 2015': the estimate 1.5 is outside its CI (0.2 to 0.9)"


def test_a_study_with_missing_inputs_is_excluded_and_names_them():
    rows = [
        ("Smith 2010", {"m1i": 5, "sd1i": 1, "n1i": 10, "m2i": 4, "sd2i": None, "n2i": 12}),
        ("Jones 2011", {"m1i": 5, "sd1i": 1, "n1i": 10, "m2i": 4, "sd2i": 2, "n2i": 12}),
        ("Ng 2012", {"estimate": 0.3, "ci_low": None, "ci_high": None, "se": None}),
    ]
    out = compute_effects(rows, "SMD")
    assert [e.study for e in out.effects] == ["Jones 2011"]
    assert [str(x) for x in out.excluded] == [
        "study 'Smith 2010': sd2i missing",
        "study 'Ng 2012': ci_low and ci_high, or se missing",
    ]


def test_missing_inputs_name_the_raw_data_when_nothing_is_reported():
    assert missing_inputs({"ai": 3, "ci": 4}, Measure.OR) == ["bi", "di"]
    assert missing_inputs({"ai": 3, "bi": 4, "ci": 4, "di": 5}, Measure.OR) == []
    assert missing_inputs({}, Measure.MD) == ["m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"]


def test_a_negative_count_is_refused():
    with pytest.raises(SynthesisError) as exc:
        effect_from_counts("Smith 2010", -1, 10, 2, 10, Measure.RR)
    assert str(exc.value) == "study 'Smith 2010': ai is negative (-1)"
