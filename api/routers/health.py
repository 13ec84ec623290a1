"""Liveness and database safety."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from api.schemas import HealthOut
from gis.db import check_database
from gis.errors import DatabaseNotReady

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["health 状态"])


@router.get("/health", response_model=HealthOut)
def health(request: Request) -> HealthOut:
    """The database is reachable, has PostGIS, and commits durably (else 503, saying which).
    Anyone may ask: what the driver said of a failed connection (the database's host and port)
    goes to the server's log, not into the answer."""
    try:
        found = check_database(request.app.state.engine)
    except DatabaseNotReady as e:
        if not e.extra.get("unreachable"):
            raise
        log.error("health: %s", e.message_en)
        raise DatabaseNotReady(
            "暂时无法连接数据库（详情见服务器日志）。",
            "The database cannot be reached just now (the server's log says why).",
        ) from None
    return HealthOut(status="ok", **found)
