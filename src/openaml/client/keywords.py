"""One rule for the keyword arguments of every operation group: a misspelt one is an error.

azure-ai-ml's operation methods raise ``TypeError`` for keyword arguments they do not take
(``models.list(nmae="x")``); openaml's once took ``**kwargs`` and ignored them, so a typo silently
changed the result. Every public method of an :class:`OperationGroup` subclass is wrapped, when
the class is created, by :func:`checked_keywords`: an unknown keyword raises ``TypeError`` naming
it and listing the accepted names, with a suggestion when one is close.

azure-core's per-call transport options (:data:`TRANSPORT_KEYWORDS`, such as ``logging_enable``
or ``headers``), which azure-ai-ml passes to its HTTP pipeline, are accepted and ignored: there
is no HTTP pipeline here.
"""

from __future__ import annotations

import functools
import inspect
from difflib import get_close_matches
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

TRANSPORT_KEYWORDS = frozenset({
    "logging_enable", "headers", "user_agent", "connection_timeout", "read_timeout",
    "retry_total", "polling_interval",
})
"""azure-core per-call options: accepted by every operation and ignored (no HTTP pipeline)."""

_BY_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def accepted_keywords(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The names ``fn`` takes as keyword arguments (``self`` left out), in signature order."""
    params = inspect.signature(fn).parameters.values()
    return tuple(p.name for p in params if p.kind in _BY_KEYWORD and p.name != "self")


def checked_keywords(fn: F, owner: str = "") -> F:
    """Wrap ``fn`` so that an unknown keyword argument raises ``TypeError`` naming it and the
    accepted names; :data:`TRANSPORT_KEYWORDS` are dropped. ``fn`` must not take ``**kwargs``."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        raise TypeError(f"{owner}.{fn.__name__} takes **kwargs; declare its keyword arguments")
    accepted = accepted_keywords(fn)
    known = frozenset(accepted)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not known.issuperset(kwargs):
            for key in [k for k in kwargs if k not in known]:
                if key not in TRANSPORT_KEYWORDS:
                    # name the class the method was called on, not the base that defines it
                    group = type(args[0]).__name__ if owner and args else owner
                    where = f"{group}.{fn.__name__}()" if group else f"{fn.__name__}()"
                    raise TypeError(_unknown(where, key, accepted))
                del kwargs[key]
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _unknown(where: str, key: str, accepted: tuple[str, ...]) -> str:
    close = get_close_matches(key, accepted, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    names = ", ".join(accepted) or "none"
    return f"{where} got an unexpected keyword argument {key!r}; it accepts: {names}.{hint}"


class OperationGroup:
    """Base of ``ml_client.models``, ``ml_client.jobs``...: holds the client, and checks the
    keyword arguments of every public method its subclasses define (see the module docstring)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(value):
                setattr(cls, name, checked_keywords(value, cls.__name__))
