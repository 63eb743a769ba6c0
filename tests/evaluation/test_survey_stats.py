"""Survey statistics against values computed by hand (and Krippendorff's published example)."""

from __future__ import annotations

import math

import pytest

from evaluation.survey.stats import (
    binomial_p_value,
    group_summary,
    krippendorff_alpha,
    mean_ci,
    proportion,
    summarise,
    wilson_interval,
)


def test_the_mean_has_a_student_t_interval():
    # mean 3, sd sqrt(2.5), se sqrt(0.5); t(0.975, 4) = 2.776445
    got = mean_ci([1, 2, 3, 4, 5])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert got["n"] == 5 and got["mean"] == 3.0
    assert got["sd"] == pytest.approx(math.sqrt(2.5))
    assert got["low"] == pytest.approx(3 - half) and got["high"] == pytest.approx(3 + half)
    assert got["low"] == pytest.approx(1.03676, abs=1e-5)


def test_a_mean_of_one_value_has_no_interval_and_of_none_no_mean():
    assert mean_ci([4]) == {"n": 1, "mean": 4.0, "sd": None, "low": None, "high": None}
    assert mean_ci([])["mean"] is None


def test_the_wilson_interval_of_8_in_10():
    # z = 1.959964; centre (0.8 + z²/20) / (1 + z²/10); half z·sqrt(0.016 + z²/400) / (1 + z²/10)
    z = 1.959963984540054
    denom = 1 + z * z / 10
    centre = (0.8 + z * z / 20) / denom
    half = z * math.sqrt(0.8 * 0.2 / 10 + z * z / 400) / denom
    low, high = wilson_interval(8, 10)
    assert (low, high) == (pytest.approx(centre - half), pytest.approx(centre + half))
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)


def test_the_wilson_interval_stays_inside_0_and_1():
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(6, 5)


def test_the_exact_binomial_test_against_chance():
    # P(X >= 8 | n=10, p=1/2) = (45 + 10 + 1) / 1024; two-sided doubles it (symmetric)
    assert binomial_p_value(8, 10) == pytest.approx(112 / 1024)
    assert binomial_p_value(5, 10) == pytest.approx(1.0)
    assert binomial_p_value(10, 10) == pytest.approx(2 / 1024)
    assert proportion(8, 10)["rate"] == 0.8 and proportion(0, 0)["p_value"] is None


def test_krippendorffs_alpha_matches_his_published_example():
    """Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers, 12
    units, missing values: nominal 0.743, ordinal 0.815, interval 0.849."""
    n = None
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
        [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
    ]
    units = list(zip(*observers, strict=True))
    assert krippendorff_alpha(units, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(units, "ordinal") == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(units, "interval") == pytest.approx(0.849, abs=5e-4)


def test_krippendorffs_alpha_by_hand_on_three_units():
    """Units [1,1], [1,2], [2,2]: coincidences o11 = 2, o12 = o21 = 1, o22 = 2; n1 = n2 = 3,
    n = 6. Observed disagreement 2/6, expected 2·3·3/(6·5) = 0.6: alpha = 1 − (1/3)/0.6 = 4/9.
    The interval metric gives the same (δ² = 1 between 1 and 2). A unit of one value is not
    pairable and changes nothing."""
    units = {"a": [1, 1], "b": [1, 2], "c": [2, 2], "lonely": [1, None]}
    assert krippendorff_alpha(units, "nominal") == pytest.approx(4 / 9)
    assert krippendorff_alpha(units, "interval") == pytest.approx(4 / 9)


def test_krippendorffs_alpha_is_1_for_perfect_agreement_and_undefined_without_variation():
    assert krippendorff_alpha([[1, 1], [2, 2, 2], [3, 3]], "interval") == pytest.approx(1.0)
    assert krippendorff_alpha([[1, 1], [1, 1]]) is None
    assert krippendorff_alpha([[1], [2]]) is None
    with pytest.raises(ValueError):
        krippendorff_alpha([[1, 2]], "ratio-ish")


def row(clip, listener, is_human, says_human, liking, coherence=3, confidence=3, exp="none"):
    return {
        "clip": clip,
        "listener": listener,
        "is_human": is_human,
        "says_human": says_human,
        "liking": liking,
        "coherence": coherence,
        "confidence": confidence,
        "experience": exp,
    }


# Two machine clips (m1, m2) and one human clip (h1), three listeners.
FIXTURE = [
    row("m1", 1, False, False, 2, exp="none"),  # correct
    row("m1", 2, False, True, 3, exp="amateur"),  # wrong
    row("m2", 1, False, False, 1, exp="none"),  # correct
    row("m2", 3, False, False, 2, exp="amateur"),  # correct
    row("h1", 2, True, True, 5, exp="amateur"),  # correct
    row("h1", 3, True, False, 4, exp="amateur"),  # wrong
]


def test_a_group_summary_counts_correct_answers_and_judged_person_by_hand():
    got = group_summary(FIXTURE)
    assert got["n"] == 6 and got["clips"] == 3 and got["listeners"] == 3
    assert (got["correct"]["k"], got["correct"]["n"]) == (4, 6)
    assert (got["judged_human"]["k"], got["judged_human"]["n"]) == (2, 6)
    assert got["liking"]["mean"] == pytest.approx(17 / 6)
    # per listener: 1 → 2/2, 2 → 1/2, 3 → 1/2; mean 2/3
    assert got["listener_accuracy"]["mean"] == pytest.approx(2 / 3)
    assert got["listener_accuracy"]["n"] == 3


def test_summarise_splits_by_group_experience_and_clip():
    got = summarise(
        FIXTURE,
        group_of={"m1": ["Run A", "Machine"], "m2": ["Run A", "Machine"], "h1": ["Human"]},
        experiences=["none", "amateur", "professional"],
    )
    assert list(got["groups"]) == ["Run A", "Machine", "Human"]
    assert got["groups"]["Run A"]["correct"]["k"] == 3
    assert got["groups"]["Human"]["correct"]["k"] == 1
    assert got["groups"]["Human"]["liking"]["mean"] == pytest.approx(4.5)
    assert got["by_experience"]["none"]["n"] == 2
    assert got["by_experience"]["none"]["correct"]["k"] == 2
    assert got["by_experience"]["amateur"]["correct"]["k"] == 2
    assert got["by_experience"]["professional"]["n"] == 0
    assert got["clips"]["m1"] == {"n": 2, "judged_human": 0.5, "liking": 2.5, "coherence": 3.0}
    # origin agreement by hand: units m1 [F,T], m2 [F,F], h1 [T,F]: o_FF = 2, o_FT = o_TF = 2,
    # o_TT = 0; n_F = 4, n_T = 2, n = 6; D_o = 4/6, D_e = 2·4·2/30: alpha = 1 − (2/3)/(16/30)
    assert got["agreement"]["origin"] == pytest.approx(1 - (4 / 6) / (16 / 30))
