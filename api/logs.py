"""What the server's access log may say of a request.

uvicorn logs each request's address with its query.  Some queries hold a resident's personal
data: a party's phone typed into 案件查询 (``/find?q=13800138000``), ``party_phone`` of the case
list, a login's way back to such a search (``/login?next=/find%3Fq%3D…``).  The database keeps
those phones encrypted and the audit log says who looked one up; the server's log, read by
whoever runs the machine and kept for weeks, would hold them in clear.  Their values are left
out of it; the rest of the address stays, for whoever reads the log to follow a request.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

#: the query parameters whose values may be a resident's personal data
PRIVATE_PARAMS = frozenset({"q", "party_phone", "next"})
#: what the log shows instead of such a value
HIDDEN = "*"


def without_private_values(target: str) -> str:
    """``target`` (a path and its query) with the values of :data:`PRIVATE_PARAMS` hidden."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    pairs = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and unquote_plus(name) in PRIVATE_PARAMS:
            pair = f"{name}={HIDDEN}"
        pairs.append(pair)
    return f"{path}?{'&'.join(pairs)}"


class PrivateQueryFilter(logging.Filter):
    """For uvicorn's access log (its record's third argument is the path with its query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], without_private_values(args[2]), *args[3:])
        return True


def hide_private_queries() -> None:
    """Install :class:`PrivateQueryFilter` on uvicorn's access log (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, PrivateQueryFilter) for f in access.filters):
        access.addFilter(PrivateQueryFilter())
