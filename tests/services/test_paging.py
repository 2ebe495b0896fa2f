"""Keyset pages (openaml.services.paging): read to the end, with items added between pages,
every item there from the start comes exactly once, in order, whatever the page size and filter."""

from __future__ import annotations

import bisect

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openaml.services.paging import Page, fill_page, page_of

_keys = st.lists(st.integers(0, 500), unique=True, max_size=40)


@given(initial=_keys, added=st.lists(st.lists(st.integers(0, 500), max_size=5), max_size=12),
       limit=st.integers(1, 7), descending=st.booleans())
def test_items_added_between_pages_never_cost_or_repeat_an_item(initial, added, limit, descending):
    items = sorted(initial, reverse=descending)
    seen: list[int] = []
    after = None
    for round_ in range(200):
        page = page_of(list(items), lambda k: k, after=after, limit=limit, descending=descending)
        assert len(page.items) <= limit
        seen += page.items
        if page.next is None:
            break
        after = page.next
        for key in (added[round_] if round_ < len(added) else []):  # new items, anywhere
            if key not in items:
                items.append(key)
                items.sort(reverse=descending)
    assert len(seen) == len(set(seen))
    assert set(initial) <= set(seen)
    assert seen == sorted(seen, reverse=descending)


@given(keys=_keys, limit=st.integers(1, 6), kept=st.sets(st.integers(0, 500)))
def test_filtered_pages_stay_full_and_lose_nothing(keys, limit, kept):
    ordered = sorted(keys)
    fetched: list[int] = []

    def fetch(after, n):
        fetched.append(n)
        start = 0 if after is None else bisect.bisect_right(ordered, after)
        return ordered[start:start + n]

    pages: list[Page[int]] = []
    after = None
    while True:
        page = fill_page(fetch, lambda k: k, lambda k: k in kept, after=after, limit=limit)
        pages.append(page)
        if page.next is None:
            break
        assert len(page.items) == limit  # a page with a next one is full
        after = page.next
    assert [k for p in pages for k in p.items] == [k for k in ordered if k in kept]
    assert all(n == limit + 1 for n in fetched)


def test_a_page_holds_at_least_one_item():
    with pytest.raises(ValueError):
        page_of([1, 2], lambda k: k, after=None, limit=0)
