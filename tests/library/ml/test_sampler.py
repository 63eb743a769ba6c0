"""The incremental sampler against the Keras model it was copied from."""

import numpy as np
import pytest

from musiclib.ml import sampler
from musiclib.ml.model import build_model
from musiclib.ways import get_way


@pytest.fixture(scope="module")
def model():
    config = get_way("abc").resolve_config(
        preset="tiny", overrides={"units": [24, 16], "dense": [12]}
    )
    return build_model(config=config, vocab_size=30, seed=4)


def test_a_step_by_step_pass_equals_the_keras_model_over_the_whole_sequence(model):
    net = sampler.net_from_keras(model)
    seq = np.random.default_rng(0).integers(1, 30, size=40)
    expected = model.predict(seq[None, :], verbose=0)[0]
    state = sampler.State(net, 1)
    got = np.stack([sampler.step(net, state, np.array([t]))[0] for t in seq])
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_the_same_seed_gives_the_same_piece_alone_or_in_a_batch(model):
    net = sampler.net_from_keras(model)
    batch = sampler.sample(net, prime=[1], seeds=[11, 12, 13], max_tokens=80)
    alone = sampler.sample(net, prime=[1], seeds=[12], max_tokens=80)
    assert alone[0] == batch[1]
    assert batch[0] != batch[1]


def test_top_k_of_one_is_greedy_decoding(model):
    net = sampler.net_from_keras(model)
    greedy = sampler.sample(net, prime=[1, 5], seeds=[1], top_k=1, max_tokens=10, end_id=-1)[0]
    seq = [1, 5]
    for _ in range(10):
        seq.append(int(np.argmax(model.predict(np.array([seq]), verbose=0)[0, -1])))
    assert greedy == seq[2:]


def test_the_compiled_loop_draws_what_the_numpy_step_draws(model):
    net = sampler.net_from_keras(model)
    allow_all = lambda row, ids: None  # noqa: E731  (takes the numpy path)
    fast = sampler.sample(net, prime=[1], seeds=[5, 6], max_tokens=60, end_id=-1)
    slow = sampler.sample(
        net, prime=[1], seeds=[5, 6], max_tokens=60, end_id=-1, constraint=allow_all
    )
    assert fast == slow


def test_a_constraint_mask_is_never_violated(model):
    net = sampler.net_from_keras(model)
    allowed = np.zeros(30, dtype=bool)
    allowed[[3, 4, 2]] = True
    out = sampler.sample(
        net, prime=[1], seeds=[1, 2], max_tokens=50, constraint=lambda row, ids: allowed
    )
    assert all(tok in (2, 3, 4) for piece in out for tok in piece)


def test_it_refuses_a_temperature_that_is_not_positive(model):
    net = sampler.net_from_keras(model)
    with pytest.raises(ValueError, match="temperature"):
        sampler.sample(net, prime=[1], seeds=[1], temperature=0)


def test_sampler_weights_survive_a_save_and_load(model, tmp_path):
    net = sampler.net_from_keras(model)
    sampler.save_net(net, str(tmp_path / "n.npz"))
    again = sampler.load_net(str(tmp_path / "n.npz"))
    a = sampler.sample(net, prime=[1], seeds=[9], max_tokens=40)
    assert sampler.sample(again, prime=[1], seeds=[9], max_tokens=40) == a


def test_a_corrupt_sampler_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a numpy archive")
    with pytest.raises(ValueError, match="corrupt"):
        sampler.load_net(str(bad))


def manual_surprise(net, prime, ids, end_id):
    """Mean -log p of each written symbol, one numpy step at a time."""
    state, nats, seq = sampler.State(net, 1), [], [*prime, *ids]
    for t in range(len(seq) - 1):
        logits = sampler.step(net, state, np.array([seq[t]]))[0].astype(np.float64)
        logp = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
        if t + 1 >= len(prime):
            nats.append(-logp[seq[t + 1]])
    return float(np.mean(nats))


def test_surprise_is_the_mean_nats_of_what_was_written_after_the_prime(model):
    net = sampler.net_from_keras(model)
    pieces = sampler.sample(net, prime=[1, 7], seeds=[3, 4], max_tokens=40)
    got = sampler.surprise(net, prime=[1, 7], pieces=pieces, end_id=2)
    want = [manual_surprise(net, [1, 7], ids, 2) for ids in pieces]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_a_restart_inside_a_piece_is_scored_as_a_new_phrase(model):
    net = sampler.net_from_keras(model)
    first, second = [1, 5, 6, 2], [1, 8, 9, 2]
    joined = np.array(first + second[1:])  # the sampler feeds START after an END
    ((p, _),) = sampler.probabilities(net, [joined], end_id=2, restart_id=1)
    (a, _), (b, _) = sampler.probabilities(net, [np.array(first), np.array(second)], end_id=2)
    np.testing.assert_allclose(p, np.r_[a, b], rtol=1e-6)


