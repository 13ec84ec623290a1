"""Row-level security on cases: the caller's scope is read once per statement, not per row.

The policy ``cases_in_scope`` (migrations 0002, 0006) called ``current_setting`` and then the
PL/pgSQL function ``wangge_in_scope(VARIADIC ARRAY[…])`` for every row it checked: a function
call, an array built of the four codes and a setting looked up by name, about 3 µs a row.  A
city desk counting its centers' open cases, or a township's list scanning its year, paid that on
hundreds of thousands of rows.

Now the setting is read in scalar subqueries (``(SELECT current_setting(…))``), which PostgreSQL
evaluates once per statement (InitPlans), and compared to the four codes with ``IN``.  The same
rows pass: ``'*'`` sees every case; a region code sees the cases whose city, district, township
or village it is; an unset or empty scope sees none.  On a million cases, counting a township's
(as the app role): 1.59 s before, 0.47 s after; the city's 1.58 s → 0.56 s.  Being only
comparisons of a column with a value, the condition is also leakproof now.

``wangge_cases_in_view`` (migration 0026), which writes the policy's condition into its own
query, gets the same text.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-03
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

HERE = Path(__file__).parent
CODES = "city_code, district_code, township_code, village_code"
SCOPE = "(SELECT current_setting('wangge.scope', true))"
POLICY = f"{SCOPE} = '*' OR {SCOPE} IN ({CODES})"
POLICY_0006 = f"current_setting('wangge.scope', true) = '*' OR wangge_in_scope({CODES})"

# the same condition inside wangge_cases_in_view's quoted query text, on cases ``c``
_IN_VIEW_0026 = """(current_setting(''wangge.scope'', true) = ''*''
                     OR wangge_in_scope(VARIADIC ARRAY[c.city_code, c.district_code,
                                                       c.township_code, c.village_code]))"""
_IN_VIEW = """((SELECT current_setting(''wangge.scope'', true)) = ''*''
                     OR (SELECT current_setting(''wangge.scope'', true))
                        IN (c.city_code, c.district_code, c.township_code, c.village_code))"""


def _in_view(condition: str) -> str:
    """``wangge_cases_in_view`` as migration 0026 made it, its policy condition ``condition``."""
    spec = importlib.util.spec_from_file_location(
        "wangge_migration_0026", HERE / "0026_heat_without_100m.py"
    )
    assert spec is not None and spec.loader is not None
    m26: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m26)
    text: str = m26.IN_VIEW
    assert text.count(_IN_VIEW_0026) == 1 and text.count("CREATE FUNCTION") == 1
    return text.replace(_IN_VIEW_0026, condition).replace(
        "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"
    )


def upgrade() -> None:
    op.execute(f"ALTER POLICY cases_in_scope ON cases USING ({POLICY}) WITH CHECK ({POLICY})")
    op.execute(_in_view(_IN_VIEW))


def downgrade() -> None:
    op.execute(
        f"ALTER POLICY cases_in_scope ON cases USING ({POLICY_0006}) WITH CHECK ({POLICY_0006})"
    )
    op.execute(_in_view(_IN_VIEW_0026))
