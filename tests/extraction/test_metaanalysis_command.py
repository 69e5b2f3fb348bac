"""``manage.py metaanalysis``: the JSON and text it prints, the plots it writes, the errors.

No database: the command reads a CSV and calls the pure synthesis core.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import defusedxml.ElementTree as ET
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

FIXTURES = Path(__file__).parent / "fixtures" / "synthesis"
REPO = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
TOL = 1e-4


def run(*args: str) -> str:
    out = StringIO()
    call_command("metaanalysis", *args, stdout=out)
    return out.getvalue()


def error(*args: str) -> str:
    with pytest.raises(CommandError) as exc:
        run(*args)
    return str(exc.value)


def write(tmp_path: Path, text: str, name: str = "data.csv", encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_json_has_the_contract_keys_on_the_log_scale():
    out = json.loads(
        run(
            str(FIXTURES / "dat_bcg.csv"), "--measure", "RR", "--method", "REML", "--format", "json"
        )
    )
    for key in ("k", "estimate", "se", "ci_low", "ci_high", "tau2", "i2", "q"):
        assert key in out
    assert out["k"] == 13
    got = [out[k] for k in ("estimate", "se", "ci_low", "ci_high", "tau2", "i2", "q")]
    assert got == pytest.approx(
        [-0.7145, 0.1798, -1.0669, -0.3622, 0.3132, 92.2214, 152.2330], abs=TOL
    )
    assert (out["method"], out["measure"], out["scale"]) == ("REML", "RR", "log")
    assert out["estimate_exp"] == pytest.approx(math.exp(out["estimate"]))
    assert out["pi_low"] < out["ci_low"] and out["excluded"] == [] and out["corrections"] == []
    assert sum(out["weights"].values()) == pytest.approx(100)
    assert out["test_for_subgroup_differences"]["df"] == 2  # the fixture's subgroup column


def test_text_shows_the_ratio_back_transformed():
    out = run(str(FIXTURES / "dat_bcg.csv"), "--measure", "RR", "--method", "DL")
    assert "Meta-analysis of the risk ratio (RR): random effects, DerSimonian–Laird" in out
    assert "estimate (log scale) = -0.7141  se = 0.1787  95% CI -1.0644 to -0.3638" in out
    # metafor: predict(rma(yi, vi, method="DL"), transf=exp) → 0.4896 (0.3449, 0.6950)
    assert "RR = 0.4896  95% CI 0.3449 to 0.6950" in out
    assert "tau² = 0.3088" in out


def test_mantel_haenszel_lists_excluded_and_corrected_studies():
    out = json.loads(
        run(
            str(FIXTURES / "dat_hahn2001.csv"),
            "--measure",
            "OR",
            "--method",
            "FE",
            "--mh",
            "--format",
            "json",
        )
    )
    assert out["method"] == "MH" and out["k"] == 9
    assert out["estimate"] == pytest.approx(-0.49, abs=0.005)
    assert [x["study"] for x in out["excluded"]] == [
        "Banhladesh 1996a",
        "India 1984a",
        "Panama 1982",
    ]
    assert out["corrections"] == [
        "study 'USA 1982': a cell is zero: 0.5 was added to all four cells"
    ]


def test_knha_uses_t_with_k_minus_1_df():
    out = json.loads(
        run(
            str(FIXTURES / "dat_bcg.csv"),
            "--measure",
            "RR",
            "--method",
            "REML",
            "--knha",
            "--format",
            "json",
        )
    )
    assert (out["se"], out["ci_low"], out["ci_high"]) == pytest.approx(
        (0.1808, -1.1084, -0.3206), abs=TOL
    )
    assert out["distribution"] == "t(12)"


def test_continuous_smd_from_the_six_columns():
    out = json.loads(
        run(
            str(FIXTURES / "dat_normand1999.csv"),
            "--measure",
            "SMD",
            "--method",
            "FE",
            "--format",
            "json",
        )
    )
    assert out["k"] == 9 and out["scale"] == "raw"


def test_forest_and_funnel_are_written_as_safe_svg(tmp_path):
    rows = (FIXTURES / "dat_bcg.csv").read_text(encoding="utf-8").splitlines()
    rows[1] = rows[1].replace("Aronson 1948", '"<script>alert(1)</script> & ""Aronson"""')
    path = write(tmp_path, "\n".join(rows) + "\n")
    forest, funnel = tmp_path / "forest.svg", tmp_path / "funnel.svg"
    run(path, "--measure", "OR", "--method", "DL", "--forest", str(forest), "--funnel", str(funnel))
    text = forest.read_text(encoding="utf-8")
    assert "<script" not in text and "onload" not in text and "style=" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Aronson&quot;" in text
    root = ET.fromstring(text)  # well-formed XML
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert '<script>alert(1)</script> & "Aronson"' in texts
    assert "Weight" in texts and "Total (95% CI)" in texts
    assert sum(1 for t in texts if t.startswith("Subtotal")) == 3
    assert any(t.startswith("Test for subgroup differences: Q = ") for t in texts)
    assert any(t.startswith("Heterogeneity: τ² = 0.37; Q = 163.16, df = 12") for t in texts)
    assert len(list(root.iter(f"{SVG}polygon"))) == 4  # three subgroup diamonds and the total
    assert len(list(root.iter(f"{SVG}rect"))) == 1 + 13  # background and one square per study
    funnel_root = ET.fromstring(funnel.read_text(encoding="utf-8"))
    assert len(list(funnel_root.iter(f"{SVG}circle"))) == 13


