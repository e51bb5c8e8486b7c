"""Helpers shared by the UI handler tests: control values from params, and a generator's last output."""

from __future__ import annotations

from playground.params import build
from playground.ui import controls


def values(**kw) -> list:
    """The control values (in `controls.NAMES` order) for these parameters."""
    return controls.to_values(build(**kw))


def with_value(vals: list, name: str, v) -> list:
    out = list(vals)
    out[controls.NAMES.index(name)] = v
    return out


def last(gen):
    return list(gen)[-1]
