"""Named random streams from one seed, and block sampling.

One run seed feeds a :class:`numpy.random.SeedSequence`. Every stream is keyed by a stable hash
(BLAKE2b, not Python's salted ``hash``) of names such as ``("partner", "shop", "arrivals")``, so
adding a partner or a pool leaves every other stream untouched and two scenarios that differ
only in limits or capacity see the same users doing the same things (common random numbers).

Streams are consumed through :func:`block_sampler`, which draws values in numpy blocks and hands
them out one at a time: the per-call cost is a list index, not a numpy call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = [
    "Sampler",
    "Streams",
    "block_sampler",
    "replication_seed",
    "stream_key",
    "uniform_draw",
]

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

    def draws(
        self, draw: Callable[[np.random.Generator, int], Any], *names: str
    ) -> Callable[[int], Any]:
        """``n -> draw(gen, n)`` on the stream ``names``, its generator made on the first call.

        A stream's values depend only on the seed and its names, not on when its generator
        is made, so a stream a run never touches (retries of a run without errors, the call
        log of a run without one) costs nothing."""
        gen: np.random.Generator | None = None

        def first_then_next(n: int) -> Any:
            nonlocal gen
            if gen is None:
                gen = self.generator(*names)
            return draw(gen, n)

        return first_then_next

    def sampler(
        self, draw: Callable[[np.random.Generator, int], np.ndarray], *names: str
    ) -> Sampler:
        """A :func:`block_sampler` over its own stream ``names`` (made on first use)."""
        return block_sampler(self.draws(draw, *names))

    def uniforms(self, *names: str) -> Sampler:
        """Uniform [0, 1) variates from the stream ``names`` (made on first use)."""
        return block_sampler(self.draws(uniform_draw, *names))


def uniform_draw(gen: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniform [0, 1) variates of ``gen`` (a draw for :meth:`Streams.draws`)."""
    return gen.random(n)


MAX_BLOCK = 4096
"""The largest block a sampler draws at once (values)."""

Sampler = Callable[[], Any]
"""A stream consumed one value at a time: each call returns its next value."""


def block_sampler(draw: Callable[[int], np.ndarray], first_block: int = 64) -> Sampler:
    """Hand out the values of ``draw(n)`` one at a time, drawn in numpy blocks on demand.

    Blocks start small (``first_block`` values) and double up to :data:`MAX_BLOCK` (4096), so
    thousands of streams cost little memory while busy streams pay one numpy call per 4096
    values. The schedule of block sizes depends only on how many values were consumed, so a
    stream is fully reproducible. The sampler is the ``__next__`` of a generator over the
    blocks: a call costs less than a Python method would.
    """
    return _blocks(draw, first_block).__next__


def _blocks(draw: Callable[[int], np.ndarray], block: int) -> Iterator[Any]:
    while True:
        yield from draw(block).tolist()
        if block < MAX_BLOCK:
            block *= 2