def test_forest_squares_grow_with_the_weight(tmp_path):
    forest = tmp_path / "forest.svg"
    run(
        str(FIXTURES / "dat_normand1999.csv"),
        "--measure",
        "MD",
        "--method",
        "FE",
        "--forest",
        str(forest),
    )
    root = ET.fromstring(forest.read_text(encoding="utf-8"))
    sides = [float(r.get("width", 0)) for r in list(root.iter(f"{SVG}rect"))[1:]]
    out = json.loads(
        run(
            str(FIXTURES / "dat_normand1999.csv"),
            "--measure",
            "MD",
            "--method",
            "FE",
            "--format",
            "json",
        )
    )
    weights = list(out["weights"].values())
    assert sides.index(max(sides)) == weights.index(max(weights))
    assert sides.index(min(sides)) == weights.index(min(weights))


def test_funnel_is_refused_below_ten_studies(tmp_path):
    message = error(
        str(FIXTURES / "dat_normand1999.csv"),
        "--measure",
        "MD",
        "--method",
        "FE",
        "--funnel",
        str(tmp_path / "f.svg"),
    )
    assert message == (
        "a funnel plot needs at least 10 studies; this analysis has 9 (with fewer, asymmetry "
        "cannot be told from chance)"
    )
    assert not (tmp_path / "f.svg").exists()


def test_excel_utf8_with_bom_and_semicolons_is_read(tmp_path):
    text = "\ufeffStudy;AI;BI;CI;DI\nMüller 2001;4;119;11;128\nØstergaard;6;300;29;274\n"
    out = json.loads(
        run(write(tmp_path, text), "--measure", "OR", "--method", "FE", "--format", "json")
    )
    assert out["k"] == 2 and list(out["weights"]) == ["Müller 2001", "Østergaard"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "study,ai,bi,di\nA,1,2,3\n",
            " line 1: --measure OR needs the columns study,ai,bi,ci,di "
            "(or study,ai,n1i,ci,n2i); missing: ci",
        ),
        (
            "study,ai,bi,ci,di\nA,1,2,3,4\nB,1,2,abc,4\n",
            " line 3: column 'ci': 'abc' is not a number",
        ),
        ("study,ai,bi,ci,di\nA,1,-2,3,4\n", " line 2: column 'bi': -2 is negative (a count)"),
        (
            "study,ai,n1i,ci,n2i\nA,12,10,3,4\n",
            " line 2: column 'ai': 12 events is more than n1i (10 participants)",
        ),
        (
            "study,ai,bi,ci,di\nA,1,2,3,4\nA,1,2,3,4\n",
            " line 3: study 'A' appears twice (also on line 2)",
        ),
        ("study,ai,bi,ci,di\n,1,2,3,4\n", " line 2: column 'study' is empty"),
        ("ai,bi,ci,di\n1,2,3,4\n", " line 1: no 'study' column (found: ai, bi, ci, di)"),
        ("study,ai,bi,ci,di\n", ": no studies (the file has a header only)"),
    ],
)
def test_bad_input_names_the_file_line_and_column(tmp_path, text, message):
    path = write(tmp_path, text)
    assert error(path, "--measure", "OR", "--method", "FE") == path + message


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = write(tmp_path, "study,ai,bi,ci,di\nMüller,1,2,3,4\n", encoding="latin-1")
    assert error(path, "--measure", "OR", "--method", "FE") == (
        f"{path} line 2: not UTF-8 text (byte 0xfc); save the file as CSV UTF-8"
    )


