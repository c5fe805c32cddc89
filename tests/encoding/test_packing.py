"""The one greedy packer (:mod:`ner.encoding.packing`)."""

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from ner.encoding.packing import members, pack


def test_consecutive_items_fill_bins_up_to_the_limit() -> None:
    assert pack([3, 2, 4, 1, 1], 5) == [[0, 1], [2, 3], [4]]
    assert pack([], 5) == []


def test_an_item_over_the_limit_makes_a_bin_of_its_own() -> None:
    assert pack([2, 9, 2], 5) == [[0], [1], [2]]


@given(st.lists(st.integers(1, 20), max_size=40), st.integers(1, 30))
def test_bins_cover_every_item_in_order_within_the_limit(sizes: list[int], limit: int) -> None:
    bins = pack(sizes, limit)
    assert [i for b in bins for i in b] == list(range(len(sizes)))
    assert all(b for b in bins)
    assert all(sum(sizes[i] for i in b) <= limit or len(b) == 1 for b in bins)
    # greedy: the next bin's first item would not have fitted in the bin before
    assert all(sum(sizes[i] for i in a) + sizes[b[0]] > limit for a, b in pairwise(bins))


def test_members_lists_each_group_in_order_of_first_appearance() -> None:
    assert members([7, 3, 7, 5, 3]) == [[0, 2], [1, 4], [3]]