def test_one_take_is_the_piece_sample_always_gave(model):
    net = sampler.net_from_keras(model)
    assert sampler.sample(net, prime=[1], seeds=[5, 6], max_tokens=60, takes=1) == (
        sampler.sample(net, prime=[1], seeds=[5, 6], max_tokens=60)
    )


def test_takes_keep_a_piece_no_more_surprising_than_its_first_draw(model):
    net = sampler.net_from_keras(model)
    seeds = list(range(1, 13))
    first = sampler.sample(net, prime=[1], seeds=seeds, max_tokens=60)
    kept = sampler.sample(net, prime=[1], seeds=seeds, max_tokens=60, takes=4)
    s_first = sampler.surprise(net, prime=[1], pieces=first, end_id=2)
    s_kept = sampler.surprise(net, prime=[1], pieces=kept, end_id=2)
    assert (s_kept <= s_first + 1e-12).all()
    assert (s_kept < s_first).sum() >= 6  # most pieces: another take was more natural
    # each kept piece is one of its seed's takes, whatever batch it was drawn in
    assert sampler.sample(net, prime=[1], seeds=[7], max_tokens=60, takes=4)[0] == kept[6]


def test_a_chooser_is_handed_every_take_and_keeps_the_one_it_names(model):
    net = sampler.net_from_keras(model)
    seeds = [3, 4, 5]
    seen = {}

    def last_take(outs, surprise):
        seen["outs"], seen["surprise"] = outs, surprise
        return np.full(len(seeds), 2)

    kept = sampler.sample(net, prime=[1], seeds=seeds, max_tokens=60, takes=3, choose=last_take)
    assert len(seen["outs"]) == 9 and seen["surprise"].shape == (3, 3)
    assert kept == seen["outs"][6:]  # take-major: take 2 of each piece
    # take 0 is the piece one take gives; the model's own choice is the least surprising
    assert seen["outs"][:3] == sampler.sample(net, prime=[1], seeds=seeds, max_tokens=60)
    natural = sampler.sample(net, prime=[1], seeds=seeds, max_tokens=60, takes=3)
    assert natural == [seen["outs"][3 * k + i] for i, k in enumerate(seen["surprise"].argmin(0))]


def test_a_trial_keeps_whole_the_take_least_surprising_over_its_first_symbols(model):
    net = sampler.net_from_keras(model)
    seeds, trial = list(range(20, 32)), 10
    seen = {}

    def every_take(outs, surprise):
        seen["outs"] = outs
        return surprise.argmin(0)

    whole = sampler.sample(net, prime=[1], seeds=seeds, max_tokens=60, takes=3, choose=every_take)
    tried = sampler.sample(net, prime=[1], seeds=seeds, max_tokens=60, takes=3, trial=trial)
    early = sampler.surprise(
        net, prime=[1], pieces=[ids[:trial] for ids in seen["outs"]], end_id=2
    ).reshape(3, len(seeds))
    assert tried == [seen["outs"][k * len(seeds) + i] for i, k in enumerate(early.argmin(0))]
    assert tried != whole  # where the whole pieces' choice differs, the trial's stands
    # the same seed and takes give the same piece, whatever batch it was drawn in
    assert sampler.sample(net, prime=[1], seeds=[25], max_tokens=60, takes=3, trial=trial) == [
        tried[5]
    ]


def test_a_trial_is_refused_below_zero_or_with_a_chooser(model):
    net = sampler.net_from_keras(model)
    for trial, choose in ((-1, None), (10, lambda outs, s: s.argmin(0))):
        with pytest.raises(ValueError, match="trial"):
            sampler.sample(net, prime=[1], seeds=[1], takes=2, trial=trial, choose=choose)


def test_a_chooser_that_names_no_take_is_refused(model):
    net = sampler.net_from_keras(model)
    with pytest.raises(ValueError, match="one take in 0..1 per piece"):
        sampler.sample(net, prime=[1], seeds=[1, 2], max_tokens=30, takes=2,
                       choose=lambda outs, s: np.array([0, 2]))  # fmt: skip


def test_it_refuses_takes_out_of_range(model):
    net = sampler.net_from_keras(model)
    for takes in (0, sampler.MAX_TAKES + 1):
        with pytest.raises(ValueError, match="takes"):
            sampler.sample(net, prime=[1], seeds=[1], takes=takes)
