"""Liveness and database safety."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.schemas import HealthOut
from gis.db import check_database

router = APIRouter(prefix="/api", tags=["health 状态"])


@router.get("/health", response_model=HealthOut)
def health(request: Request) -> HealthOut:
    """The database is reachable, has PostGIS, and commits durably."""
    return HealthOut(status="ok", **check_database(request.app.state.engine))
