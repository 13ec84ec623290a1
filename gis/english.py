"""English, the second locale: a count of one said in the singular.

The English words are written for many ("{n} cases in view", "{cases} open cases reassigned",
"{n} problem(s)"); filled with 1 they read "1 cases".  :func:`one_said_once` mends what was
filled, as ``wangge.fill`` does in the browser (``maps/static/wangge/wangge.js``), with the same
nouns.  Chinese counts have no plural."""

from __future__ import annotations

import re

#: the nouns the English words count, each made plural by an ``s`` (or written ``(s)``)
COUNTED = (
    "case", "grid", "day", "point", "row", "warning", "rating", "region", "photo", "minute",
    "week", "hour", "report", "village", "worker", "item", "problem", "file", "edit", "session",
    "account", "letter", "center", "user", "line", "second", "time", "notice", "record",
    "operation", "verification", "check-in", "note", "hotspot", "dispute", "hazard", "cell",
    "household", "login", "password", "number", "character", "code", "year", "description",
)  # fmt: skip
#: those made plural otherwise: the plural → the singular
PLURALS = {"entries": "entry", "parties": "party", "stretches": "stretch"}

# "1 cases", "1 open cases", "1 problem(s)", "1 entries"; not "11 cases", "2.1 days", "1,001 rows"
_NOUNS = "|".join(COUNTED)
_OTHERWISE = "|".join(PLURALS)
_ONE = re.compile(rf"(?<![\w.,])1 ((?:[a-z]+ )?)(?:({_NOUNS})(?:s|\(s\))|({_OTHERWISE}))(?![\w(])")


def one_said_once(text: str) -> str:
    """``text`` with each count of one in the singular: 1 case, 1 open case, 1 problem."""
    return _ONE.sub(lambda m: f"1 {m[1]}{m[2] or PLURALS[m[3]]}", text)
