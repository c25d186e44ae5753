"""The simulator's day-to-day variation.

No two days are alike, as in a real business (the weekday, a marketing push, a broker's batch):
each day draws its own base rate and applicant mix around the long-run one (`Scenario.day_effect`,
1 by default, scales them; 0 makes every day a draw from the same distribution). At 1 a day's base
logit has sd `DAY_LOGIT_SD` 0.1 (a 10% default rate moves by about +-1 point), each numeric
feature's mean `DAY_MEAN_SD` 0.05 of its standard deviation, and each category's share about 5%
of itself (`DAY_SHARE_SD`, on the log share). These are small enough to be harmless to a model
and large enough that a test of sampling noise alone flags them at 20,000 rows a day: alarms
must allow for them. The day's base rate is part of the true default probability.
"""

from __future__ import annotations

import numpy as np

DAY_LOGIT_SD = 0.1  # sd of a day's base logit (at day_effect 1)
DAY_MEAN_SD = 0.05  # sd of a day's numeric feature means, in the feature's standard deviations
DAY_SHARE_SD = 0.05  # sd of a day's log category shares


class DayEffect:
    """The day's draws around the long-run world, from their own seeded stream: `mean(sd)` moves
    a numeric mean by a draw of sd `DAY_MEAN_SD` in units of `sd`, `shares(p)` jitters category
    shares, `base_logit` is added to every row's default logit."""

    def __init__(self, seed: int, day: int, size: float):
        rng = np.random.default_rng([seed, day, 3])
        self.size = size
        self._means = iter(size * DAY_MEAN_SD * rng.standard_normal(16))
        self._shares = rng.standard_normal((16, 16))
        self._next_share = iter(range(16))
        self.base_logit = size * DAY_LOGIT_SD * float(rng.standard_normal())

    def mean(self, sd: float) -> float:
        return float(next(self._means)) * sd

    def shares(self, p: list[float]) -> np.ndarray:
        noise = self._shares[next(self._next_share), : len(p)]
        if self.size == 0:
            return np.asarray(p)
        jittered = np.asarray(p) * np.exp(self.size * DAY_SHARE_SD * noise)
        return jittered / jittered.sum()
