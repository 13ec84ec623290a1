"""Request and response models (pydantic).  Coordinates are WGS 84 degrees."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from gis.cases import CaseView, CategoryView
from gis.locate import Location
from gis.models import AssignMethod, CaseKind, Severity

Lon = Annotated[
    float,
    Field(
        ge=-180,
        le=180,
        allow_inf_nan=False,
        description="经度 longitude, WGS 84 degrees",
        examples=[113.95],
    ),
]
Lat = Annotated[
    float,
    Field(
        ge=-90,
        le=90,
        allow_inf_nan=False,
        description="纬度 latitude, WGS 84 degrees",
        examples=[22.98],
    ),
]


def _no_control_characters(value: str) -> str:
    """PostgreSQL cannot store NUL, and no report needs control characters but tab and newline."""
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise PydanticCustomError("control_characters", "must not contain control characters")
    return value


_NoControl = AfterValidator(_no_control_characters)
CategoryCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32), _NoControl
]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), _NoControl
]
#: Case codes: letters, digits, hyphens (一案一码 such as WG26112100000042).
CASE_CODE_PATTERN = r"^[A-Za-z0-9-]{1,32}$"


class ReportCreate(BaseModel):
    """A report from a grid worker or a center desk."""

    model_config = ConfigDict(extra="forbid")

    kind: CaseKind = Field(description="dispute 矛盾纠纷 | hazard 安全隐患")
    category: CategoryCode
    description: Description
    lon: Lon
    lat: Lat
    severity: Severity | None = Field(default=None, description="default: the category's")
    reported_at: AwareDatetime | None = Field(
        default=None, description="device time, ISO 8601 with offset; default: now"
    )
    accuracy_m: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None


class RegionOut(BaseModel):
    code: str
    name: str
    level: str


class GridOut(BaseModel):
    code: str
    name: str
    version: int


class CenterOut(BaseModel):
    id: int
    name: str
    level: str
    region_code: str
    phone: str | None


class LocationOut(BaseModel):
    """The owner chain of a point and how it was decided."""

    method: AssignMethod
    distance_m: float | None = Field(description="metres to the grid (0 inside it)")
    grid: GridOut | None
    village: RegionOut | None
    township: RegionOut | None
    district: RegionOut | None
    city: RegionOut | None
    center: CenterOut | None

    @classmethod
    def of(cls, loc: Location) -> LocationOut:
        def ref(model: type[BaseModel], value: Any) -> Any:
            return None if value is None else model.model_validate(value, from_attributes=True)

        return cls(
            method=loc.method,
            distance_m=loc.distance_m,
            grid=ref(GridOut, loc.grid),
            village=ref(RegionOut, loc.village),
            township=ref(RegionOut, loc.township),
            district=ref(RegionOut, loc.district),
            city=ref(RegionOut, loc.city),
            center=ref(CenterOut, loc.center),
        )


class CaseOut(BaseModel):
    code: str = Field(description="一案一码: the case's one code")
    kind: str
    category: str
    category_name: str
    severity: str
    status: str
    description: str
    lon: float
    lat: float
    datum: str
    reported_at: datetime
    received_at: datetime
    grid_code: str | None
    location: LocationOut

    @classmethod
    def of(cls, case: CaseView) -> CaseOut:
        return cls(
            code=case.code,
            kind=case.kind,
            category=case.category,
            category_name=case.category_name,
            severity=case.severity,
            status=case.status,
            description=case.description,
            lon=case.lon,
            lat=case.lat,
            datum=case.datum,
            reported_at=case.reported_at,
            received_at=case.received_at,
            grid_code=case.location.grid.code if case.location.grid else None,
            location=LocationOut.of(case.location),
        )


class CategoryOut(BaseModel):
    code: str
    kind: str
    name_zh: str
    name_en: str
    default_severity: str

    @classmethod
    def of(cls, c: CategoryView) -> CategoryOut:
        return cls.model_validate(c, from_attributes=True)


class HealthOut(BaseModel):
    status: str
    postgis: str
    fsync: str
    synchronous_commit: str
