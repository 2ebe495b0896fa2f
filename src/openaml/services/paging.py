"""Pages of a list, by key ("keyset" paging): a page ends at the key of its last item, and the
next one starts strictly after it, in the list's own stable order.

Unlike an offset, a key does not move when items are added while pages are read: nothing that
was there from the start is skipped or repeated (an item added behind the reader's position is
simply not in the pages still to come, as a snapshot would not hold it). Every key is unique in
its list: a name among names, a sequence number among versions or jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Generic, Iterable, TypeVar, Union

T = TypeVar("T")
#: A position in a list: the key of the last item a page held (a name, or a sequence number).
Key = Union[str, int]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page: its items, and ``next``, the key to start the next page after (None: the last)."""

    items: list[T] = field(default_factory=list)
    next: Key | None = None


def page_of(items: Iterable[T], key: Callable[[T], Key], *, after: Key | None, limit: int,
            descending: bool = False) -> Page[T]:
    """The page of *items* (already in order: ascending by *key*, or descending) that starts
    strictly after *after* and holds at most *limit* items."""
    if limit < 1:
        raise ValueError("a page holds at least one item")
    page: list[T] = []
    for item in items:
        k = key(item)
        if after is not None and (k >= after if descending else k <= after):  # type: ignore[operator]
            continue
        if len(page) == limit:
            return Page(page, key(page[-1]))
        page.append(item)
    return Page(page, None)


def fill_page(fetch: Callable[[Key | None, int], list[T]], key: Callable[[T], Key], keep: Callable[[T], bool],
              *, after: Key | None, limit: int) -> Page[T]:
    """A page of at most *limit* kept items, read in batches from *fetch(after, n)* (the next
    *n* items of the list after a key, in order) when a filter (*keep*) the query could not
    apply drops some: pages stay full and the key marks where reading stopped."""
    page: list[T] = []
    position = after
    while True:
        batch = fetch(position, limit + 1)
        for i, item in enumerate(batch[:limit]):
            position = key(item)
            if keep(item):
                page.append(item)
                if len(page) == limit:
                    more = i + 1 < len(batch)
                    return Page(page, position if more else None)
        if len(batch) <= limit:
            return Page(page, None)
