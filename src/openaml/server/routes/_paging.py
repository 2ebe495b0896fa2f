"""Pages of the server's collections, as Azure's list operations return them: ``{"value":
[...], "nextLink": ...}``, ``nextLink`` being the same request with an opaque ``$skipToken``.

A request asks for at most ``$top`` items (``count``, Azure's name on some lists, is taken too;
the server's ``page_size`` by default, at most :data:`MAX_TOP`). A token holds where the last page
ended (a key of the list's stable order, see :mod:`openaml.services.paging`), the list it belongs
to (a digest of the path and the filters of the query), and a checksum: a token that was cut,
changed, forged for another list or is not a token at all is a 400 naming ``$skipToken``, never a
500. Azure ML's generated clients send a continuation token as ``$skip``: it is read the same way.

A token is not a secret and grants nothing: it names a position in a list its bearer may read
whole anyway, and it stays valid across restarts and between servers on one database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request

from openaml.errors import ValidationError
from openaml.rest.envelope import collection
from openaml.server.routes._common import state_of
from openaml.services.paging import Key, Page, page_of

T = TypeVar("T")

#: The most items one page holds.
MAX_TOP = 1000
#: A token is short; anything longer is refused before it is decoded.
MAX_TOKEN_CHARS = 1024
TOKEN_PARAMS = ("$skipToken", "$skip")
_NOT_BOUND = frozenset({*TOKEN_PARAMS, "$top", "count", "api-version"})
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,1000}\.[A-Za-z0-9_-]{16}$")
_VERSION = 1
_SALT = b"openaml page token\x00"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _checksum(raw: bytes) -> str:
    return _b64(hashlib.sha256(_SALT + raw).digest()[:12])


def encode_token(binding: str, after: Key) -> str:
    """The token for the page that starts after *after* in the list *binding* names."""
    raw = json.dumps([_VERSION, binding, after], separators=(",", ":")).encode()
    return f"{_b64(raw)}.{_checksum(raw)}"


def decode_token(token: str, binding: str, key_type: type, field: str = "$skipToken") -> Key:
    """The position *token* holds, if it is one this server made for the list *binding* names."""
    def bad(why: str) -> ValidationError:
        return ValidationError(f"{field} is not a page token of this list ({why}); start from the first page "
                               "and follow nextLink", field=field)

    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not _TOKEN.match(token):
        raise bad("malformed")
    body, check = token.split(".")
    try:
        raw = _unb64(body)
    except (binascii.Error, ValueError):
        raise bad("malformed") from None
    if not hmac.compare_digest(_checksum(raw), check):
        raise bad("its checksum does not match")
    try:
        version, bound, after = json.loads(raw)
    except (ValueError, TypeError):
        raise bad("malformed") from None
    if version != _VERSION:
        raise bad("made by another version of the server")
    if bound != binding:
        raise bad("it belongs to another list or other filters")
    if type(after) is not key_type or (key_type is str and len(after) > 1024) or \
            (key_type is int and not 0 <= after < 2**63):
        raise bad("it holds no position of this list")
    return after


@dataclass(frozen=True)
class PageRequest:
    """What a list request asks for: at most ``top`` items, after ``token`` (undecoded)."""

    request: Request
    top: int
    token: str | None
    token_field: str

    @property
    def binding(self) -> str:
        """The list a token belongs to: the path and the filters of the query, not the paging."""
        query = sorted((k, v) for k, v in self.request.query_params.multi_items() if k not in _NOT_BOUND)
        text = self.request.url.path + "?" + urlencode(query)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def after(self, key_type: type) -> Key | None:
        """The position to start after (None on the first page); a bad token is a 400."""
        if self.token is None:
            return None
        return decode_token(self.token, self.binding, key_type, self.token_field)

    def next_link(self, after: Key | None) -> str | None:
        """This request again, for the page after *after* (None: there is none)."""
        if after is None:
            return None
        url = self.request.url.remove_query_params(TOKEN_PARAMS)
        return str(url.include_query_params(**{"$skipToken": encode_token(self.binding, after)}))

    def respond(self, page: Page[T], resource: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
        """The page in Azure's collection shape."""
        return collection((resource(item) for item in page.items), self.next_link(page.next))


def page_request(request: Request,
                 top: int | None = Query(None, alias="$top", ge=1, le=MAX_TOP,
                                         description="At most this many items in this page."),
                 count: int | None = Query(None, ge=1, le=MAX_TOP, description="Azure's other name for $top."),
                 skip_token: str | None = Query(None, alias="$skipToken", max_length=MAX_TOKEN_CHARS,
                                                description="Where the page starts: from a nextLink (opaque)."),
                 skip: str | None = Query(None, alias="$skip", max_length=MAX_TOKEN_CHARS,
                                          description="Azure ML's name for $skipToken.")) -> PageRequest:
    """Dependency: the paging of a list request."""
    if skip_token is not None and skip is not None and skip_token != skip:
        raise ValidationError("give $skipToken or $skip, not two different tokens", field="$skipToken")
    size = top or count or state_of(request).settings.page_size
    token, field = (skip_token, "$skipToken") if skip_token is not None else (skip, "$skip")
    return PageRequest(request, min(size, MAX_TOP), token, field)


def page_items(items: Iterable[T], key: Callable[[T], Key], pages: PageRequest, key_type: type = str) -> Page[T]:
    """The requested page of a list held whole in memory, in the order of *key* (unique)."""
    return page_of(sorted(items, key=key), key, after=pages.after(key_type), limit=pages.top)
