"""Secrets: the one way every resource splits its secret fields off and puts them back.

A field is secret when it is declared :data:`~openaml.entities._base.SecretText` (a datastore's
``account_key``/``sas_token``/``client_secret``/``certificate``, a compute's
``ssh_settings.admin_password``, and every secret added later). Nothing else marks a secret, and
a test walks every entity class so that a secret-looking field cannot be added without it.

:func:`split_secrets` walks an entity, its nested entities and lists and dicts of them, and
returns a copy with every secret set to None plus the secrets as a nested dict shaped like the
entity, e.g. ``{"ssh_settings": {"admin_password": "..."}}`` (list items and dict values are keyed
by their index or key, as text). A service encrypts that dict with the workspace's key
(:class:`openaml.store.secrets.SecretBox`) and stores it in the resource's sealed column, beside
the public spec and never in it. :func:`merge_secrets` puts decrypted secrets back where the
service offers an opt-in (``include_secrets=True``); :func:`redact` is what edges show.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from openaml.errors import ValidationError

from ._base import is_secret_field

__all__ = ["merge_secrets", "redact", "split_secrets"]

M = TypeVar("M", bound=BaseModel)
Secrets = dict[str, Any]


def split_secrets(model: M) -> tuple[M, Secrets]:
    """``(copy of model with every secret None, {field: secret or nested secrets})``.

    *model* itself is not changed. An entity without secrets gives ``(copy, {})``.
    """
    updates: dict[str, Any] = {}
    secrets: Secrets = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        if is_secret_field(info):
            secrets[name], updates[name] = value, None
            continue
        public, inner = _split_value(value)
        if inner:
            secrets[name], updates[name] = inner, public
    return model.model_copy(update=updates), secrets


def _split_value(value: Any) -> tuple[Any, Secrets]:
    if isinstance(value, BaseModel):
        return split_secrets(value)
    if isinstance(value, (list, tuple)):
        parts = [_split_value(item) for item in value]
        secrets = {str(i): inner for i, (_, inner) in enumerate(parts) if inner}
        return (type(value)(public for public, _ in parts) if secrets else value), secrets
    if isinstance(value, dict):
        parts = {key: _split_value(item) for key, item in value.items()}
        secrets = {str(key): inner for key, (_, inner) in parts.items() if inner}
        return ({key: public for key, (public, _) in parts.items()} if secrets else value), secrets
    return value, {}


def merge_secrets(model: M, secrets: Secrets, *, missing_ok: bool = False) -> M:
    """A copy of *model* with *secrets* (as :func:`split_secrets` gave them) put back.

    A secret whose place no longer exists (the field is gone, or its parent is None) raises
    :class:`ValidationError`, or is dropped with ``missing_ok=True``. Messages name fields,
    never values.
    """
    updates: dict[str, Any] = {}
    fields = type(model).model_fields
    for name, secret in secrets.items():
        info = fields.get(name)
        current = getattr(model, name) if info is not None else None
        if info is not None and is_secret_field(info):
            updates[name] = secret
        elif current is not None and isinstance(secret, dict):
            updates[name] = _merge_value(current, secret, missing_ok, name)
        elif not missing_ok:
            raise ValidationError(f"{type(model).__name__} has no place for the secret '{name}'", field=name)
    return model.model_copy(update=updates)


def _merge_value(value: Any, secrets: Secrets, missing_ok: bool, field: str) -> Any:
    if isinstance(value, BaseModel):
        return merge_secrets(value, secrets, missing_ok=missing_ok)
    if isinstance(value, (list, tuple, dict)):
        keyed = dict(enumerate(value)) if not isinstance(value, dict) else dict(value)
        by_text = {str(key): key for key in keyed}
        for text, inner in secrets.items():
            if text in by_text:
                keyed[by_text[text]] = _merge_value(keyed[by_text[text]], inner, missing_ok, f"{field}.{text}")
            elif not missing_ok:
                raise ValidationError(f"no item '{text}' holds the secret '{field}.{text}'", field=field)
        return keyed if isinstance(value, dict) else type(value)(keyed[i] for i in range(len(value)))
    if missing_ok:
        return value
    raise ValidationError(f"'{field}' holds no entity to put its secrets back into", field=field)


def redact(model: M) -> M:
    """A copy of *model* without any secret value: what an edge may print."""
    return split_secrets(model)[0]
