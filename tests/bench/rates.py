"""Rates of rare events (false failovers per hour): how high a rate a count of events still allows."""

from __future__ import annotations

import math


def poisson_upper95(seen: int) -> float:
    """The one-sided 95 % upper bound of a Poisson mean when `seen` events were counted: the mean
    at which `seen` or fewer happen with probability 5 % (bisection; 2.996 for 0, the rule of three)."""
    def at_most(mean: float) -> float:
        term = total = math.exp(-mean)
        for k in range(1, seen + 1):
            term *= mean / k
            total += term
        return total

    low, high = 0.0, 10.0 + 3 * seen
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if at_most(middle) > 0.05 else (low, middle)
    return (low + high) / 2
