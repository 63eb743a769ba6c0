"""The critic: fitted on human tunes' and a model's features, it draws among a piece's takes
the one more like the human side, by the piece's own seed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musiclib.metrics import judge as jd
from musiclib.metrics.critic import Critic, critic_choose, critic_fit, features_of


def tunes(rng, n, *, repeats, leaps):
    """Feature rows that differ in two of the listener's features (the rest alike)."""
    rows = []
    for _ in range(n):
        row = {name: float(rng.normal(0.5, 0.1)) for name in jd.NAMES}
        row["repeats_note"] = float(rng.normal(repeats, 0.04))
        row["big_leaps"] = float(rng.normal(leaps, 0.02))
        row["ends_on_third"] = float("nan")  # a feature no tune defines is left out
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def sides():
    rng = np.random.default_rng(0)
    return (
        tunes(rng, 300, repeats=0.10, leaps=0.03),  # human
        tunes(rng, 200, repeats=0.16, leaps=0.06),  # the model
    )


def test_it_scores_a_human_like_tune_above_a_machine_like_one(sides):
    human, machine = sides
    critic = critic_fit(human=human, machine=machine)
    assert "ends_on_third" not in critic.names and "repeats_note" in critic.names
    rng = np.random.default_rng(1)
    h = critic.log_ratio(tunes(rng, 100, repeats=0.10, leaps=0.03))
    m = critic.log_ratio(tunes(rng, 100, repeats=0.16, leaps=0.06))
    assert np.median(h) > 1 > -1 > np.median(m)
    assert critic.accuracy > 0.7  # (two features 1.5 sd apart: at best 0.86; 48 add noise)
    # the sides' sizes are taken off: a tune on the boundary scores near 0 whatever the sizes
    assert critic.prior == pytest.approx(np.log(300 / 200))


def test_drawing_among_takes_moves_the_kept_pieces_to_the_human_side(sides):
    human, machine = sides
    critic = critic_fit(human=human, machine=machine)
    rng = np.random.default_rng(2)
    takes, pieces = 4, 400
    drawn = [tunes(rng, pieces, repeats=0.16, leaps=0.06) for _ in range(takes)]
    ratios = np.array([critic.log_ratio(t) for t in drawn])
    kept = critic_choose(log_ratios=ratios, seeds=range(pieces))
    repeats = np.array([[row["repeats_note"] for row in t] for t in drawn])
    chosen = repeats[kept, np.arange(pieces)].mean()
    assert 0.10 < chosen < repeats[0].mean() - 0.02  # most of the way, not past it
    assert len(set(kept)) == takes  # drawn, not always the best: every take is kept somewhere


def test_the_same_seed_keeps_the_same_take():
    ratios = np.log(np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]))
    a = critic_choose(log_ratios=ratios, seeds=[5, 6])
    assert (critic_choose(log_ratios=ratios, seeds=[5, 6]) == a).all()
    assert critic_choose(log_ratios=np.array([[-np.inf], [0.0]]), seeds=[9])[0] == 1
    with pytest.raises(ValueError, match="one column per seed"):
        critic_choose(log_ratios=ratios, seeds=[1])


def test_a_critic_is_the_same_after_its_json_round_trip(sides):
    critic = critic_fit(human=sides[0], machine=sides[1])
    again = Critic.from_dict(json.loads(json.dumps(critic.to_dict())))
    assert again == critic
    with pytest.raises(ValueError, match="layout"):
        Critic.from_dict({**critic.to_dict(), "version": 99})


def test_it_fits_no_critic_on_too_few_pieces(sides):
    assert critic_fit(human=sides[0], machine=sides[1][: jd.MIN_PER_SIDE - 1]) is None


def test_it_reads_abc_and_counts_an_unreadable_text_as_an_empty_tune():
    tune = "X:1\nM:6/8\nL:1/8\nK:D\n|:dBA F2A|dBA F2A|dfe dBA|B3 A3:|\n"
    read, unreadable = features_of([tune, "\x00"], melody="abc")
    assert read["notes"] == 18 and read["repeats_note"] == 0
    assert unreadable["notes"] == 0
