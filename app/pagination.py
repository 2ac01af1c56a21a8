"""Cursor (keyset) paging shared by every list: `?limit=&cursor=` in, `{items, next_cursor}` out."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import marshmallow as ma
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.errors import Unprocessable
from app.json_provider import parse_json, unstorable_text_paths

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class PageArgsSchema(ma.Schema):
    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT, validate=ma.validate.Range(min=1, max=MAX_LIMIT)
    )
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """`{items: [item], next_cursor}` for one item schema."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "next_cursor": ma.fields.String(allow_none=True),
        },
        name=name,
    )


@dataclass
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def encode_cursor(last_key: str) -> str:
    payload = json.dumps({"after": last_key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The key a cursor continues after; anything this API did not hand out is a 422.

    Every cursor-paged list decodes here, so this is where a forged cursor stops: the key
    is compared with ids (or names) in SQL, and PostgreSQL refuses text holding NUL (a 500
    there), as the database driver refuses lone surrogates. Keys are never empty.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = parse_json(base64.b64decode(padded, altchars=b"-_", validate=True))
        after = payload["after"]
        if not isinstance(after, str) or not after or unstorable_text_paths(after):
            raise ValueError(after)
        return after
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise Unprocessable(
            "The cursor is not one this API gave out.", errors={"cursor": ["Invalid cursor."]}
        ) from None


def paginate(
    session: Session,
    stmt: Select[Any],
    *,
    key: InstrumentedAttribute[str],
    limit: int,
    cursor: str | None,
    newest_first: bool = False,
) -> Page[Any]:
    """Page a select by a unique, ordered string key (our ids sort by creation time)."""
    if cursor:
        after = decode_cursor(cursor)
        stmt = stmt.where(key < after if newest_first else key > after)
    stmt = stmt.order_by(key.desc() if newest_first else key.asc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(getattr(rows[-1], key.key)) if has_more and rows else None
    return Page(items=rows, next_cursor=next_cursor)
