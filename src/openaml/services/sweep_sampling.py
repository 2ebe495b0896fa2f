"""Sampling a sweep's search space: random, grid and bayesian. Pure and seedable.

A sampler hands out :class:`Suggestion` s with :meth:`~Sampler.ask` (None once the space is
exhausted) and learns each trial's result with :meth:`~Sampler.tell`; only the bayesian sampler
uses what it is told.

Azure's meanings: ``loguniform(a, b)`` is ``exp(uniform(a, b))`` (``logbase`` of a random
algorithm replaces ``e``), ``lognormal`` is ``exp(normal)``, ``randint(upper)`` is an integer in
``[0, upper)``, and a ``q`` variant is ``round(x / q) * q`` (an integer when ``q`` is one).
Bayesian sampling is Optuna's TPE sampler driven through ask/tell (imported only when chosen).
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Protocol

from openaml.entities.search_space import (Choice, LogNormal, LogUniform, Normal, QLogNormal, QLogUniform,
                                           QNormal, QUniform, Randint, Uniform)
from openaml.entities.sweep import RandomSamplingAlgorithm, SweepJob
from openaml.errors import ValidationError


@dataclass(frozen=True)
class Suggestion:
    """One trial's hyperparameters; ``key`` identifies it when the result is told."""

    key: int
    parameters: dict[str, Any] = field(default_factory=dict)


class Sampler(Protocol):
    """Hands out hyperparameter sets and learns their results."""

    def ask(self) -> Suggestion | None:
        """The next set to try, or None when there is none left."""

    def tell(self, key: int, value: float | None) -> None:
        """The trial's final primary-metric value (None: failed, canceled or no metric)."""


def quantize(value: float, q: int | float) -> int | float:
    """Azure's ``round(value / q) * q``; an integer ``q`` gives an integer."""
    result = round(value / q) * q
    return result if isinstance(result, int) else float(f"{result:.12g}")


def sample(distribution: Any, rng: random.Random, logbase: float = math.e) -> Any:
    """One value of ``distribution`` (any of the ten search-space types)."""
    d = distribution
    if isinstance(d, Choice):
        return rng.choice(d.values)
    if isinstance(d, Randint):
        return rng.randrange(d.upper)
    if isinstance(d, (Uniform, QUniform)):
        x = rng.uniform(d.min_value, d.max_value)
        return quantize(x, d.q) if isinstance(d, QUniform) else x
    if isinstance(d, (LogUniform, QLogUniform)):
        x = logbase ** rng.uniform(d.min_value, d.max_value)
        return quantize(x, d.q) if isinstance(d, QLogUniform) else x
    if isinstance(d, (Normal, QNormal)):
        x = rng.gauss(d.mu, d.sigma)
        return quantize(x, d.q) if isinstance(d, QNormal) else x
    if isinstance(d, (LogNormal, QLogNormal)):
        x = math.exp(rng.gauss(d.mu, d.sigma))
        return quantize(x, d.q) if isinstance(d, QLogNormal) else x
    raise ValidationError(f"unknown search-space distribution {type(d).__name__}")


class RandomSampler:
    """Independent draws from every distribution; the same ``seed`` gives the same sequence."""

    def __init__(self, space: Mapping[str, Any], seed: int | None = None, logbase: float = math.e) -> None:
        self.space, self.logbase = dict(space), logbase
        self.rng = random.Random(seed)
        self._count = itertools.count()

    def ask(self) -> Suggestion:
        return Suggestion(next(self._count), {n: sample(d, self.rng, self.logbase) for n, d in self.space.items()})

    def tell(self, key: int, value: float | None) -> None:
        return None


class GridSampler:
    """Every combination of the ``choice`` values, the first entry varying slowest."""

    def __init__(self, space: Mapping[str, Choice]) -> None:
        names = list(space)
        self._grid: Iterator[tuple[int, tuple[Any, ...]]] = enumerate(
            itertools.product(*(space[n].values for n in names)))
        self._names = names

    def ask(self) -> Suggestion | None:
        item = next(self._grid, None)
        return None if item is None else Suggestion(item[0], dict(zip(self._names, item[1])))

    def tell(self, key: int, value: float | None) -> None:
        return None


def grid_size(space: Mapping[str, Choice]) -> int:
    """How many combinations a grid over ``space`` has."""
    return math.prod(len(c.values) for c in space.values())


class BayesianSampler:
    """Optuna's TPE sampler through ask/tell. ``choice`` maps to a categorical distribution,
    ``uniform`` to a float range and ``quniform`` to a float range rounded as Azure rounds.
    Trials still running count as "constant liars", so concurrent trials spread out."""

    STARTUP_TRIALS = 5  # random trials before TPE models the results (Optuna's default is 10)

    def __init__(self, space: Mapping[str, Any], goal: str, seed: int | None = None) -> None:
        import optuna  # imported only for bayesian sweeps

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.space = dict(space)
        self._distributions = {n: self._distribution(d) for n, d in self.space.items()}
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.STARTUP_TRIALS,
                                             constant_liar=True)
        self.study = optuna.create_study(direction="maximize" if goal == "maximize" else "minimize",
                                         sampler=sampler)
        self._trials: dict[int, Any] = {}

    def _distribution(self, d: Any) -> Any:
        dist = self._optuna.distributions
        if isinstance(d, Choice):
            return dist.CategoricalDistribution(list(range(len(d.values))))  # indexes: any value works
        if isinstance(d, (Uniform, QUniform)):
            return dist.FloatDistribution(float(d.min_value), float(d.max_value))
        raise ValidationError(f"bayesian sampling supports only choice, uniform and quniform, not {d.type}")

    def ask(self) -> Suggestion:
        trial = self.study.ask(self._distributions)
        self._trials[trial.number] = trial
        return Suggestion(trial.number, {n: self._value(n, trial.params[n]) for n in self.space})

    def _value(self, name: str, raw: Any) -> Any:
        d = self.space[name]
        if isinstance(d, Choice):
            return d.values[raw]
        return quantize(raw, d.q) if isinstance(d, QUniform) else raw

    def tell(self, key: int, value: float | None) -> None:
        trial = self._trials.pop(key, None)
        if trial is None:
            return
        if value is None or math.isnan(value):
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, value)


def make_sampler(job: SweepJob, seed: int | None = None) -> Sampler:
    """The sampler ``job.sampling_algorithm`` names (``seed`` is used when the job gives none)."""
    algorithm = job.algorithm
    if algorithm == "grid":
        return GridSampler(job.search_space)
    if algorithm == "bayesian":
        return BayesianSampler(job.search_space, job.objective.goal if job.objective else "maximize", seed)
    spec = job.sampling_algorithm if isinstance(job.sampling_algorithm, RandomSamplingAlgorithm) else None
    logbase = math.e
    if spec is not None and spec.logbase not in (None, "e"):
        logbase = float(spec.logbase)
    return RandomSampler(job.search_space, spec.seed if spec and spec.seed is not None else seed, logbase)
