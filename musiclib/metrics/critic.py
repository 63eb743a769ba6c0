"""The ear for the corpus: which of a piece's takes sounds most like the people's tunes.

The sampler can draw each piece several times (`sampler.sample(takes=)`) and keep one take.
By default it keeps the take the model finds least surprising. A critic keeps the take
that the corpus would sooner have written: a logistic regression on the blind listener's
features (`judge.describe`: pitch, intervals, rhythm, form, ending) and the second
listener's (`judge.second_describe`: 3-note contours, rhythm pairs, downbeats), fitted on
one model's own pieces against the human tunes it trained on. Its logit, less the log of
the two sides' sizes, estimates log p_human(x) / p_model(x) (Bickel et al.,
"Discriminative learning for differing training and test distributions", 2007);
drawing a take with weights p_human / p_model is sampling importance resampling (as in
discriminator rejection sampling, Azadi et al. 2019): with many takes the kept ones
follow the human tunes' distribution along what the features see, with few takes they
move part of the way. Drawing rather than keeping the likeliest take keeps the kept pieces
as varied as the corpus instead of all alike at the critic's favourite spot.

What it can and cannot do: it only chooses among takes the model wrote, so it mends what
differs from piece to piece (how many notes repeat, how much the line leaps, how the rhythm
runs, how the tune ends); it cannot give a piece what no take has. And its features are the
listeners' own, so their verdicts on kept takes move partly by construction. How much of
the change an ear it was not fitted on hears was measured by fitting a critic on each
listener's features alone and judging with the other (docs/quality.md §6, *The critic*):
none on the Nottingham `full` model, 0.02-0.03 (within the interval) on O'Neill `quick`.

The critic is fitted once per checkpoint (on the training worker, when a run ends) and
stored as a small JSON document with it; a piece is reproduced by its seed, its takes and
the same critic. The human side is the run's training tunes only: the listener's held-out
tunes are never seen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import judge as jd
from .form import shapes_from_texts

L2 = jd.L2  # ridge penalty on standardised features, as the listener's
VERSION = 1  # the stored document's layout
FEATURE_NAMES = (*jd.NAMES, *jd.SECOND_NAMES)  # what a critic may read
STREAM = 0x5EED  # the draw among takes: its own stream beside the piece's seed


@dataclass(frozen=True)
class Critic:
    """A fitted critic: the features it reads and its logistic regression."""

    names: tuple[str, ...]  # features used (of FEATURE_NAMES: both sides define, not constant)
    fill: tuple[float, ...]  # what a missing feature counts as (the fit's mean)
    mean: tuple[float, ...]  # standardisation
    scale: tuple[float, ...]
    weights: tuple[float, ...]  # intercept first
    prior: float  # log(n_human / n_machine): taken off the logit (the sides' sizes)
    n_human: int
    n_machine: int
    accuracy: float  # cross-validated, on the balanced share of the fit (0.5: no difference)

    def log_ratio(self, features: Sequence[dict[str, float]]) -> np.ndarray:
        """log p_human / p_model of each piece (its `features_of` features)."""
        x = jd._matrix(features, self.names)
        x = np.where(np.isfinite(x), x, np.asarray(self.fill))
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        w = np.asarray(self.weights)
        return w[0] + z @ w[1:] - self.prior

    def to_dict(self) -> dict:
        return {"version": VERSION, **{k: _plain(getattr(self, k)) for k in _FIELDS}}

    @classmethod
    def from_dict(cls, data: dict) -> Critic:
        if data.get("version") != VERSION:
            raise ValueError(f"a critic of layout {data.get('version')!r}, not {VERSION}")
        values = {k: data[k] for k in _FIELDS}
        for k in ("names", "fill", "mean", "scale", "weights"):
            values[k] = tuple(values[k])
        return cls(**values)


_FIELDS = tuple(Critic.__dataclass_fields__)


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def critic_fit(
    *, human: Sequence[dict[str, float]], machine: Sequence[dict[str, float]], l2: float = L2
) -> Critic | None:
    """Fit a critic on human tunes' and one model's pieces' features (`features_of`).
    None with fewer than `judge.MIN_PER_SIDE` on either side, or nothing that differs."""
    if min(len(human), len(machine)) < jd.MIN_PER_SIDE:
        return None
    xh, xm = jd._matrix(human, FEATURE_NAMES), jd._matrix(machine, FEATURE_NAMES)
    keep = jd._usable(xh, xm)
    if not keep:
        return None
    x = np.vstack([xh[:, keep], xm[:, keep]])
    fill = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0)
    x = np.where(np.isfinite(x), x, fill)
    mean, scale = x.mean(0), x.std(0)
    scale[scale < 1e-9] = 1.0
    y = np.r_[np.ones(len(xh)), np.zeros(len(xm))]  # 1: human
    weights = jd._fit((x - mean) / scale, y, l2=l2)
    names = tuple(FEATURE_NAMES[j] for j in keep)
    balanced = jd.two_sample(human, machine, names=names)
    return Critic(
        names=names,
        fill=tuple(float(v) for v in fill),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        weights=tuple(float(v) for v in weights),
        prior=math.log(len(xh) / len(xm)),
        n_human=len(xh),
        n_machine=len(xm),
        accuracy=float(balanced["accuracy"]),
    )


def critic_choose(*, log_ratios: np.ndarray, seeds: Sequence[int]) -> np.ndarray:
    """The take kept for each piece: `log_ratios` is (takes, pieces), as `Critic.log_ratio`
    scores them; take k of piece i is drawn with weight exp(log_ratios[k, i]), by a stream
    of the piece's own seed (the same take whenever the piece is made again)."""
    lr = np.asarray(log_ratios, dtype=np.float64)
    if lr.ndim != 2 or lr.shape[1] != len(seeds):
        raise ValueError("log_ratios is (takes, pieces), one column per seed")
    out = np.empty(lr.shape[1], dtype=np.int64)
    for i, seed in enumerate(seeds):
        column = np.where(np.isfinite(lr[:, i]), lr[:, i], -np.inf)
        if not np.isfinite(column).any():
            out[i] = 0
            continue
        weights = np.exp(column - column.max())
        u = np.random.default_rng([int(seed), STREAM]).random()
        out[i] = int(np.searchsorted(np.cumsum(weights) / weights.sum(), u, side="right"))
        out[i] = min(out[i], len(column) - 1)
    return out


def features_of(texts: Sequence[str], *, melody: str) -> list[dict[str, float]]:
    """Both listeners' features of each text (`judge.describe`, `judge.second_describe`;
    an unreadable text is an empty tune: `form.shapes_from_texts`)."""
    shapes = shapes_from_texts(texts, melody=melody)
    return [{**jd.describe(s), **jd.second_describe(s)} for s in shapes]


def critic_chooser(
    critic: Critic,
    *,
    seeds: Sequence[int],
    melody: str,
    text_of: Callable[[int, Sequence[int]], str],
) -> Callable[[list[list[int]], np.ndarray], np.ndarray]:
    """`sampler.sample`'s `choose` that keeps the take the critic draws: every take's text
    (`text_of(seed, ids)`: finished as a piece's text is) read, scored and one drawn per
    piece by `critic_choose`. The takes come take-major (take k of piece i at k * n + i)."""
    n = len(seeds)

    def choose(outs: list[list[int]], surprise: np.ndarray) -> np.ndarray:
        texts = [text_of(seeds[r % n], ids) for r, ids in enumerate(outs)]
        ratios = critic.log_ratio(features_of(texts, melody=melody))
        return critic_choose(log_ratios=ratios.reshape(len(outs) // n, n), seeds=seeds)

    return choose
