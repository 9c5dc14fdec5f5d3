"""Statistics for the bench: percentiles, and how sure a difference between ha-pair and raw
keepalived is. Both run the same failures at the same advert phases (run i of each hits phase i),
so the comparison is paired: the difference of each phase's two gaps, its median, and a
bootstrap 95 % interval of that median (resampled with a fixed seed: the same data give the same
interval)."""

from __future__ import annotations

import math
import random
import statistics

BOOTSTRAP_ROUNDS = 2000
SEED = 20261201


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values), "p95": percentile(values, 0.95), "min": min(values),
            "max": max(values), "n": len(values)}


def paired_difference(ours: list[float], theirs: list[float]) -> dict[str, float]:
    """Median of ours[i] - theirs[i] and its bootstrap 95 % interval. An interval that holds 0
    means the runs cannot tell the two apart."""
    if len(ours) != len(theirs) or not ours:
        raise ValueError("paired samples of equal, non-zero length are needed")
    differences = [a - b for a, b in zip(ours, theirs)]
    rng = random.Random(SEED)
    medians = sorted(statistics.median(rng.choices(differences, k=len(differences)))
                     for _ in range(BOOTSTRAP_ROUNDS))
    return {"median": statistics.median(differences), "ci95_low": medians[int(0.025 * BOOTSTRAP_ROUNDS)],
            "ci95_high": medians[int(0.975 * BOOTSTRAP_ROUNDS) - 1], "n": len(differences)}
