"""Reading the audit trail (审计日志): who did what, newest first — the admin's, and audited."""

from __future__ import annotations

import ipaddress
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.deps import AuditReader, QueryOffset, SessionDep, audit_caller
from api.schemas import AuditEntryOut, AuditOut
from gis import audit
from gis.errors import InvalidInput
from gis.worktime import SHANGHAI, plausible_day

router = APIRouter(prefix="/api", tags=["audit 审计"])


#: a day in a query, or nothing (a form's empty field)
DAY_OR_EMPTY = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$"


def form_day(value: str | None, field: str) -> date | None:
    """A form's day (plausible), or None for an empty field; a 422 naming ``field``."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{field} 不是有效日期：{value}（格式 YYYY-MM-DD）。",
            f"{field} is not a valid date: {value} (YYYY-MM-DD).",
            field=field,
        ) from None
    return plausible_day(day, field)


def network(value: str) -> str:
    """An address (203.0.113.7, 2001:db8::1) or a network (203.0.113.0/24) as PostgreSQL's
    ``inet`` reads it; a 422 naming ``address`` otherwise."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise InvalidInput(
            f"来源地址不是有效的 IP 地址或网段：{value}（如 203.0.113.7 或 203.0.113.0/24）。",
            f"The source address is not an IP address or network: {value} (e.g. 203.0.113.7 "
            "or 203.0.113.0/24).",
            field="address",
        ) from None
    return str(net.network_address) if net.num_addresses == 1 else str(net)


class AuditFilters:
    """The filters of the trail, shared by the API and the page."""

    def __init__(
        self,
        username: Annotated[str | None, Query(max_length=64, description="user name")] = None,
        action: Annotated[
            str | None, Query(max_length=64, description="action, or its start (pii)")
        ] = None,
        object: Annotated[
            str | None, Query(max_length=200, description="object, or its start (case:)")
        ] = None,
        success: Annotated[
            str | None, Query(pattern="^(true|false|)$", description="true | false (or all)")
        ] = None,
        start: Annotated[
            str | None,
            Query(pattern=DAY_OR_EMPTY, description="first day, YYYY-MM-DD (Asia/Shanghai)"),
        ] = None,
        end: Annotated[
            str | None, Query(pattern=DAY_OR_EMPTY, description="last day, included")
        ] = None,
        address: Annotated[
            str | None,
            Query(
                max_length=64,
                description="source address or network (203.0.113.7, 203.0.113.0/24)",
            ),
        ] = None,
        offset: QueryOffset = 0,
    ) -> None:
        # (strings: a filter form sends its empty fields as "", which means "any")
        self.username, self.action, self.object = username or None, action or None, object or None
        self.success = {"true": True, "false": False}.get(success or "")
        self.start, self.end = form_day(start, "start"), form_day(end, "end")
        self.address = network(address.strip()) if address and address.strip() else None
        self.offset = offset

    def trail(self) -> audit.Trail:
        def day(d: date | None, shift: int = 0) -> datetime | None:
            return None if d is None else datetime.combine(d + timedelta(shift), time(0), SHANGHAI)

        return audit.Trail(
            username=self.username,
            action=self.action,
            object=self.object,
            success=self.success,
            since=day(self.start),
            until=day(self.end, 1),
            address=self.address,
        )

    def query(self, session: Any, limit: int) -> tuple[int, list[audit.Entry]]:
        return audit.entries(session, self.trail(), limit, self.offset)

    def as_dict(self) -> dict[str, object]:
        return {
            "username": self.username,
            "action": self.action,
            "object": self.object,
            "success": self.success,
            "address": self.address,
            "start": self.start and self.start.isoformat(),
            "end": self.end and self.end.isoformat(),
        }


def read_trail(
    session: SessionDep, caller: Any, request: Request, filters: AuditFilters, limit: int
) -> tuple[int, list[audit.Entry]]:
    """The page of the trail asked for; the reading itself is recorded (and committed)."""
    total, found = filters.query(session, limit)
    detail = {k: v for k, v in filters.as_dict().items() if v is not None}
    audit_caller(session, request, caller, "audit.read", "audit_log", detail or None)
    session.commit()
    return total, found


@router.get("/audit", response_model=AuditOut)
def get_audit(
    session: SessionDep,
    caller: AuditReader,
    request: Request,
    filters: Annotated[AuditFilters, Depends()],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditOut:
    """The audit trail, newest first, filtered (user, action or its start, object or its start,
    success, days) — 审计日志.  Reading it is itself recorded."""
    total, found = read_trail(session, caller, request, filters, limit)
    return AuditOut(
        total=total,
        entries=[AuditEntryOut.model_validate(e, from_attributes=True) for e in found],
    )
