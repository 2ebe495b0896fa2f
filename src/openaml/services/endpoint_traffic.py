"""Azure's traffic rules for online endpoints, as pure functions.

- ``traffic`` maps deployments to whole percentages that sum to 100 (or to nothing: all zero,
  or empty, and then only requests naming a deployment are served);
- ``mirror_traffic`` copies a share of live requests to at most one deployment, at most 50%,
  and never to a deployment that takes live traffic;
- every deployment named must exist on the endpoint.

``parse_traffic`` reads the CLI's ``"blue=90 green=10"``; :func:`check_traffic` raises one
:class:`ValidationError` naming the field and the rule that was broken.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from openaml.errors import ValidationError
from openaml.names import shown

MIRROR_MAX = 50


def parse_traffic(text: str, *, field: str = "traffic") -> dict[str, int]:
    """``"blue=90 green=10"`` (spaces or commas between pairs) as ``{"blue": 90, "green": 10}``."""
    result: dict[str, int] = {}
    for pair in text.replace(",", " ").split():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValidationError(f"{shown(pair)} is not <deployment>=<percentage>, e.g. \"blue=90 green=10\"",
                                  field=field)
        try:
            number = int(value)
        except ValueError:
            raise ValidationError(f"the share of {shown(name)} must be a whole percentage, not {shown(value)}",
                                  field=field) from None
        if name in result:
            raise ValidationError(f"{shown(name)} is given twice", field=field)
        result[name] = number
    return result


def check_traffic(traffic: Mapping[str, int], mirror: Mapping[str, int], deployments: Iterable[str]) -> None:
    """Raise :class:`ValidationError` unless *traffic* and *mirror* follow Azure's rules for an
    endpoint whose deployments are *deployments*."""
    known = set(deployments)
    for field, shares in (("traffic", traffic), ("mirror_traffic", mirror)):
        for name, value in shares.items():
            if name not in known:
                have = ", ".join(sorted(known)) or "none yet"
                raise ValidationError(f"deployment {shown(name)} does not exist on this endpoint (deployments: "
                                      f"{have})", field=f"{field}.{name}")
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise ValidationError(f"the share of {shown(name)} must be a whole percentage from 0 to 100, "
                                      f"not {value!r}", field=f"{field}.{name}")
    total = sum(traffic.values())
    if total not in (0, 100):
        raise ValidationError(f"traffic must sum to 100 (it sums to {total})", field="traffic")
    live = [name for name, value in mirror.items() if value > 0]
    if len(live) > 1:
        raise ValidationError("mirror_traffic may copy requests to one deployment only", field="mirror_traffic")
    for name in live:
        if mirror[name] > MIRROR_MAX:
            raise ValidationError(f"at most {MIRROR_MAX}% of requests can be mirrored, not {mirror[name]}% "
                                  f"(to {shown(name)})", field=f"mirror_traffic.{name}")
        if traffic.get(name, 0) > 0:
            raise ValidationError(f"deployment {shown(name)} takes live traffic ({traffic[name]}%), so it cannot "
                                  "also receive mirrored traffic", field=f"mirror_traffic.{name}")
