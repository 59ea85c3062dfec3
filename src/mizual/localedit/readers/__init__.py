"""The readers of the rule parser: each turns a clause that a rule claimed for an operation into
that operation's parameters ("darken it by 30%" into amount -0.3), or declines with None so that
later rules may try.

`quantities.py` reads numbers, units and intensity words, and the shapes of parameter most
operations share (a signed change, a strength, a 0..1 amount, a radius); `adjustments.py` holds
the readers of light, colour, detail and the background, `geometry.py` those of turns, mirrors,
crops and sizes.
"""

from __future__ import annotations

Params = dict[str, float | int | str]
Steps = list[tuple[str, Params]]  # (operation, parameters)


class Hint(Exception):
    """A rule recognised the clause but it lacks something; the message says what."""


def none(_clause: str) -> Params:
    """The reader of an operation that takes no parameters."""
    return {}
