"""The intake's reply reads each new case's document by its id, not by joining two sets.

``wangge_intake_accept`` (migration 0023) ended with ``unnest(ids, …) LEFT JOIN
wangge_case_doc(ids) ON id``.  PL/pgSQL keeps a generic plan for that statement, which takes
both sides for about ten rows and joins them by a nested loop: for a 500-report batch, 250,000
comparisons of ids, about as long as building the 500 documents themselves (53 ms against 24
ms, measured with the generic plan).  Each item now reads its own document
(``LEFT JOIN LATERAL wangge_case_doc(ARRAY[id])``: an index lookup per case, 28 ms for 500).
One report's reply is unchanged.  Same signature, same result.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent
_JOIN = (
    "    LEFT JOIN wangge_case_doc(ids) d ON d.id = n.i;",
    "    LEFT JOIN LATERAL wangge_case_doc(ARRAY[n.i]) d ON true;",
)


def _accept_0023() -> str:
    """``wangge_intake_accept`` as migration 0023 made it."""
    spec = importlib.util.spec_from_file_location(
        "wangge_migration_0023", HERE / "0023_case_doc.py"
    )
    assert spec is not None and spec.loader is not None
    m23: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m23)
    text: str = m23._accept_0022()
    for old, new in (m23._RETURNS, m23._RETURN):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _accept(old: str, new: str) -> str:
    text = _accept_0023()
    assert text.count(old) == 1, old
    return text.replace(old, new)


def upgrade() -> None:
    op.execute(_accept(*_JOIN))


def downgrade() -> None:
    op.execute(_accept(_JOIN[0], _JOIN[0]))
