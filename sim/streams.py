"""Named random streams derived from one seed.

Every draw in a run comes from a stream named for its purpose (shopping, choice,
adoption, ...). A stream depends only on the run's seed and its name, so switching a
policy on does not reshuffle unrelated draws: scenario comparisons on the same seed
use common random numbers.
"""

from __future__ import annotations

import zlib

import numpy as np

STREAMS = ("region", "population", "placement", "shopping", "choice", "adoption", "strategy", "sample", "trial",
           "demography", "property", "leases", "development",
           "administrations", "consideration", "travel")


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator for purpose ``name`` in the run seeded with ``seed``."""
    if name not in STREAMS:
        raise ValueError(f"unknown random stream {name!r}; known streams: {', '.join(STREAMS)}")
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(key,))))


class Streams:
    """All streams of one run, created on first use."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._cache: dict[str, np.random.Generator] = {}

    def __getattr__(self, name: str) -> np.random.Generator:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._cache:
            self._cache[name] = stream(self.seed, name)
        return self._cache[name]
