"""A server's collection read a page at a time, following ``nextLink`` as Azure's SDK does:
the first page is asked for at once (so a wrong name fails where the list was asked for), the
next ones only when iteration reaches them."""

from __future__ import annotations

from typing import Any, Callable, Generic, Iterator, TypeVar
from urllib.parse import parse_qsl, urlsplit

from openaml.client.http.session import HttpSession
from openaml.errors import ValidationError

T = TypeVar("T")
#: The most items a server puts in one page (what ``$top`` may ask for).
MAX_PAGE = 1000


class Paged(Generic[T]):
    """The items of ``GET path?params``, each made by *convert* from its JSON, at most *limit*.

    Iterable more than once (each iteration reads the pages after the first again);
    :meth:`by_page` gives the pages themselves, as azure-core's ``ItemPaged.by_page`` does.
    """

    def __init__(self, session: HttpSession, path: str, params: dict[str, Any] | None,
                 convert: Callable[[dict[str, Any]], T], *, limit: int | None = None) -> None:
        self._session, self._convert, self._limit = session, convert, limit
        self._first = session.json("GET", path, params=params)

    def by_page(self) -> Iterator[list[T]]:
        """Each page's items, in order (reading the next page only when asked)."""
        body, left = self._first, self._limit
        while True:
            items = [self._convert(item) for item in body.get("value") or []]
            if left is not None:
                items, left = items[:left], left - len(items[:left])
            yield items
            link = body.get("nextLink")
            if not link or left == 0:
                return
            path, params = self._same_server(link)
            body = self._session.json("GET", path, params=params)

    def __iter__(self) -> Iterator[T]:
        for page in self.by_page():
            yield from page

    def _same_server(self, link: Any) -> tuple[str, dict[str, str]]:
        """The path and query of *link*: a nextLink is followed on this client's server only
        (a link to another host never receives this client's requests, nor its credentials)."""
        parts = urlsplit(link) if isinstance(link, str) else None
        if parts is None or not parts.path.startswith("/") or parts.path.startswith("//"):
            raise ValidationError(f"the server answered a nextLink that is not a URL of a list: {link!r}",
                                  field="nextLink")
        return parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))
