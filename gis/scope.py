"""Jurisdiction: which rows a caller may see and touch.

A :class:`Scope` is a region (the caller sees it and everything under it) or the whole
deployment; a grid worker's scope also names the grids they act in.  Two walls enforce it:

1. the query layer: every ``gis`` function that reads or writes regions, grids, centers or cases
   takes a scope and adds its condition to the SQL;
2. PostgreSQL row-level security on the case and resident-data tables: :func:`bind_scope` sets
   ``wangge.scope`` at the start of every transaction of the session (``set_config(…, true)``,
   i.e. SET LOCAL), and the policies of migration 0002 show only rows in that scope.

``APP_FILTER`` exists for tests only: switched off, the first wall is gone and the database alone
must still refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from gis.locate import Location

APP_FILTER = True
_INFO_KEY = "wangge_scope"
_APPLIED_KEY = "wangge_scope_applied"  # (transaction, scope) wangge.scope was last set for
_CODE = re.compile(r"[0-9]{6,12}")
_CASE_LEVEL_COLUMNS = {
    "city": "city_code",
    "district": "district_code",
    "township": "township_code",
    "village": "village_code",
}


@dataclass(frozen=True)
class Scope:
    """A region and everything under it, or (``region_id`` None) the whole deployment."""

    region_id: int | None
    region_code: str | None = None
    level: str | None = None
    region_name: str | None = None
    #: grid workers: the grids they may act in (None: not restricted to grids)
    grid_codes: frozenset[str] | None = field(default=None)

    @classmethod
    def everything(cls) -> Scope:
        return cls(region_id=None)

    @property
    def is_everything(self) -> bool:
        return self.region_id is None

    @property
    def setting(self) -> str:
        """The value of ``wangge.scope`` for row-level security."""
        return "*" if self.is_everything else str(self.region_code)

    def __post_init__(self) -> None:
        # The code and id are written into SQL as literals (see case_condition): make sure they
        # are what the database's constraints say they are — digits, and an integer.
        if self.region_id is not None:
            if not (self.region_code and _CODE.fullmatch(self.region_code)):
                raise ValueError(f"not a region code: {self.region_code!r}")
            if self.level not in _CASE_LEVEL_COLUMNS:
                raise ValueError(f"not a region level: {self.level!r}")
            object.__setattr__(self, "region_id", int(self.region_id))

    def region_condition(self, alias: str) -> str:
        """SQL: region ``alias`` lies in this scope."""
        if self.is_everything or not APP_FILTER:
            return "true"
        return f"({self.region_id} = ANY({alias}.path))"

    def case_condition(self, alias: str) -> str:
        """SQL: case (or assignment row) ``alias`` lies in this scope.

        The region code is a literal, not a bind parameter: with a parameter, the generic plan
        of a prepared statement cannot tell a township from the city and reads every case of the
        township through a bitmap scan; with the literal it walks the per-level index and stops
        after a page.
        """
        column = self.case_column()
        return "true" if column is None else f"({alias}.{column} = '{self.region_code}')"

    def case_column(self) -> str | None:
        """The column of a case (or assignment) that holds this scope's level of code, compared
        with ``region_code``; None when the scope does not restrict."""
        if self.is_everything or not APP_FILTER:
            return None
        return _CASE_LEVEL_COLUMNS[str(self.level)]

    def params(self) -> dict[str, Any]:
        return {
            "scope_region_id": self.region_id,
            "scope_code": self.region_code,
            "scope_grids": sorted(self.grid_codes or ()),
        }

    def covers(self, location: Location) -> bool:
        """Whether a located point falls in this scope."""
        if self.is_everything:
            return True
        ref = getattr(location, str(self.level), None)
        return ref is not None and ref.code == self.region_code


def bind_scope(session: Session, scope: Scope, *, applied: bool = False) -> None:
    """Make row-level security follow ``scope`` in every transaction of ``session``.

    ``applied``: the current transaction has already set ``wangge.scope`` for ``scope`` (the
    session lookup does so in the same round trip), so it is not set again.
    """
    session.info[_INFO_KEY] = scope
    if not session.in_transaction():
        return  # the next transaction's after_begin sets it
    current = (session.get_transaction(), scope)
    if applied:
        session.info[_APPLIED_KEY] = current
    elif session.info.get(_APPLIED_KEY) != current:
        _apply(session, session.connection(), scope)


def _apply(session: Session, connection: Any, scope: Scope) -> None:
    connection.execute(
        text("SELECT set_config('wangge.scope', :scope, true)"), {"scope": scope.setting}
    )
    session.info[_APPLIED_KEY] = (session.get_transaction(), scope)


@event.listens_for(Session, "after_begin")
def _scope_each_transaction(session: Session, transaction: Any, connection: Any) -> None:
    scope = session.info.get(_INFO_KEY)
    if scope is not None:
        _apply(session, connection, scope)
