"""The pure prioritisation package: ranking, stopping rules, recall curve, simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from screening.prioritisation import curve, features, model, simulate, stopping

RELEVANT = [
    "Mesenchymal stem cells lower HbA1c in type 2 diabetes: a randomised trial",
    "Umbilical cord mesenchymal stromal cell infusion for diabetes mellitus",
    "Stem cell therapy improves insulin secretion in type 2 diabetes patients",
    "Bone marrow mesenchymal stem cells in diabetic patients: randomised controlled trial",
    "Allogeneic mesenchymal stem cells for type 1 diabetes, a pilot trial",
    "Mesenchymal stem cell transplantation and glycaemic control in diabetes",
]
IRRELEVANT = [
    "Coffee consumption and the risk of hip fracture in older women",
    "Traffic noise and sleep quality in urban neighbourhoods",
    "A survey of teachers' attitudes to homework in secondary schools",
    "Soil microbiome changes after wildfire in boreal forests",
    "Machine translation of legal documents: an evaluation",
    "Marathon running and knee cartilage thickness",
    "Housing prices and school catchment areas",
    "Antibiotic prescribing for sore throat in primary care",
    "Bird migration timing under a warming climate",
    "Smartphone use while driving: an observational study",
    "Dietary salt and blood pressure in adolescents",
    "The history of the printing press in Venice",
]


def toy_set() -> tuple[np.ndarray, np.ndarray]:
    texts = RELEVANT + IRRELEVANT
    labels = np.array([1] * len(RELEVANT) + [0] * len(IRRELEVANT), dtype=np.int8)
    return features.build_matrix([features.record_text(t, "") for t in texts]), labels


@pytest.mark.parametrize("name", model.MODEL_NAMES)
def test_ranking_puts_the_relevant_records_first_on_a_toy_set(name):
    matrix, labels = toy_set()
    labelled = np.array([0, len(RELEVANT)])  # one include, one exclude
    ranking = model.score_records(matrix, labelled, labels[labelled], model=name)
    unlabelled = np.setdiff1d(np.arange(labels.size), labelled)
    order = model.rank_unlabelled(ranking.scores, unlabelled)
    assert set(order[: len(RELEVANT) - 1]) == set(range(1, len(RELEVANT)))
    assert ranking.n_included == 1 and ranking.n_excluded == 1


def test_model_refuses_to_start_without_an_include_and_an_exclude():
    matrix, labels = toy_set()
    with pytest.raises(model.NotTrainable) as err:
        model.score_records(matrix, np.array([0, 1]), np.array([1, 1]))
    assert str(err.value) == (
        "Prioritisation starts after at least one include and one exclude (so far: 2 "
        "included, 0 excluded); until then the order stays random."
    )


def test_class_weights_give_the_relevant_rows_ratio_times_the_weight():
    labels = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    w = model.class_weights(labels, ratio=20)
    assert w[labels == 1].sum() == pytest.approx(20 * w[labels == 0].sum())
    assert w.sum() == pytest.approx(labels.size)


def test_fingerprint_changes_when_a_record_leaves_the_set():
    assert features.fingerprint([3, 1, 2]) == features.fingerprint([1, 2, 3])
    assert features.fingerprint([1, 2, 3]) != features.fingerprint([1, 2])


def test_fingerprint_changes_with_the_features(monkeypatch):
    before = features.fingerprint([1, 2, 3])
    monkeypatch.setattr(features, "FEATURES_VERSION", features.FEATURES_VERSION + 1)
    assert features.fingerprint([1, 2, 3]) != before  # a cached matrix is rebuilt


def test_word_forms_share_character_features():
    # "osteoarthritis" and "osteoarthritic knees" share no word, only character 4-grams:
    # the matrix still places them nearer each other than to an unrelated record.
    texts = [
        "Intra-articular stromal cells for osteoarthritis",
        "Injections in osteoarthritic knees",
        "Traffic noise and sleep quality",
    ]
    matrix = features.build_matrix(texts)
    sims = (matrix @ matrix.T).toarray()
    assert sims[0, 1] > 0.1 and sims[0, 2] == pytest.approx(0.0, abs=1e-6)
    assert np.allclose(np.sqrt(matrix.multiply(matrix).sum(axis=1)), 1.0, atol=1e-5)


def test_rare_character_features_are_dropped_in_a_larger_review():
    # A 4-gram in fewer than CHAR_MIN_DF records says nothing the words do not say already.
    texts = [f"common words here number {i}" for i in range(30)] + ["zyxwvut"]
    matrix = features.build_matrix(texts)
    # the odd record keeps its word feature, but none of its character 4-grams
    assert np.count_nonzero(matrix[30].toarray()) == 1


def _reference_p(labels: list[int], n_total: int, target: float) -> float:
    """The hypergeometric test computed by hand with binomial coefficients."""
    r_seen, n_seen = sum(labels), len(labels)
    best = 1.0
    for k in range(1, n_seen + 1):
        sample = labels[n_seen - k :]
        k_rel = sum(sample)
        big_k = math.floor(r_seen / target - (r_seen - k_rel)) + 1
        pop = n_total - (n_seen - k)
        if big_k > pop:
            return 0.0
        p = sum(
            math.comb(big_k, i) * math.comb(pop - big_k, k - i) for i in range(k_rel + 1)
        ) / math.comb(pop, k)
        best = min(best, p)
    return best


def test_hypergeometric_test_matches_a_hand_computed_example():
    # 1,000 records; 20 relevant found among the first 100, then 800 irrelevant more.
    labels = [1] * 20 + [0] * 80 + [0] * 800
    p = stopping.hypergeometric_p(labels, 1000, 0.95)
    # Smallest p is the sample of the last 880 records (all irrelevant): under "recall
    # < 95 %", K = floor(20/0.95 − 20) + 1 = 2 relevant records hide among those 880 and
    # the 100 unscreened; the chance of drawing none of them in 880 of 980 is
    # (100 · 99) / (980 · 979).
    assert p == pytest.approx(100 * 99 / (980 * 979), rel=1e-9)
    assert p == pytest.approx(_reference_p(labels, 1000, 0.95), rel=1e-9)
    rule = stopping.hypergeometric_rule(labels, 1000)
    assert rule.stop and rule.kind == stopping.GUARANTEE


def test_hypergeometric_test_keeps_screening_when_the_evidence_is_thin():
    labels = [1] * 20 + [0] * 580  # 400 of 1,000 still unscreened
    p = stopping.hypergeometric_p(labels, 1000, 0.95)
    assert p == pytest.approx(_reference_p(labels, 1000, 0.95), rel=1e-9)
    assert p > 0.05
    rule = stopping.hypergeometric_rule(labels, 1000)
    assert not rule.stop
    assert rule.summary.startswith("Keep screening: recall ≥ 95% is not yet shown")


@pytest.mark.parametrize("seed", range(5))
def test_hypergeometric_p_equals_the_reference_on_random_sequences(seed):
    rng = np.random.default_rng(seed)
    labels = [int(x) for x in rng.random(60) < 0.15]
    assert stopping.hypergeometric_p(labels, 90, 0.9) == pytest.approx(
        _reference_p(labels, 90, 0.9), rel=1e-7, abs=1e-12
    )


def test_recall_lower_bound_is_the_highest_target_the_test_accepts():
    labels = [1] * 20 + [0] * 880
    bound = stopping.recall_lower_bound(labels, 1000)
    assert stopping.hypergeometric_p(labels, 1000, bound) < 0.05
    assert stopping.hypergeometric_p(labels, 1000, bound + 0.01) >= 0.05
    assert stopping.recall_lower_bound([], 1000) == 0.0


def test_consecutive_rule_counts_the_run_since_the_last_include():
    labels = [1, 0, 1] + [0] * 60
    assert stopping.consecutive_irrelevant(labels) == 60
    rule = stopping.consecutive_rule(labels, 200)  # threshold max(50, 5 % of 200) = 50
    assert rule.stop and rule.kind == stopping.HEURISTIC
    assert rule.summary == "60 records screened since the last include (rule: 50)."
    assert not stopping.consecutive_rule([0] * 100, 200).stop  # nothing found yet


def test_knee_rule_stops_on_a_flat_curve_after_a_steep_start():
    steep_then_flat = [1] * 10 + [0] * 5 + [1] * 2 + [0] * 400
    rule = stopping.knee_rule(steep_then_flat)
    assert rule.kind == stopping.HEURISTIC
    assert rule.details["knee"] == 17
    assert rule.stop  # ratio far above 156 − 12 = 144
    still_finding = [1, 0] * 100
    assert not stopping.knee_rule(still_finding).stop
    assert not stopping.knee_rule([1] * 5 + [0] * 50).stop  # fewer than 150 screened


def test_every_rule_is_labelled_guarantee_or_heuristic():
    rules = stopping.all_rules([1, 0, 0], 10)
    assert [(r.key, r.kind) for r in rules] == [
        ("hypergeometric", "guarantee"),
        ("consecutive", "heuristic"),
        ("knee", "heuristic"),
    ]


def test_recall_curve_wss_and_rrf():
    labels = [1, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    assert curve.recall_curve(labels) == [(0, 0)] + [
        (i + 1, v) for i, v in enumerate([1, 2, 2, 3, 3, 3, 3, 3, 3, 3])
    ]
    assert curve.screened_to_recall(labels, 0.95) == 4
    assert curve.wss(labels, 0.95) == pytest.approx((10 - 4) / 10 - 0.05)
    assert curve.rrf(labels, 10) == pytest.approx(1 / 3)
    assert len(curve.recall_curve([0] * 1000, max_points=50)) <= 52


def test_simulation_finds_the_relevant_records_before_the_rest():
    matrix, labels = toy_set()
    priors = simulate.pick_priors(labels, seed=3)
    assert labels[priors].tolist() == [1, 0]
    run = simulate.simulate(matrix, labels, priors=priors, retrain_every=1)
    assert sorted(run.order.tolist()) == list(range(labels.size))
    assert run.labels_in_order[: len(RELEVANT) + 1].sum() == len(RELEVANT)
    assert curve.wss(run.labels_in_order) > 0.4