def test_a_study_with_missing_values_is_reported_not_pooled(tmp_path):
    path = write(
        tmp_path,
        "study,m1i,sd1i,n1i,m2i,sd2i,n2i\nA,5,1,10,4,2,12\nB,5,1,10,4,2,12\n"
        "Smith 2010,5,1,10,4,,12\n",
    )
    out = run(path, "--measure", "MD", "--method", "REML")
    assert "not pooled:\n  study 'Smith 2010': sd2i missing" in out
    assert "k = 2 studies" in out


def test_the_command_runs_as_a_process(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reviewflow.settings",
        "REVIEWFLOW_DATA_DIR": str(tmp_path),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    args = [
        sys.executable,
        "manage.py",
        "metaanalysis",
        str(FIXTURES / "dat_bcg.csv"),
        "--measure",
        "RR",
        "--method",
        "REML",
        "--format",
        "json",
    ]
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tau2"] == pytest.approx(0.3132, abs=TOL)
    bad = write(tmp_path, "study,ai,bi,ci,di\nA,1,2,x,4\n")
    args[3] = bad
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert f"{bad} line 2: column 'ci': 'x' is not a number" in done.stderr


def test_reported_estimates_are_pooled_with_raw_data(tmp_path):
    text = (
        "study,ai,bi,ci,di,estimate,ci_low,ci_high,se\n"
        "Aronson 1948,4,119,11,128,,,,\n"
        "Lee 2015,,,,,0.5,0.25,1.0,\n"
        "Kim 2016,,,,,0.8,,,0.2\n"
    )
    out = json.loads(run(write(tmp_path, text), "--measure", "OR", "--method", "FE",
                         "--format", "json"))  # fmt: skip
    assert out["k"] == 3
    lee = next(s for s in out["studies"] if s["study"] == "Lee 2015")
    assert lee["yi"] == pytest.approx(math.log(0.5))
    assert lee["note"] == "from the reported estimate and 95% CI"


def test_mh_is_refused_for_means_and_with_knha():
    path = str(FIXTURES / "dat_bcg.csv")
    assert error(path, "--measure", "OR", "--mh", "--knha") == (
        "--knha adjusts inverse-variance models; it does not apply to --mh"
    )
    assert error(str(FIXTURES / "dat_normand1999.csv"), "--measure", "MD", "--mh") == (
        "--mh pools OR, RR or RD, not MD"
    )


def test_forest_cuts_a_very_wide_ci_with_an_arrowhead(tmp_path):
    text = "study,ai,bi,ci,di\nA,40,60,50,50\nB,45,55,50,50\nC,1,1,1,1\n"
    forest = tmp_path / "forest.svg"
    run(write(tmp_path, text), "--measure", "OR", "--method", "FE", "--forest", str(forest))
    root = ET.fromstring(forest.read_text(encoding="utf-8"))
    # the diamond and the two arrowheads of study C's CI (log OR 0 ± 3.9, the others ± 0.6)
    assert len(list(root.iter(f"{SVG}polygon"))) == 3


def test_the_same_analysis_gives_the_same_svg_bytes(tmp_path):
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    for target in (a, b):
        run(str(FIXTURES / "dat_bcg.csv"), "--measure", "RR", "--forest", str(target))
    assert a.read_bytes() == b.read_bytes()


def test_control_characters_in_a_label_are_dropped_not_written(tmp_path):
    forest = tmp_path / "forest.svg"
    path = write(tmp_path, "study,ai,bi,ci,di\nA\x01\x1bB,4,119,11,128\nC,6,300,29,274\n")
    run(path, "--measure", "OR", "--method", "FE", "--forest", str(forest))
    texts = ["".join(t.itertext()) for t in ET.fromstring(forest.read_text()).iter(f"{SVG}text")]
    assert "AB" in texts
