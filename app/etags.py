"""If-None-Match for views that know their ETag before doing the work.

flask-compress suffixes the ETag of a body it compressed (`"<etag>:gzip"`), and a phone
sends back the tag it got; the views here match both spellings. (flask-compress's own
conditional pass over every response is off: only these views set ETags.)
"""

from __future__ import annotations

from flask import request


def matching_etag(etag: str) -> str | None:
    """The If-None-Match tag that names `etag`, as sent or as flask-compress suffixed it."""
    for tag in request.if_none_match.as_set():
        if tag == etag or tag.startswith(etag + ":"):
            return str(tag)
    return None
