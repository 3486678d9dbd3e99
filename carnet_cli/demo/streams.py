"""The demo's random streams: every draw is keyed by (seed, purpose), so a longer horizon or
another part of the town drawing more values never changes the values already drawn."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def stream(seed: int, *purpose) -> np.random.Generator:
    """An independent, prefix-stable stream per purpose (a longer horizon draws more values
    but leaves the first ones unchanged)."""
    key = [int(seed)] + [int(hashlib.sha256(str(p).encode()).hexdigest()[:8], 16) for p in purpose]
    return np.random.default_rng(key)


def uniform(seed: int, purpose: str, *keys: np.ndarray) -> np.ndarray:
    """A uniform [0, 1) draw per element, keyed by its values (splitmix64): the same booking
    gets the same draw however many others are generated around it."""
    with np.errstate(over="ignore"):
        x = np.full(np.broadcast(*keys).shape, np.uint64(stream(seed, purpose).integers(2**63)))
        for k in keys:
            x = x ^ np.asarray(k).astype(np.uint64)
            x = x + np.uint64(0x9E3779B97F4A7C15)
            x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """AR(1) with stationary standard deviation `sd`, vectorised through an EWM."""
    innov = rng.standard_normal(n) * sd * np.sqrt(1 - phi**2)
    alpha = 1.0 - phi
    return pd.Series(innov / alpha).ewm(alpha=alpha, adjust=False).mean().to_numpy()
