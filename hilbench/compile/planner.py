"""Arena planner: places every non-constant tensor (and kernel scratch) in one arena.

Greedy by size, like TFLite Micro's GreedyMemoryPlanner: buffers are placed largest first, each
at the lowest 16-byte-aligned offset that does not overlap a placed buffer alive at the same time.
"""

from __future__ import annotations

from dataclasses import dataclass

ALIGNMENT = 16


def align_up(value: int, alignment: int = ALIGNMENT) -> int:
    return (value + alignment - 1) // alignment * alignment


@dataclass
class Buffer:
    """A block of bytes alive from operator `first_use` to `last_use`, both inclusive."""

    key: str
    size: int
    first_use: int
    last_use: int
    offset: int = -1

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first_use <= other.last_use and other.first_use <= self.last_use


def plan_arena(buffers: list[Buffer]) -> int:
    """Assign `offset` to every buffer; returns the arena size in bytes (a multiple of 16)."""
    order = sorted(buffers, key=lambda b: (-b.size, b.first_use, b.key))
    placed: list[Buffer] = []
    for buffer in order:
        offset = 0
        for other in sorted((p for p in placed if p.overlaps_in_time(buffer)),
                            key=lambda p: p.offset):
            if offset + buffer.size <= other.offset:
                break
            offset = max(offset, align_up(other.offset + other.size))
        buffer.offset = offset
        placed.append(buffer)
    return align_up(max((b.offset + b.size for b in buffers), default=0))
