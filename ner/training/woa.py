"""The whale optimisation algorithm (Mirjalili & Lewis 2016) as an Optuna sampler: ``ner tune --sampler woa``.

A population of ``population`` whales searches together, one generation after another; each trial is a
whale of a generation. Whale ``i`` of generation ``g`` moves from its own position in generation
``g - 1`` (its trial's settings), towards the best trial so far or a random whale of that generation:

- with probability 1/2, *encircling*: ``X' = L - A * |C * L - X|``, where ``L`` is the best position if
  ``|A| < 1`` (exploitation) or a random whale's (exploration) otherwise;
- else the *bubble-net spiral* around the best: ``X' = |B - X| * exp(b * l) * cos(2 * pi * l) + B``,

with ``A = 2 * a * r1 - a``, ``C = 2 * r2``, ``r1, r2`` uniform in [0, 1] for each setting, ``l``
uniform in [-1, 1] and the choice between the two moves for each whale, ``b`` the spiral constant, and
``a`` falling linearly from 2 to 0 over ``generations`` generations (then 0: pure exploitation).
Generation 0 is uniform at random.

Settings are searched in a unit cube: a float range maps linearly (or by its logarithm with
``log = true``) onto [0, 1]; an integer range too, the move rounded to its step; categorical choices
are ranked and each holds an equal slice of [0, 1], the move landing in one of them (so a choice next
to the best one in the list is nearer than one far from it: list related choices side by side).

The sampler keeps no state: a trial's position follows from its number, the study's trials and the
seed, so a study interrupted and run again, or shared by several processes, goes on as one run would.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np


class WhaleSampler:
    """An Optuna sampler (``optuna.samplers.BaseSampler``'s methods) running WOA; see the module."""

    def __init__(
        self,
        population: int = 8,
        generations: int = 10,
        spiral: float = 1.0,
        seed: int | None = None,
    ) -> None:
        if population < 2:
            raise ValueError(f"population must be at least 2, got {population}")
        if generations < 1:
            raise ValueError(f"generations must be at least 1, got {generations}")
        self.population = population
        self.generations = generations
        self.spiral = spiral
        self.seed = 0 if seed is None else seed
        import optuna  # an extra: ner tune checks for it before it makes a sampler

        self._random = optuna.samplers.RandomSampler(seed=seed)
        self._swarm: tuple[int, list[Any], Any] | None = None  # (trial number, previous generation, best)

    # Optuna's sampler interface: every setting is sampled on its own (sample_independent), from the
    # same whale-level draws, so conditional spaces need nothing special.
    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
        return {}

    def reseed_rng(self) -> None:
        self._random.reseed_rng()

    def before_trial(self, study: Any, trial: Any) -> None:
        return None

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        return None

    def sample_independent(self, study: Any, trial: Any, name: str, distribution: Any) -> Any:
        generation, index = divmod(trial.number, self.population)
        if generation == 0:
            return self._random.sample_independent(study, trial, name, distribution)
        previous, leader = self._swarm_of(study, trial.number, generation)
        own = _position(previous[index], name, distribution)
        best = _position(leader, name, distribution)
        if own is None or best is None:  # a setting the whale or the best never had: start afresh
            return self._random.sample_independent(study, trial, name, distribution)
        # p, l and the random whale are the whale's (the same for every setting); r1 and r2 are drawn per
        # setting, as the vectors A and C of the paper are per dimension
        whale = np.random.default_rng([self.seed, trial.number])
        p, turn, other = whale.random(), whale.uniform(-1.0, 1.0), int(whale.integers(self.population))
        r1, r2 = np.random.default_rng([self.seed, trial.number, zlib.crc32(name.encode())]).random(2)
        a = 2.0 * max(0.0, 1.0 - (generation - 1) / self.generations)
        big_a, c = 2.0 * a * r1 - a, 2.0 * r2
        if p < 0.5:
            lead = best if abs(big_a) < 1.0 else _position(previous[other], name, distribution)
            if lead is None:
                lead = best
            moved = lead - big_a * abs(c * lead - own)
        else:
            moved = abs(best - own) * math.exp(self.spiral * turn) * math.cos(2.0 * math.pi * turn) + best
        return _decode(min(1.0, max(0.0, moved)), distribution)

    def _swarm_of(self, study: Any, number: int, generation: int) -> tuple[list[Any], Any]:
        """The previous generation's trials and the best trial so far, read from the storage once per
        trial (every setting of the trial is sampled from the same swarm)."""
        if self._swarm is None or self._swarm[0] != number:
            by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
            first = (generation - 1) * self.population
            previous = [by_number.get(first + k) for k in range(self.population)]
            self._swarm = (number, previous, _best(study))
        return self._swarm[1], self._swarm[2]


def _best(study: Any) -> Any:
    try:
        return study.best_trial
    except ValueError:  # no finished trial yet
        return None


def _position(trial: Any, name: str, distribution: Any) -> float | None:
    """Where ``trial``'s value of ``name`` lies in [0, 1] (None if it has none)."""
    if trial is None or name not in trial.params:
        return None
    return _encode(trial.params[name], distribution)


def _encode(value: Any, distribution: Any) -> float:
    if hasattr(distribution, "choices"):
        choices = list(distribution.choices)
        return (choices.index(value) + 0.5) / len(choices) if value in choices else 0.5
    low, high = float(distribution.low), float(distribution.high)
    if high == low:
        return 0.5
    if getattr(distribution, "log", False):
        return (math.log(float(value)) - math.log(low)) / (math.log(high) - math.log(low))
    return (float(value) - low) / (high - low)


def _decode(x: float, distribution: Any) -> Any:
    if hasattr(distribution, "choices"):
        choices = list(distribution.choices)
        return choices[min(len(choices) - 1, int(x * len(choices)))]
    low, high = float(distribution.low), float(distribution.high)
    if getattr(distribution, "log", False):
        value = math.exp(math.log(low) + x * (math.log(high) - math.log(low)))
    else:
        value = low + x * (high - low)
    step = getattr(distribution, "step", None)
    is_int = type(distribution).__name__ == "IntDistribution"
    if step is not None:
        value = low + round((value - low) / step) * step
    if is_int:
        return int(min(high, max(low, round(value))))
    return float(min(high, max(low, value)))


def woa_sampler(seed: int | None, population: int = 8, generations: int = 10, spiral: float = 1.0) -> Any:
    """A :class:`WhaleSampler` registered as an Optuna ``BaseSampler`` subclass (Optuna is an extra,
    imported only here)."""
    import optuna

    class _Sampler(WhaleSampler, optuna.samplers.BaseSampler):
        pass

    return _Sampler(population, generations, spiral, seed)
