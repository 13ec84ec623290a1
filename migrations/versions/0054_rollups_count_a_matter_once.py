"""The map roll-ups count a matter once: a case merged into another (并案) is left out.

The daily roll-up, ``/api/stats`` and the safety index leave merged cases out (migration 0050:
two reports of one matter count once, by the case that carries it).  The command map did not:
its grid colours (``case_grid_day``) and its heat (``case_heat``) counted both reports, so a
township's map showed more cases than its roll-up for the same days.

Now the roll-ups follow the merge link (``case_link`` of kind ``merged_into``, in force while
``confirmed``):

* a trigger on ``case_link`` takes a case out of both roll-ups when a merge comes into force
  (inserted, or set back to ``confirmed``) and puts it back when it ends (``unlinked`` when the
  case is reopened, or the link deleted), counting the case's own place, time, kind and
  category;
* ``wangge_rollup_moved`` leaves merged cases out on both sides of an update (a merged case
  that moved was not counted before and is not after);
* ``wangge_rollup_rebuild`` (bulk imports) counts cases that are not merged;
* ``wangge_cases_in_view`` (the heat binned from raw cases at street level, and the hotspots)
  leaves them out too, so a view's heat is the same read from either;
* the merged cases of today are taken out of the roll-ups once, here.

A deleted case is taken out by ``wangge_rollup_deleted`` as before: its links must go first (a
foreign key), and a merge link deleted puts the case back, so the two net to nothing.  Case
points on the map (vector tiles) still show every report: a merged report is a closed case of
its own, found where it was made.

Revision ID: 0054
Revises: 0053
Create Date: 2026-12-05
"""

from alembic import op

from gis.db import earlier_migration as _migration

revision = "0054"
down_revision = "0053"
branch_labels = None
depends_on = None

_ROLLUPS = _migration("0013_map_rollups.py")
COLUMNS = _ROLLUPS.COLUMNS
APPLY = _ROLLUPS.APPLY
#: a merge in force on case ``{alias}`` (``case_link_merged_once`` holds one at most per case)
MERGED = (
    "EXISTS (SELECT 1 FROM case_link ml WHERE ml.case_id = {alias}.id "
    "AND ml.kind = 'merged_into' AND ml.status = 'confirmed')"
)
_IN_FORCE = "kind = 'merged_into' AND status = 'confirmed'"


def _link_changes(sides: str) -> str:
    """A trigger branch: the cases whose merge came into force (-1) or ended (+1), from the
    transition tables in ``sides``, counted in both roll-ups with their own columns."""
    return f"""
        WITH delta AS (
            SELECT s.case_id, sum(s.sign) AS sign FROM ({sides}) s
            GROUP BY 1 HAVING sum(s.sign) <> 0
        ), changed AS (
            SELECT d.sign, {", ".join("c." + c.strip() for c in COLUMNS.split(","))}
            FROM delta d JOIN cases c ON c.id = d.case_id
        ),
        {APPLY}"""


_ENTERED = f"SELECT case_id, -1 AS sign FROM new_rows WHERE {_IN_FORCE}"
_ENDED = f"SELECT case_id, 1 AS sign FROM old_rows WHERE {_IN_FORCE}"

LINK_TRIGGER = rf"""
CREATE FUNCTION wangge_rollup_merged() RETURNS trigger
LANGUAGE plpgsql
-- every jurisdiction's cases: a merge changes the counts wherever the case is
SET "wangge.scope" TO '*'
AS $$
BEGIN
    -- (the intake inserts possible duplicates on every report: those change nothing here)
    IF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT 1 FROM new_rows WHERE {_IN_FORCE}) THEN
            RETURN NULL;
        END IF;
        {_link_changes(_ENTERED)}
    ELSIF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows WHERE {_IN_FORCE}) THEN
            RETURN NULL;
        END IF;
        {_link_changes(_ENDED)}
    ELSE
        IF NOT EXISTS (SELECT 1 FROM new_rows WHERE {_IN_FORCE})
           AND NOT EXISTS (SELECT 1 FROM old_rows WHERE {_IN_FORCE}) THEN
            RETURN NULL;
        END IF;
        {_link_changes(f"{_ENTERED} UNION ALL {_ENDED}")}
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER case_link_rollup_insert AFTER INSERT ON case_link
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_rollup_merged();
CREATE TRIGGER case_link_rollup_update AFTER UPDATE ON case_link
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_rollup_merged();
CREATE TRIGGER case_link_rollup_delete AFTER DELETE ON case_link
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_rollup_merged();
"""


