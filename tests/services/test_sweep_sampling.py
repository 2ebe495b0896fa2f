"""Sampling a search space: every distribution, seeds, grid order, and bayesian (Optuna TPE)."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from openaml.entities.sweep import RandomSamplingAlgorithm, SweepJob
from openaml.services.sweep_sampling import (BayesianSampler, GridSampler, RandomSampler, grid_size, make_sampler,
                                             quantize, sample)
from openaml.sweep import (Choice, LogNormal, LogUniform, Normal, QLogNormal, QLogUniform, QNormal, QUniform,
                           Randint, Uniform)

N = 2000


def draws(dist, seed=0, logbase=math.e):
    rng = random.Random(seed)
    return [sample(dist, rng, logbase) for _ in range(N)]


def test_choice_and_randint():
    values = draws(Choice(["a", 2, {"k": 1}]))
    assert {str(v) for v in values} == {"a", "2", "{'k': 1}"}
    ints = draws(Randint(4))
    assert set(ints) == {0, 1, 2, 3} and all(isinstance(v, int) for v in ints)


def test_uniform_bounds_and_mean():
    values = draws(Uniform(2, 4))
    assert all(2 <= v <= 4 for v in values)
    assert statistics.fmean(values) == pytest.approx(3, abs=0.1)


def test_loguniform_bounds_are_exponents():
    values = draws(LogUniform(-6, -1))
    assert all(math.exp(-6) <= v <= math.exp(-1) for v in values)
    assert statistics.fmean(math.log(v) for v in values) == pytest.approx(-3.5, abs=0.15)
    base10 = draws(LogUniform(-3, -1), logbase=10)
    assert all(1e-3 <= v <= 1e-1 for v in base10)


def test_q_rounding_as_azure():
    assert quantize(37.0, 16) == 32 and isinstance(quantize(37.0, 16), int)
    assert quantize(0.26, 0.1) == 0.3
    values = draws(QUniform(16, 128, 16))
    assert set(values) <= set(range(16, 129, 16)) and {16, 128} <= set(values)
    assert all(v % 2 == 0 for v in draws(QNormal(10, 5, 2)))
    assert all(v >= 0 and v == round(v) for v in draws(QLogUniform(0, 3, 1)))
    assert all(v % 5 == 0 for v in draws(QLogNormal(2, 1, 5)))


def test_normal_and_lognormal():
    values = draws(Normal(5, 2))
    assert statistics.fmean(values) == pytest.approx(5, abs=0.2)
    assert statistics.stdev(values) == pytest.approx(2, abs=0.2)
    logs = draws(LogNormal(0, 0.5))
    assert all(v > 0 for v in logs)
    assert statistics.fmean(math.log(v) for v in logs) == pytest.approx(0, abs=0.05)


SPACE = {"lr": LogUniform(-6, -1), "opt": Choice(["sgd", "adam"]), "n": Randint(10)}


def test_seeds_make_random_sampling_reproducible():
    first = [RandomSampler(SPACE, seed=7).ask().parameters for _ in range(1)]
    a, b, c = RandomSampler(SPACE, seed=7), RandomSampler(SPACE, seed=7), RandomSampler(SPACE, seed=8)
    seq_a = [a.ask().parameters for _ in range(5)]
    assert seq_a == [b.ask().parameters for _ in range(5)]
    assert seq_a != [c.ask().parameters for _ in range(5)]
    assert seq_a[0] == first[0]


def _job(space, algorithm="random", goal="maximize"):
    return SweepJob(search_space=space, sampling_algorithm=algorithm,
                    objective={"goal": goal, "primary_metric": "m"},
                    trial={"command": "t " + " ".join("${{search_space.%s}}" % n for n in space)})


def test_make_sampler_uses_the_algorithm_seed_and_logbase():
    job = _job({"lr": LogUniform(-3, -1)}, RandomSamplingAlgorithm(seed=3, logbase=10))
    sampler = make_sampler(job)
    assert isinstance(sampler, RandomSampler) and sampler.logbase == 10
    assert make_sampler(job).ask() == make_sampler(job).ask()
    assert 1e-3 <= sampler.ask().parameters["lr"] <= 0.1


def test_grid_is_the_cartesian_product_in_order():
    space = {"a": Choice([1, 2]), "b": Choice(["x", "y", "z"])}
    grid = GridSampler(space)
    got = []
    while (s := grid.ask()) is not None:
        got.append(s.parameters)
    assert got == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"},
                   {"a": 2, "b": "x"}, {"a": 2, "b": "y"}, {"a": 2, "b": "z"}]
    assert grid_size(space) == 6
    assert isinstance(make_sampler(_job(space, "grid")), GridSampler)


def _toy(params):
    """A smooth objective with its maximum 0 at x=0.7, y=0.2, opt='b'."""
    return -((params["x"] - 0.7) ** 2 + (params["y"] - 0.2) ** 2) - (0 if params["opt"] == "b" else 0.3)


TOY_SPACE = {"x": Uniform(0, 1), "y": QUniform(0, 1, 0.05), "opt": Choice(["a", "b", "c"])}


def _best_after(sampler, trials=40):
    best = -math.inf
    for _ in range(trials):
        s = sampler.ask()
        value = _toy(s.parameters)
        sampler.tell(s.key, value)
        best = max(best, value)
    return best


def test_bayesian_beats_random_on_a_toy_objective():
    bayes = [_best_after(BayesianSampler(TOY_SPACE, "maximize", seed=s)) for s in range(3)]
    rand = [_best_after(RandomSampler(TOY_SPACE, seed=s)) for s in range(3)]
    assert statistics.fmean(bayes) > statistics.fmean(rand)
    assert max(bayes) > -0.01


def test_bayesian_maps_values_and_handles_failures():
    sampler = BayesianSampler(TOY_SPACE, "minimize", seed=1)
    first = sampler.ask()
    assert first.parameters["opt"] in ("a", "b", "c")
    assert round(first.parameters["y"] / 0.05, 6) == round(first.parameters["y"] / 0.05)
    sampler.tell(first.key, None)  # a failed trial
    sampler.tell(first.key, 1.0)  # told twice: ignored
    assert isinstance(make_sampler(_job(TOY_SPACE, "bayesian")), BayesianSampler)
