"""Conditional requests (If-None-Match, If-Match) for views that know their ETag up front.

flask-compress appends the coding to the strong ETag of a body it compressed (`"<tag>:zstd"`,
`:br`, `:gzip`, `:deflate`), and a client sends back the tag it got. The tag a view sets names
what the client saw (a module version in a language, a draft revision); the suffix only names
the encoding it travelled in, so both spellings name the same thing here. (flask-compress's own
conditional pass over every response is off: only these views set ETags.)
"""

from __future__ import annotations

from flask import request

# The codings flask-compress may append (its COMPRESS_ALGORITHM choices).
CODINGS = frozenset({"gzip", "deflate", "br", "zstd"})


def without_coding(tag: str) -> str:
    """The tag as the view set it: `abc.3:zstd` -> `abc.3`; any other tag as it is."""
    base, colon, coding = tag.rpartition(":")
    return base if colon and coding in CODINGS else tag


def matching_etag(etag: str) -> str | None:
    """The If-None-Match tag that names `etag` (sent as is, with a coding, weak or `*`).

    If-None-Match compares weakly (RFC 9110 13.1.2): a tag a proxy weakened still matches.
    """
    if request.if_none_match.star_tag:
        return etag
    for tag in request.if_none_match.as_set(include_weak=True):
        if without_coding(tag) == etag:
            return str(tag)
    return None


def if_match_tags() -> list[str] | None:
    """The strong If-Match tags without their coding; None for `*` or no header.

    If-Match compares strongly (RFC 9110 13.1.1): a weak tag never matches.
    """
    if "If-Match" not in request.headers or request.if_match.star_tag:
        return None
    return [without_coding(tag) for tag in request.if_match.as_set()]
