"""Named random streams from one seed, and block sampling.

One run seed feeds a :class:`numpy.random.SeedSequence`. Every stream is keyed by a stable hash
(BLAKE2b, not Python's salted ``hash``) of names such as ``("partner", "shop", "arrivals")``, so
adding a partner or a pool leaves every other stream untouched and two scenarios that differ
only in limits or capacity see the same users doing the same things (common random numbers).

Streams are consumed through :class:`BlockSampler`, which draws values in numpy blocks and hands
them out one at a time: the per-call cost is a list index, not a numpy call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

__all__ = ["BlockSampler", "Streams", "replication_seed", "stream_key"]

_MAX_SEED = 2**63 - 1


def stream_key(*names: str) -> tuple[int, ...]:
    """A stable 128-bit key (four 32-bit words) for a tuple of names."""
    digest = hashlib.blake2b("\x1f".join(names).encode("utf-8"), digest_size=16).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def replication_seed(seed: int, replication: int) -> int:
    """The seed of replication ``replication`` derived from ``seed`` (the same at every sweep point)."""
    if seed < 0 or replication < 0:
        raise ValueError("seed and replication must be non-negative integers")
    ss = np.random.SeedSequence(seed, spawn_key=(0x5EED, replication))
    return int(ss.generate_state(2, np.uint64)[0]) & _MAX_SEED


class Streams:
    """Factory of independent generators keyed by names, all derived from one seed."""

    __slots__ = ("seed",)

    def __init__(self, seed: int) -> None:
        if not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)

    def generator(self, *names: str) -> np.random.Generator:
        """A fresh PCG64 generator for the stream named ``names``."""
        ss = np.random.SeedSequence(self.seed, spawn_key=stream_key(*names))
        return np.random.Generator(np.random.PCG64(ss))

    def sampler(
        self, draw: Callable[[np.random.Generator, int], np.ndarray], *names: str
    ) -> BlockSampler:
        """A :class:`BlockSampler` over its own stream ``names``."""
        gen = self.generator(*names)
        return BlockSampler(lambda n: draw(gen, n))

    def uniforms(self, *names: str) -> BlockSampler:
        """Uniform [0, 1) variates from the stream ``names``."""
        gen = self.generator(*names)
        return BlockSampler(gen.random)


class BlockSampler:
    """Hands out scalars from numpy blocks drawn on demand.

    Blocks start small (64 values) and double up to 4096, so thousands of streams cost little
    memory while busy streams pay one numpy call per 4096 values. The schedule of block sizes
    depends only on how many values were consumed, so a stream is fully reproducible.
    """

    __slots__ = ("_block", "_buf", "_draw", "_i", "_n")

    def __init__(self, draw: Callable[[int], np.ndarray], first_block: int = 64) -> None:
        self._draw = draw
        self._block = first_block
        self._buf: list[float] = []
        self._i = 0
        self._n = 0

    def _refill(self) -> None:
        self._buf = self._draw(self._block).tolist()
        self._n = len(self._buf)
        self._i = 0
        if self._block < 4096:
            self._block *= 2

    def __call__(self) -> float:
        """The next value of the stream."""
        if self._i >= self._n:
            self._refill()
        i = self._i
        self._i = i + 1
        return self._buf[i]
