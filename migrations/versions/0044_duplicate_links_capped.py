"""A new case is linked to its ten nearest possible duplicates and to the first one, not to all.

``wangge_intake_register`` (migrations 0022, 0029) linked a new case to every open case of the
same category within 100 m and 72 h.  Where many reports come from one place — a flood, a fire,
a street market's dispute reported by every grid worker around it — each new report was linked
to all the reports before it: the links grow with the square of the reports, and so does the
time to take one in.  In the benchmark's hot spot, the 1,000th report wrote 1,010 links, which
took 17.5 of its ~50 ms in the database, and the operator was shown a thousand suggestions.

Now each new case is linked to at most ten of them, the nearest (the newer first at the same
distance), and always to the first (the earliest received: the incident's first report, to
which the desk settles the others).  Every report of a hot spot is still linked — never dropped
nor merged — and the links still join them all up, through the first report.  The candidates are
still all read (from the index by grid and time, migration 0029); only the links written are
fewer.

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-04
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent
#: the most nearest possible duplicates a new case is linked to (``gis.repeats.DUPLICATE_LINKS``)
NEAREST = 10
_CHANGES = (
    (
        "        INSERT INTO case_link (case_id, other_case_id, distance_m)\n"
        "        SELECT near.id, o.id, ST_Distance(o.geom::geography, near.geom::geography)\n"
        "        FROM near JOIN cases o\n",
        "        -- (to its ten nearest, the newer first, and to the first one: migration 0044)\n"
        "        INSERT INTO case_link (case_id, other_case_id, distance_m)\n"
        "        SELECT r.id, r.other, r.d FROM (\n"
        "        SELECT near.id, o.id AS other, dd.d,\n"
        "               row_number() OVER (PARTITION BY near.id ORDER BY dd.d, o.id DESC)"
        " AS nearest,\n"
        "               row_number() OVER (PARTITION BY near.id ORDER BY o.received_at, o.id)"
        " AS first\n"
        "        FROM near JOIN cases o\n",
    ),
    (
        "        WHERE o.id < near.id OR NOT (o.id = ANY(p_ids))\n",
        "        CROSS JOIN LATERAL (SELECT ST_Distance(o.geom::geography, near.geom::geography)"
        " AS d) dd\n"
        "        WHERE o.id < near.id OR NOT (o.id = ANY(p_ids))\n"
        f"        ) r WHERE r.nearest <= {NEAREST} OR r.first = 1\n",
    ),
)


def _register_0029() -> str:
    """``wangge_intake_register`` as migration 0029 made it, to be created or replaced."""
    spec = importlib.util.spec_from_file_location(
        "wangge_migration_0029", HERE / "0029_duplicates_by_index.py"
    )
    assert spec is not None and spec.loader is not None
    m29: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m29)
    text: str = m29._register_0022()
    for old, new in m29._CHANGES:
        text = text.replace(old, new)
    return text


def upgrade() -> None:
    text = _register_0029()
    for old, new in _CHANGES:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    op.execute(text)


def downgrade() -> None:
    op.execute(_register_0029())