def _every_case(sql: str) -> str:
    """``sql``'s PL/pgSQL function reading every jurisdiction's merge links (the case_link policy
    shows a link to those who may see its case; the counts are everyone's)."""
    plain = "LANGUAGE plpgsql AS $$"
    assert sql.count(plain) == 1
    return sql.replace(plain, "LANGUAGE plpgsql SET \"wangge.scope\" TO '*' AS $$")


def _moved(merged_left_out: bool) -> str:
    """``wangge_rollup_moved`` as migration 0037 made it, or with merged cases left out."""
    sql: str = _migration("0037_rollup_moved_without_join.py")._upgrade_sql()
    if not merged_left_out:
        return sql
    sql = _every_case(sql)
    # the counted columns of the rows that are not merged; the early exit stays on all rows
    # (when nothing moved, nothing did)
    diff = "    WITH changed AS ("
    assert sql.count(diff) == 1
    head, tail = sql.split(diff)
    for side in ("new_rows", "old_rows"):
        counted = f"(SELECT * FROM {side} r WHERE NOT {MERGED.format(alias='r')}) {side}"
        tail = tail.replace(f"FROM {side}", f"FROM {counted}")
    return head + diff + tail


def _rebuild(merged_left_out: bool) -> str:
    """``wangge_rollup_rebuild`` as migration 0020 made it, or counting cases not merged."""
    sql: str = _migration("0020_rollup_rebuild.py").UPGRADE
    sql = sql.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
    if not merged_left_out:
        return sql
    sql = _every_case(sql)
    heat = "FROM cases c, wangge_heat_cells(c.geom) cell\n"
    grids = "FROM cases c WHERE c.grid_code IS NOT NULL\n"
    assert sql.count(heat) == 1 and sql.count(grids) == 1
    not_merged = f"NOT {MERGED.format(alias='c')}"
    sql = sql.replace(heat, f"{heat}    WHERE {not_merged}\n")
    return sql.replace(grids, f"FROM cases c WHERE c.grid_code IS NOT NULL AND {not_merged}\n")


def _in_view(merged_left_out: bool) -> str:
    """``wangge_cases_in_view`` as migration 0031 made it, or with merged cases left out."""
    m = _migration("0031_policy_reads_scope_once.py")
    condition: str = m._IN_VIEW
    if merged_left_out:  # (inside the function's quoted query text: quotes doubled)
        condition += " AND NOT " + MERGED.format(alias="c").replace("'", "''")
    return str(m._in_view(condition))


def _merged_now(sign: int) -> str:
    """The merges in force now, counted into (+1) or out of (-1) the roll-ups: once, as this
    migration starts or ends (their counts were made with them in)."""
    return f"""
    WITH changed AS (
        SELECT {sign} AS sign, {", ".join("c." + c.strip() for c in COLUMNS.split(","))}
        FROM cases c WHERE {MERGED.format(alias="c")}
    ),
    {APPLY}"""


def upgrade() -> None:
    op.execute("SET LOCAL wangge.scope = '*'")
    op.execute(_merged_now(-1))
    op.execute(LINK_TRIGGER)
    op.execute(_moved(merged_left_out=True))
    op.execute(_rebuild(merged_left_out=True))
    op.execute(_in_view(merged_left_out=True))


def downgrade() -> None:
    op.execute("SET LOCAL wangge.scope = '*'")
    op.execute(_in_view(merged_left_out=False))
    op.execute(_rebuild(merged_left_out=False))
    op.execute(_moved(merged_left_out=False))
    op.execute("DROP TRIGGER case_link_rollup_delete ON case_link")
    op.execute("DROP TRIGGER case_link_rollup_update ON case_link")
    op.execute("DROP TRIGGER case_link_rollup_insert ON case_link")
    op.execute("DROP FUNCTION wangge_rollup_merged()")
    op.execute(_merged_now(1))
