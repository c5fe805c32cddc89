"""The one greedy packer: consecutive items into bins up to a size, which tagging, training, the
document memory, context windows and distillation all use."""

from __future__ import annotations

from collections.abc import Sequence


def pack(sizes: Sequence[int], limit: int) -> list[list[int]]:
    """Indices of ``sizes``, in order, cut into consecutive bins whose sizes add up to at most
    ``limit``; an item bigger than ``limit`` makes a bin of its own. No bin is empty."""
    bins: list[list[int]] = []
    filled = 0
    for i, size in enumerate(sizes):
        if not bins or filled + size > limit:
            bins.append([])
            filled = 0
        bins[-1].append(i)
        filled += size
    return bins


def members(groups: Sequence[int]) -> list[list[int]]:
    """Indices of ``groups`` (a group per item), one list per group, groups in order of first
    appearance."""
    by_group: dict[int, list[int]] = {}
    for k, group in enumerate(groups):
        by_group.setdefault(group, []).append(k)
    return list(by_group.values())
