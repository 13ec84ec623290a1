"""English, the second locale: counts of one in the singular."""

from __future__ import annotations

import pytest

from gis.english import one_said_once
from importers.core import Both


@pytest.mark.parametrize(
    ("filled", "said"),
    [
        ("1 cases in view", "1 case in view"),
        ("Hotspot: 1 cases, mostly fire", "Hotspot: 1 case, mostly fire"),
        ("1 problem(s) to solve first", "1 problem to solve first"),
        ("1 grids added, 2 changed; 1 open cases reassigned",
         "1 grid added, 2 changed; 1 open case reassigned"),
        ("Route: 1 points, about 0 m on patrol", "Route: 1 point, about 0 m on patrol"),
        ("1 check-ins sent.", "1 check-in sent."),
        ("; 1 grid workers affected", "; 1 grid worker affected"),
        ("open again with its 1 operations, to go on", "open again with its 1 operation, to go on"),
        # made plural otherwise
        ("1 entries, showing 1, newest first", "1 entry, showing 1, newest first"),
        ("22,000 cases (1 parties, encrypted)", "22,000 cases (1 party, encrypted)"),
        ("1 failed logins from this network address", "1 failed login from this network address"),
        ("2025-W48: 1 (1 disputes, 0 hazards)", "2025-W48: 1 (1 dispute, 0 hazards)"),
        # where "(s)" hedged the count before
        ("Only 1 recovery codes left", "Only 1 recovery code left"),
        ("closed more than 1 years ago", "closed more than 1 year ago"),
        ("; 1 descriptions with such numbers", "; 1 description with such numbers"),
        (" (1 stretches faster than 25 km/h", " (1 stretch faster than 25 km/h"),
        # not counts of one, or not counted nouns: as they are
        ("11 cases", "11 cases"),
        ("2.1 days", "2.1 days"),
        ("1,001 rows", "1,001 rows"),
        ("line 1: unreadable time", "line 1: unreadable time"),
        ("1 km of 3 grids", "1 km of 3 grids"),
        ("0 cases", "0 cases"),
        ("1 partiesx", "1 partiesx"),
    ],
)  # fmt: skip
def test_a_count_of_one_is_said_in_the_singular(filled: str, said: str) -> None:
    assert one_said_once(filled) == said


def test_an_imports_english_words_count_one_in_the_singular() -> None:
    """The summaries' and reports' words (``Both``): 1 case, in the English and in the JSON
    report's both-languages string; the Chinese as it is."""
    words = Both("1 件案件没有坐标", "1 cases without coordinates, filed by their village")
    assert words.en == "1 case without coordinates, filed by their village"
    assert str(words) == f"1 件案件没有坐标 ({words.en})"
    assert words.line(7).en == "line 7: 1 case without coordinates, filed by their village"


def test_the_browser_counts_the_same_nouns() -> None:
    """``wangge.fill`` (maps/static/wangge/wangge.js) keeps its own lists of the nouns: the same."""
    import json
    import re
    from pathlib import Path

    from gis.english import COUNTED, PLURALS

    script = Path(__file__).parents[2] / "maps" / "static" / "wangge" / "wangge.js"
    words = script.read_text(encoding="utf-8")
    listed = re.search(r"var COUNTED = \[([^\]]*)\]", words)
    assert listed is not None
    assert re.findall(r'"([a-z-]+)"', listed.group(1)) == list(COUNTED)
    otherwise = re.search(r"var PLURALS = (\{[^}]*\});", words)
    assert otherwise is not None and json.loads(otherwise.group(1)) == PLURALS


def test_the_pii_expiry_summary_counts_one_in_the_singular() -> None:
    """The retention run's English summary said "1 year(s)", "1 party(ies)"."""
    from datetime import UTC, datetime

    from gis.pii_expiry import Expiry

    one = Expiry(
        years=1, before=datetime(2025, 12, 7, tzinfo=UTC), cases=1, parties=1, idle=1,
        erased=True, descriptions=1,
    )  # fmt: skip
    said = one.summary("en")
    assert "more than 1 year ago" in said and "their 1 party erased" in said, said
    assert "1 description with" in said and "1 case not closed" in said, said
    assert "(" + "s)" not in said and "(ies)" not in said
