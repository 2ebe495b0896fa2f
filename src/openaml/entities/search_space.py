"""Search-space distributions of a sweep (azure-ai-ml's ``Choice``, ``Uniform``...).

YAML writes them as ``{type: uniform, min_value: 0.01, max_value: 0.1}``; Python as
``Uniform(0.01, 0.1)`` (positional arguments work as in azure-ai-ml). Azure's meanings, which
:mod:`openaml.services.sweep_sampling` implements:

- ``choice(values)``: one of ``values``; ``randint(upper)``: an integer in ``[0, upper)``.
- ``uniform(min_value, max_value)``; ``loguniform``: ``exp(uniform(min_value, max_value))`` (the
  bounds are exponents); ``normal(mu, sigma)``; ``lognormal``: ``exp(normal(mu, sigma))``.
- The ``q`` variants round: ``round(x / q) * q``.

This module holds the distributions alone so that :mod:`.job` (whose ``Command`` inputs may hold
them) and :mod:`.sweep` can both import it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from ._base import Entity


class _Distribution(Entity):
    """Base of the search-space distributions (``type`` names the distribution)."""

    type: str

    @field_validator("type", mode="before")
    @classmethod
    def _lower_type(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v

    def _positional(self, names: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} positional arguments")
        for name, value in zip(names, args):
            if name in kwargs:
                raise TypeError(f"{type(self).__name__} got two values for {name!r}")
            kwargs[name] = value
        return kwargs


def _init(names: tuple[str, ...]):
    """An ``__init__`` that also takes ``names`` positionally, as azure-ai-ml's constructors do."""

    def __init__(self: _Distribution, *args: Any, **kwargs: Any) -> None:
        Entity.__init__(self, **self._positional(names, args, kwargs))

    # Nested validation (a dict inside a SweepJob) must bypass this wrapper and keep pydantic's
    # error locations, exactly as Entity.__init__ does.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]
    return __init__


class Choice(_Distribution):
    """One of ``values`` (numbers, strings, booleans or mappings), each equally likely."""

    type: Literal["choice"] = "choice"
    values: list[Any] = Field(min_length=1)
    __init__ = _init(("values",))


class Randint(_Distribution):
    """An integer in ``[0, upper)``."""

    type: Literal["randint"] = "randint"
    upper: int = Field(gt=0)
    __init__ = _init(("upper",))


class _Bounded(_Distribution):
    min_value: int | float
    max_value: int | float

    @model_validator(mode="after")
    def _check_bounds(self) -> "_Bounded":
        if self.min_value >= self.max_value:
            raise ValueError(f"min_value ({self.min_value}) must be less than max_value ({self.max_value})")
        return self


class Uniform(_Bounded):
    """A float drawn uniformly from ``[min_value, max_value]``."""

    type: Literal["uniform"] = "uniform"
    __init__ = _init(("min_value", "max_value"))


class LogUniform(_Bounded):
    """``exp(uniform(min_value, max_value))``: the bounds are natural-log exponents."""

    type: Literal["loguniform"] = "loguniform"
    __init__ = _init(("min_value", "max_value"))


class QUniform(_Bounded):
    """``round(uniform(min_value, max_value) / q) * q``."""

    type: Literal["quniform"] = "quniform"
    q: int | float = Field(gt=0)
    __init__ = _init(("min_value", "max_value", "q"))


class QLogUniform(_Bounded):
    """``round(exp(uniform(min_value, max_value)) / q) * q``."""

    type: Literal["qloguniform"] = "qloguniform"
    q: int | float = Field(gt=0)
    __init__ = _init(("min_value", "max_value", "q"))


class _Gaussian(_Distribution):
    mu: float
    sigma: float = Field(gt=0)


class Normal(_Gaussian):
    """A float drawn from the normal distribution ``N(mu, sigma)``."""

    type: Literal["normal"] = "normal"
    __init__ = _init(("mu", "sigma"))


class LogNormal(_Gaussian):
    """``exp(normal(mu, sigma))``."""

    type: Literal["lognormal"] = "lognormal"
    __init__ = _init(("mu", "sigma"))


class QNormal(_Gaussian):
    """``round(normal(mu, sigma) / q) * q``."""

    type: Literal["qnormal"] = "qnormal"
    q: int | float = Field(gt=0)
    __init__ = _init(("mu", "sigma", "q"))


class QLogNormal(_Gaussian):
    """``round(exp(normal(mu, sigma)) / q) * q``."""

    type: Literal["qlognormal"] = "qlognormal"
    q: int | float = Field(gt=0)
    __init__ = _init(("mu", "sigma", "q"))


DISTRIBUTIONS: dict[str, type[_Distribution]] = {c.model_fields["type"].default: c for c in (
    Choice, Randint, Uniform, LogUniform, QUniform, QLogUniform, Normal, LogNormal, QNormal, QLogNormal)}
"""Every distribution class by its YAML ``type``."""


def _distribution_tag(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind.lower() if isinstance(kind, str) else None


SearchSpaceValue = Annotated[
    Union[tuple(Annotated[cls, Tag(name)] for name, cls in DISTRIBUTIONS.items())],  # type: ignore[misc]
    Discriminator(_distribution_tag),
]
"""One search-space entry: any distribution, chosen by its ``type`` (case-insensitive)."""


def is_distribution(value: Any) -> bool:
    """True for a distribution object, or a mapping whose ``type`` names one."""
    return isinstance(value, _Distribution) or (isinstance(value, dict) and _distribution_tag(value) in DISTRIBUTIONS)
