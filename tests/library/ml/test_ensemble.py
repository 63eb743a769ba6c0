"""A blend of nets (`ml.ensemble.nets_blend`) is one wider net whose logits are the mean of
theirs at every step, so the site's sampler runs it as it runs any net."""

from __future__ import annotations

import numpy as np
import pytest

from musiclib.ml import sampler
from musiclib.ml.ensemble import nets_blend

VOCAB = 9


def random_net(rng, units: list[int], *, heads: int = 0, dim: int = 4, hidden: int = 0):
    def a(*shape):
        return rng.normal(0, 0.5, shape).astype(np.float32)

    recurrent = [a(units[0], 4 * units[0])]
    recurrent += [a(units[k - 1] + units[k], 4 * units[k]) for k in range(1, len(units))]
    biases = [a(4 * n) for n in units]
    look_back = None
    top = units[-1]
    if heads:
        width = heads * dim
        look_back = sampler.LookBack(
            wq=a(top, width), wk=a(top, width), wv_h=a(top, width), vtable=a(VOCAB, width),
            wo=a(width, top), bo=a(top), heads=heads, dim=dim,
        )  # fmt: skip
        top *= 2
    dense = []
    if hidden:
        dense.append((a(top, hidden), a(hidden), True))
        top = hidden
    dense.append((a(top, VOCAB), a(VOCAB), False))
    return sampler.Net(
        table=a(VOCAB, 4 * units[0]), recurrent=recurrent, biases=biases, dense=dense,
        units=list(units), look_back=look_back,
    )  # fmt: skip


def logits_over(net, tokens: np.ndarray) -> np.ndarray:
    state = sampler.State(net, tokens.shape[0])
    return np.stack([sampler.step(net, state, tokens[:, t]) for t in range(tokens.shape[1])])


@pytest.mark.parametrize(
    "shapes",
    [
        [dict(units=[6, 5], heads=2), dict(units=[4, 7], heads=1)],
        [dict(units=[6, 5], heads=2, hidden=3), dict(units=[4, 7], heads=1, hidden=5)],
        [dict(units=[6]), dict(units=[3]), dict(units=[5])],
        [dict(units=[4, 4, 4], hidden=6), dict(units=[5, 3, 2], hidden=2)],
    ],
    ids=["look back", "look back and a hidden layer", "three nets", "three layers"],
)
def test_the_blends_logits_are_the_mean_of_its_nets_logits_at_every_step(shapes):
    rng = np.random.default_rng(1)
    nets = [random_net(rng, **s) for s in shapes]
    tokens = rng.integers(0, VOCAB, (3, 40))
    mean = np.mean([logits_over(net, tokens) for net in nets], axis=0)
    blend = nets_blend(nets=nets)
    np.testing.assert_allclose(logits_over(blend, tokens), mean, atol=1e-4)


def test_a_saved_blend_loads_back_and_samples_the_same_pieces(tmp_path):
    rng = np.random.default_rng(2)
    blend = nets_blend(nets=[random_net(rng, [6, 5], heads=2), random_net(rng, [4, 7], heads=1)])
    sampler.save_net(blend, str(tmp_path / "blend.npz"))
    again = sampler.load_net(str(tmp_path / "blend.npz"))
    tokens = rng.integers(0, VOCAB, (2, 30))
    np.testing.assert_array_equal(logits_over(again, tokens), logits_over(blend, tokens))


@pytest.mark.parametrize(
    "other, message",
    [
        (dict(units=[6, 5]), "some nets look back"),
        (dict(units=[6], heads=2), "layers differ"),
        (dict(units=[6, 5], heads=2, dim=8), "key widths"),
    ],
)
def test_it_refuses_nets_that_cannot_be_blended(other, message):
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match=message):
        nets_blend(nets=[random_net(rng, [6, 5], heads=2), random_net(rng, **other)])


def test_it_refuses_a_single_net():
    with pytest.raises(ValueError, match="at least two"):
        nets_blend(nets=[random_net(np.random.default_rng(4), [6])])
