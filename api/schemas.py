"""Request and response models (pydantic).  Coordinates are WGS 84 degrees."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from gis.auth import OwnSession, device_name
from gis.cases import SOURCE_NAMES, CaseView, CategoryView, NewReport, default_source
from gis.errors import InvalidInput
from gis.intake import MAX_BATCH, BatchStatus, CaseBrief
from gis.ledger import MAX_WORKERS as MAX_GRID_WORKERS
from gis.locate import Location
from gis.models import AssignMethod, CaseKind, CaseSource, Severity
from gis.parties import MAX_PER_CASE as MAX_PARTIES
from gis.parties import NAME_MAX as PARTY_NAME_MAX
from gis.parties import NewParty
from gis.patrols import MAX_BATCH as PATROL_MAX_BATCH
from gis.patrols import (
    NOTE_MAX,
    TRACK_MAX_HOURS,
    TRACK_MAX_POINTS,
    NewPatrol,
    PatrolStatus,
    PatrolView,
)
from gis.permissions import Role
from gis.photos import PhotoView
from gis.pii import validate_id_card, validate_phone
from gis.users import DISPLAY_NAME_MAX
from gis.workflow import MAX_EXTENSION_HOURS
from gis.worktime import SHANGHAI

DisplayName = Annotated[
    str | None, StringConstraints(strip_whitespace=True, max_length=DISPLAY_NAME_MAX)
]

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


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _no_control_characters(value: str) -> str:
    """PostgreSQL cannot store NUL, and no report needs control characters but tab and newline."""
    if _CONTROL.search(value):
        raise PydanticCustomError("control_characters", "must not contain control characters")
    return value


NoControl = AfterValidator(_no_control_characters)
#: a remark of up to 2,000 characters (a note, a reason), as the database can keep it
Remark = Annotated[str, StringConstraints(max_length=2000), NoControl]
CategoryCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32), NoControl
]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), NoControl
]
#: a case's number in its channel (来源编号): one line, no control characters
SourceRef = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
#: a region's code (a 村（社区）'s, a 乡镇（街道）'s …): letters and digits, as ``region.code``
RegionCodeIn = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=12, pattern=r"^[0-9A-Za-z]+$"
    ),
]
#: Case codes: letters, digits, hyphens (一案一码 such as WG26112100000042).
CASE_CODE_PATTERN = r"^[A-Za-z0-9-]{1,32}$"


PartyRole = Literal["applicant", "respondent", "party", "witness", "reporter"]


class PartyIn(BaseModel):
    """A resident involved in the case.  Stored encrypted; shown masked."""

    model_config = ConfigDict(extra="forbid")

    role: PartyRole = Field(default="party", description="申请人 applicant, 被申请人 respondent …")
    name: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=PARTY_NAME_MAX),
            NoControl,
        ]
        | None
    ) = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None
    id_card: Annotated[str, StringConstraints(strip_whitespace=True, max_length=18)] | None = None

    @field_validator("phone", "id_card")
    @classmethod
    def _valid_personal_data(cls, value: str | None, info: ValidationInfo) -> str | None:
        # a field's own check, so that the refusal names it: parties.0.phone, not parties.0
        if value is None:
            return None
        try:
            return validate_phone(value) if info.field_name == "phone" else validate_id_card(value)
        except InvalidInput as e:
            raise PydanticCustomError(
                "party_invalid", "{en}", {"zh": e.message, "en": e.message_en}
            ) from e

    @model_validator(mode="after")
    def _someone(self) -> PartyIn:
        if self.name is None and self.phone is None and self.id_card is None:
            raise PydanticCustomError("party_empty", "needs a name, a phone or an ID-card number")
        return self

    def to_domain(self) -> NewParty:
        return NewParty(self.role, self.name, self.phone, self.id_card)


class PartyOut(BaseModel):
    role: str
    role_name: str = Field(description="the role in Chinese: 申请人, 被申请人, 当事人, 证人 …")
    name: str | None
    phone: str | None
    id_card: str | None
    masked: bool = Field(description="true unless asked for with unmask=true and pii:read")
    erased_at: datetime | None = Field(
        default=None,
        description="when its name, phone and ID number were erased, its retention period "
        "over (已按保存期限删除; wangge pii expire)",
    )


class LocationIn(BaseModel):
    """Where the report is, as the device gave it."""

    model_config = ConfigDict(extra="forbid")

    lon: Lon
    # ±180 here, ±90 below: a latitude of 113.9 is most likely a swapped pair, and says so
    lat: Annotated[
        float,
        Field(
            ge=-180,
            le=180,
            allow_inf_nan=False,
            description="纬度 latitude, WGS 84 degrees",
            examples=[22.98],
        ),
    ]
    datum: Literal["wgs84", "cgcs2000", "gcj02", "bd09"] = Field(
        description="GPS/天地图: wgs84 or cgcs2000; 高德/腾讯: gcj02; 百度: bd09"
    )
    accuracy_m: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(
        default=None, description="metres; worse than 200 m is accepted but flagged"
    )

    @field_validator("lat")
    @classmethod
    def _latitude(cls, lat: float, info: ValidationInfo) -> float:
        if -90 <= lat <= 90:
            return lat
        lon = info.data.get("lon")
        if lon is not None and -90 <= lon <= 90:
            raise PydanticCustomError("lat_swapped", "is beyond ±90", {"lat": lat, "lon": lon})
        raise PydanticCustomError("lat_range", "must be between -90 and 90")


# a number alone: pydantic would read it as seconds since 1970 (``date=0``: 1 January 1970;
# ``since=20261201``: 23 August 1970)
_NUMBER = re.compile(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*")
# a day written without its dashes, as Chinese forms often do (20261205)
_COMPACT_DAY = re.compile(r"\s*([0-9]{4})([0-9]{2})([0-9]{2})\s*")


def a_day(value: object) -> object:
    """A day (a query's) as a date: 2026-12-05, or 20261205; never a number of seconds."""
    if isinstance(value, str):
        compact = _COMPACT_DAY.fullmatch(value)
        if compact:
            return "-".join(compact.groups())
        if _NUMBER.fullmatch(value):
            raise PydanticCustomError("date_parsing", "not a date")
    return value


def a_time(value: object) -> object:
    """A time (a query's or a body's) as ISO 8601; never a number of seconds."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise PydanticCustomError("datetime_parsing", "not an ISO 8601 time")
    return value


def a_storable_time(value: datetime) -> datetime:
    """A time that is still one in UTC and in Beijing (a time without offset: Beijing's):
    9999-12-31T23:00-05:00 is year 10000 in both, 9999-12-31T23:59Z in Beijing, which the
    database stored and Python could not read back (a report answered 500 after its case was
    written; a check-in said only "a value")."""
    try:
        aware = value.replace(tzinfo=value.tzinfo or SHANGHAI)
        for zone in (UTC, SHANGHAI):
            aware.astimezone(zone)
    except OverflowError:
        raise PydanticCustomError("datetime_range", "is outside the years 1 to 9999") from None
    return value


#: a time in a body: ISO 8601 with its offset (a phone's clock)
IsoTime = Annotated[AwareDatetime, BeforeValidator(a_time), AfterValidator(a_storable_time)]


class ReportCreate(BaseModel):
    """A report from a grid worker or a center desk."""

    model_config = ConfigDict(extra="forbid")

    kind: CaseKind = Field(description="dispute 矛盾纠纷 | hazard 安全隐患")
    category: CategoryCode
    description: Description
    location: LocationIn | None = Field(
        default=None,
        description="where it is, as the device or the map gave it (required, unless a desk "
        "gives region instead)",
    )
    region: RegionCodeIn | None = Field(
        default=None,
        description="a center desk's report of a place no one could show on a map: the code of "
        "the 村（社区） (or 乡镇（街道）) where it happened, as 地名查找 (GET /api/places) "
        "finds it; instead of location. The case is filed by that region: its center "
        "handles it; it is on no grid, map or heat map. Not for grid workers",
    )
    reported_at: IsoTime = Field(description="device time, ISO 8601 with offset")
    severity: Severity | None = Field(default=None, description="default: the category's")
    parties: list[PartyIn] = Field(default_factory=list, max_length=MAX_PARTIES)
    source: CaseSource | None = Field(
        default=None,
        description="where the case came from (案件来源): grid_worker 网格员上报 | "
        "walk_in 群众来访 | hotline 12345热线 | police_diversion 110非警务警情分流 | "
        "petition 信访 | online 网上反映 | other 其他; default: grid_worker for a grid worker, "
        "other for anyone else",
    )
    source_ref: SourceRef | None = Field(
        default=None,
        description="its number in that channel (来源编号): the 12345 work order (工单号), the "
        "110 incident number …; at most 64 characters (blank: none)",
    )

    on_site_resolution: str | None = Field(
        default=None,
        max_length=2000,
        description="就地化解: what the reporter did to settle it on the spot (a minor or normal "
        "matter only); the case is then registered resolved, for the center to follow up "
        "(回访) and close. Blank or absent: the center handles it",
    )

    @field_validator("source_ref", "on_site_resolution", mode="before")
    @classmethod
    def _blank_ref_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _a_place(self) -> Self:
        """A point, or (a desk's) the region it happened in: one of them."""
        if self.location is None and self.region is None:
            raise PydanticCustomError("place_missing", "location is required")
        if self.location is not None and self.region is not None:
            raise PydanticCustomError("place_both", "location and region are exclusive")
        return self

    @field_validator("parties", mode="before")
    @classmethod
    def _null_parties_are_none(cls, value: Any) -> Any:
        return [] if value is None else value  # (many clients write a list they lack as null)

    def to_domain(self, reporter: str, role: str) -> NewReport:
        """The report, from ``reporter`` whose role is ``role`` (a report that does not name its
        source is a grid worker's own, or else ``other``)."""
        return NewReport(
            kind=self.kind,
            category=self.category,
            description=self.description,
            lon=self.location.lon if self.location else None,
            lat=self.location.lat if self.location else None,
            datum=self.location.datum if self.location else "wgs84",
            severity=self.severity,
            reported_at=self.reported_at,
            accuracy_m=self.location.accuracy_m if self.location else None,
            reporter=reporter,
            parties=tuple(p.to_domain() for p in self.parties),
            source=self.source or default_source(role),
            source_ref=self.source_ref,
            on_site_resolution=(
                self.on_site_resolution.strip() if self.on_site_resolution else None
            ),
            region=self.region,
        )

    def content(self) -> bytes:
        """Canonical content, for telling a replay from a different report under one key.  A
        report that does not name its source (or its number there), or settle it on the spot,
        has the content it had before those existed (its replays still match)."""
        exclude = {"idempotency_key"} | {
            name
            for name in ("source", "source_ref", "on_site_resolution", "location", "region")
            if getattr(self, name) is None
        }
        return self.model_dump_json(exclude=exclude).encode()


class BatchReportIn(ReportCreate):
    """A report kept on a device while offline, with the key it was given there."""

    idempotency_key: UUID


class ReceivedOut(BaseModel):
    lon: float | None = Field(
        description="null: a case without coordinates (an old ledger's, or one filed by its "
        "village because no one could say where)"
    )
    lat: float | None
    datum: str | None = Field(description="the datum the point came in; null without one")


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


class PlaceOut(BaseModel):
    """A region or current grid found by name or code (``GET /api/places``)."""

    kind: Literal["city", "district", "township", "village", "grid"]
    kind_name: str = Field(description="the kind in the caller's language: 乡镇/街道, 网格 …")
    code: str
    name: str
    context: str = Field(description="the regions above it, nearest first: 桥园镇 · 南江区")
    bbox: tuple[float, float, float, float] = Field(description="west, south, east, north")
    outline: dict[str, Any] = Field(
        description="GeoJSON geometry (WGS 84), simplified to about 10 m: to draw, not to measure"
    )


class PlacesOut(BaseModel):
    places: list[PlaceOut]


class DuplicateOut(BaseModel):
    code: str
    status: str = Field(description="suggested | confirmed | unlinked")
    distance_m: float | None


class DuplicateDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["confirm", "unlink"]


class PhotoOut(BaseModel):
    id: int
    content_type: str
    bytes: int
    width: int
    height: int
    sha256: str = Field(description="checksum of the stored file (EXIF/GPS stripped)")
    url: str
    thumb_url: str
    uploaded_by: str | None = Field(
        default=None, description="the account that added it (with the report, or after)"
    )
    uploaded_at: datetime | None = None

    @classmethod
    def of(cls, p: PhotoView) -> PhotoOut:
        return cls(
            id=p.id,
            content_type=p.content_type,
            bytes=p.bytes,
            width=p.width,
            height=p.height,
            sha256=p.sha256,
            url=f"/api/photos/{p.id}",
            thumb_url=f"/api/photos/{p.id}/thumb",
            uploaded_by=p.uploaded_by,
            uploaded_at=p.uploaded_at,
        )


class CaseOut(BaseModel):
    code: str = Field(description="一案一码: the case's one code")
    kind: str
    category: str
    category_name: str
    severity: str
    status: str
    source: str = Field(description="where the case came from (案件来源), e.g. hotline")
    source_name: str = Field(
        description="the source's name, e.g. 12345热线 (English if asked: Accept-Language)"
    )
    source_ref: str | None = Field(
        None, description="its number in that channel (来源编号), e.g. the 12345 work order"
    )
    description: str
    lon: float | None = Field(
        description="WGS 84; null for an old ledger's case filed by its village's name, "
        "without coordinates (located by region, on no map)"
    )
    lat: float | None
    datum: str
    reported_at: datetime
    received_at: datetime
    grid_code: str | None
    location: LocationOut
    received: ReceivedOut = Field(description="the point as the device sent it")
    deadline: datetime | None
    tracking_url: str = Field(description="public page for the resident (no personal data)")
    flags: dict[str, Any] = Field(
        description="e.g. low_accuracy: worse than 200 m; clock_suspect: the device time "
        "more than 10 minutes ahead of the server's or 30 days behind it; repeat_place, "
        "repeat_resident: repeat warnings (counts)",
    )
    parties: list[PartyOut] = Field(description="masked: 李*明, 138****5678, 4419**********123X")
    possible_duplicates: list[DuplicateOut] = Field(
        description="open cases of the same category within 100 m and 72 h"
    )
    photos: list[PhotoOut] = Field(default_factory=list)
    receipt_url: str = Field(description="printable receipt with the tracking QR code")
    qr_url: str = Field(description="the tracking QR code (SVG; .png for PNG)")

    @classmethod
    def of(cls, case: CaseView, names_en: Mapping[str, str] | None = None) -> CaseOut:
        """``names_en``: the categories' English names by code, for a caller who asked for
        English (the category and source then named in English), else None."""
        en = names_en is not None
        return cls(
            code=case.code,
            kind=case.kind,
            category=case.category,
            category_name=(names_en or {}).get(case.category, case.category_name),
            severity=case.severity,
            status=case.status,
            source=case.source,
            source_name=SOURCE_NAMES[case.source][1 if en else 0],
            source_ref=case.source_ref,
            description=case.description,
            lon=case.lon,
            lat=case.lat,
            datum=case.datum,
            reported_at=case.reported_at,
            received_at=case.received_at,
            grid_code=case.location.grid.code if case.location.grid else None,
            location=LocationOut.of(case.location),
            received=ReceivedOut(
                lon=case.received_lon,
                lat=case.received_lat,
                datum=case.datum if case.received_lon is not None else None,
            ),
            deadline=case.deadline,
            tracking_url=f"/t/{case.public_token}",
            flags=case.flags or {},
            parties=[PartyOut.model_validate(p, from_attributes=True) for p in case.parties],
            possible_duplicates=[
                DuplicateOut(code=c, status=st, distance_m=d) for c, st, d in case.duplicates
            ],
            photos=[PhotoOut.of(p) for p in case.photos],
            receipt_url=f"/cases/{case.code}/receipt",
            qr_url=f"/api/cases/{case.code}/qr.svg",
        )


class CategoryOut(BaseModel):
    code: str
    kind: str
    name_zh: str
    name_en: str
    default_severity: str
    deadline_hours: int = Field(description="default time allowed, hours")

    @classmethod
    def of(cls, c: CategoryView) -> CategoryOut:
        return cls.model_validate(c, from_attributes=True)


#: a password as typed (the policy is checked where one is set: gis.passwords)
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    password: Password
    otp: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=16)] = Field(
        None,
        description="the 6-digit one-time code (动态口令) of an account that has it on; a login "
        "without it answers 401 with code otp_required",
    )
    next: str | None = Field(
        None,
        description="the page the user was on their way to (the login page's ``next``): the "
        "answer's ``next`` says whether to go on there (an address of over 2,000 characters: "
        "not, and the login goes on)",
    )


OtpCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]


class OtpSetupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password


class OtpSetupOut(BaseModel):
    secret: str = Field(description="the shared secret, base32, for an app's manual entry")
    uri: str = Field(description="the otpauth:// address the QR code holds")
    qr_svg: str = Field(description="the QR code of uri, as SVG")


class OtpCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: OtpCode


class OtpOffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password
    code: OtpCode = Field(
        description="the code the app shows now, or one of the 12-digit recovery codes"
    )


class OtpRecoveryOut(BaseModel):
    recovery_codes: list[str] = Field(
        description="备用验证码: each logs in once instead of the app's code (when the phone is "
        "not at hand). Shown this once: only their keyed digests are stored"
    )


class OwnPasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Password
    new_password: Password


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the session ends at the latest")
    home: str = Field(
        "/",
        description="the user's first page: the phone page for a grid worker, else the map; "
        "/account while the password must be changed",
    )
    next: str | None = Field(
        None,
        description="the page asked for at login (``next``) if the user's role may open it, "
        "else null: go to ``home`` (a planner sent to the in-tray's address lands on their own "
        "first page, not on a refusal)",
    )
    password_change_required: bool = Field(
        False,
        description="the password was set by someone else: until the user changes it "
        "(POST /api/auth/password), every other call is refused (403)",
    )
    otp_setup_required: bool = Field(
        False,
        description="the user's role logs in with a one-time code and the account has none: "
        "until it is set up (POST /api/auth/otp/setup, then /enable), every other call is "
        "refused (403)",
    )
    otp_recovery_left: int | None = Field(
        None,
        description="a recovery code was given instead of the app's: how many are left (a new "
        "set: POST /api/auth/otp/recovery-codes); null otherwise",
    )


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    username: str | None
    action: str = Field(description="login, logout, pii.view, case.report, duplicate.confirm …")
    object: str | None = Field(description="what it was done to, e.g. case:<code>")
    success: bool
    source_ip: str | None
    detail: dict[str, Any]


class AuditOut(BaseModel):
    total: int = Field(description="entries matching the filters")
    entries: list[AuditEntryOut] = Field(description="newest first")


class OwnSessionOut(BaseModel):
    """One of your sessions still in force (我的登录)."""

    id: int
    created_at: datetime = Field(description="logged in at")
    last_seen_at: datetime = Field(description="last used at (to the minute)")
    expires_at: datetime = Field(description="ends at the latest")
    source_ip: str | None = Field(description="the address it logged in from")
    user_agent: str | None = Field(description="the browser's User-Agent as it logged in")
    device: str = Field(
        description="what it runs on, as a person names it: 手机 · 微信, 电脑 · Chrome"
    )
    current: bool = Field(description="the session of this request")

    @classmethod
    def of(cls, s: OwnSession, lang: str) -> Self:
        return cls(
            id=s.id,
            created_at=s.created_at,
            last_seen_at=s.last_seen_at,
            expires_at=s.expires_at,
            source_ip=s.source_ip,
            user_agent=s.user_agent,
            device=device_name(s.user_agent, lang),
            current=s.current,
        )


class UserSessionOut(OwnSessionOut):
    """One session in force of an account (用户的登录设备), for its administrator."""


class MeOut(BaseModel):
    username: str
    display_name: str | None
    role: str
    role_name: str
    region_code: str | None
    region_name: str | None
    permissions: list[str]
    password_change_required: bool = Field(
        description="only changing the password is allowed until it is changed (set by an "
        "administrator, or expired)"
    )
    password_expires_at: datetime | None = Field(
        description="when the password must be changed (WANGGE_PASSWORD_MAX_DAYS); null: never"
    )
    otp_enabled: bool = Field(description="the account logs in with a one-time code (动态口令)")
    otp_setup_required: bool = Field(
        description="its role must log in with one, and it has none yet: set it up first"
    )
    otp_recovery_left: int | None = Field(
        None, description="how many of its recovery codes are unused; null: 动态口令 is off"
    )


UserName = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.-]{2,64}$")
]
NewPassword = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=256,
        description="omit it for a random initial password, shown once in the answer",
    ),
]


class UserCreate(BaseModel):
    """A new account (用户): its role and region are set here, once."""

    model_config = ConfigDict(extra="forbid")

    username: UserName = Field(description="letters, digits, _ . -; 2–64 characters")
    role: Role
    region: Annotated[str | None, Field(pattern=r"^[0-9]{6,12}$")] = Field(
        None, description="region code (default: yours); an administrator of the whole "
        "deployment has none"
    )  # fmt: skip
    worker: Annotated[str | None, Field(max_length=20)] = Field(
        None, description="a grid worker's worker code: their grids, and by default their village"
    )
    display_name: DisplayName = None
    password: NewPassword = None


class UserUpdate(BaseModel):
    """What changes of an account (the fields given; the others stay).  A new role or region
    ends the account's sessions."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName = None
    role: Role | None = None
    region: Annotated[str | None, Field(pattern=r"^[0-9]{6,12}$")] = None
    worker: Annotated[str | None, Field(max_length=20)] = Field(
        None, description='a worker code; "" unlinks the account from its worker record'
    )


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: NewPassword = None


class InitialPassword(BaseModel):
    username: str
    password: str


class ImportOut(BaseModel):
    """What an import found or did (``wangge import``'s ``--report``)."""

    report: dict = Field(
        description="what, file, rows, crs, mapping, created, updated, unchanged, repaired, "
        "rejected, problems, linked, assigned, sources, warnings, committed, seconds.  Each "
        "repaired, rejected and problem row's reason, and the warnings, are in Chinese and English "
        "together (reason, warnings) and each language apart (reason_zh, reason_en; warnings_zh, "
        "warnings_en)"
    )
    passwords: list[InitialPassword] | None = Field(
        None, description="new accounts of a roster and their initial passwords (shown once)"
    )


class UserOut(BaseModel):
    username: str
    display_name: str | None
    role: Role
    role_name: str = Field(description="the role's name in the caller's language")
    region_code: str | None
    region_name: str | None
    worker_code: str | None
    disabled: bool
    locked_until: datetime | None = Field(description="locked after failed logins until then")
    failed_logins: int
    created_at: datetime
    password_changed_at: datetime
    last_seen_at: datetime | None = Field(description="the last request of any of its sessions")
    must_change_password: bool = Field(
        description="its password was set by someone else: its user must change it first"
    )
    otp_enabled: bool = Field(description="it logs in with a one-time code too (动态口令)")
    grids: int | None = Field(
        None,
        description="a grid worker's: the grids they answer for (0: none yet, so every report "
        "of theirs is refused); null for the other roles",
    )
    initial_password: str | None = Field(
        None, description="the password just set at random: shown this once, never stored plain"
    )


class BatchIn(BaseModel):
    """Up to 500 reports from a device that was offline; each is checked on its own."""

    reports: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class CaseBriefOut(BaseModel):
    """A case as a batch's short answer gives it (``Prefer: return=minimal``): what a phone
    keeps of a report it sent."""

    code: str = Field(description="一案一码: the case's one code (its photos are sent to it)")
    status: str
    grid_code: str | None
    deadline: datetime | None
    tracking_url: str = Field(description="public page for the resident (no personal data)")

    @classmethod
    def of(cls, case: CaseBrief) -> CaseBriefOut:
        return cls(
            code=case.code,
            status=case.status,
            grid_code=case.grid_code,
            deadline=case.deadline,
            tracking_url=f"/t/{case.public_token}",
        )


class BatchItemOut(BaseModel):
    index: int
    status: BatchStatus
    http_status: int
    case: CaseOut | CaseBriefOut | None = Field(
        default=None,
        description="the case, whole; brief (CaseBriefOut) if the request said "
        "Prefer: return=minimal",
    )
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None


class BatchOut(BaseModel):
    created: int
    replayed: int
    conflict: int
    rejected: int
    results: list[BatchItemOut]


class HealthOut(BaseModel):
    status: str
    postgis: str
    fsync: str
    synchronous_commit: str


class NoteIn(BaseModel):
    """办理记录: what the desk did or learnt, in the case's history."""

    model_config = ConfigDict(extra="forbid")

    note: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), NoControl
    ] = Field(description="what was done or learnt (a call made, a visit agreed …)")


class CaseLocationIn(BaseModel):
    """补充位置: the point of a case filed by its village, once someone knows it."""

    model_config = ConfigDict(extra="forbid")

    location: LocationIn
    note: Annotated[
        str | None,
        StringConstraints(strip_whitespace=True, max_length=2000),
        AfterValidator(lambda v: _no_control_characters(v) if v else None),
    ] = Field(default=None, description="how it became known (a grid worker looked, …)")
    version: int | None = Field(
        default=None, description="the case's version as read: refused (409) if it changed"
    )


class VerifyIn(BaseModel):
    """现场核查: what the follow-up found on the spot."""

    model_config = ConfigDict(extra="forbid")

    resolved: bool = Field(description="put right (true: verified) or not (false: reopened)")
    note: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), NoControl] | None
    ) = Field(default=None, description="what was found; required when not resolved")
    version: int | None = Field(
        default=None, description="the case version you saw; a newer one → 409 (reload)"
    )


class ActionIn(BaseModel):
    """One move of a case through the closed loop."""

    model_config = ConfigDict(extra="forbid")

    action: Literal[
        "accept", "dispatch", "start", "resolve", "verify", "close", "return", "transfer",
        "escalate", "extend", "suspend", "resume", "reopen", "merge",
    ]  # fmt: skip
    note: Remark | None = Field(default=None, description="reason or remark")
    version: int | None = Field(
        default=None, description="the case version you saw; a newer one → 409 (reload)"
    )
    attachments: list[str] = Field(default_factory=list, max_length=20)
    departments: list[str] = Field(
        default_factory=list, description="dispatch: department kinds (default: the category's)"
    )
    to_region: str | None = Field(default=None, description="transfer: target center's region")
    extra_hours: float | None = Field(
        default=None, gt=0, le=MAX_EXTENSION_HOURS, description="extend: working hours added"
    )
    new_deadline: (
        Annotated[datetime, BeforeValidator(a_time), AfterValidator(a_storable_time)] | None
    ) = Field(
        default=None,
        description="extend: new deadline, ISO 8601 (no offset: Beijing time)",
    )
    resolved: bool | None = Field(default=None, description="verify: resident confirms")
    into: str | None = Field(
        default=None,
        max_length=40,
        description="merge (并案): the code of the case this one is merged into",
    )


class DispatchResponseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response: Literal["accepted", "done", "cannot"]
    note: Remark | None = None


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5, description="1–5")
    #: the resident's own answer, always asked: a default would say it in their name (the
    #: satisfaction rate and the safety index count it)
    resolved: bool = Field(description="is the problem solved? (the resident's answer: required)")
    comment: Annotated[str, StringConstraints(max_length=500), NoControl] | None = None


class EventOut(BaseModel):
    at: datetime
    actor: str | None
    #: the acting user's display name (账号显示名), when the account has one
    actor_name: str | None = None
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None
    data: dict[str, Any]


class DispatchOut(BaseModel):
    id: int
    department: str
    kind: str
    status: str
    note: str | None
    dispatched_at: datetime
    responded_at: datetime | None


class CaseDetailOut(CaseOut):
    """A case with its workflow: version, deadlines in working time, events, dispatches."""

    version: int
    round: int
    responsible_center: str | None
    allowed_hours: float | None = Field(description="working hours allowed")
    remind_at: datetime | None = Field(description="80 % of the allowed working time")
    notice_at: datetime | None = Field(description="twice the allowed working time")
    allowed_actions: list[str] = Field(description="the actions the case's state allows")
    your_actions: list[str] = Field(
        default=[],
        description="of those, the ones you may make: not on a case another center is "
        "responsible for; extend and suspend from the center above the responsible one",
    )
    events: list[EventOut]
    dispatches: list[DispatchOut]
    merged_into: str | None = Field(
        default=None, description="并案: the case this one was merged into (it carries it now)"
    )
    merged_from: list[str] = Field(
        default_factory=list, description="并案: the cases merged into this one"
    )
    verify_due: datetime | None = Field(
        default=None,
        description="a resolved case: when it is to be verified by (回访 or 现场核查, 3 working "
        "days after it was resolved)",
    )

    @classmethod
    def of_workflow(
        cls, case: CaseView, wf: Any, names_en: Mapping[str, str] | None = None
    ) -> CaseDetailOut:
        base = CaseOut.of(case, names_en).model_dump()
        return cls(
            **base,
            version=wf.version,
            round=wf.round,
            responsible_center=wf.center,
            allowed_hours=wf.allowed_hours,
            remind_at=wf.remind_at,
            notice_at=wf.notice_at,
            allowed_actions=list(wf.allowed_actions),
            your_actions=list(wf.your_actions),
            events=[EventOut.model_validate(e, from_attributes=True) for e in wf.events],
            dispatches=[DispatchOut.model_validate(d, from_attributes=True) for d in wf.dispatches],
            merged_into=wf.merged_into,
            merged_from=list(wf.merged_from),
            verify_due=wf.verify_due,
        )


class QueueItemOut(BaseModel):
    code: str
    status: str
    kind: str
    category: str
    category_name: str
    severity: str
    grid_code: str | None
    received_at: datetime
    deadline: datetime | None
    overdue: bool
    work_hours_left: float | None = Field(description="working hours to the deadline (<0: late)")
    version: int
    source: str = Field(description="where the case came from (案件来源), e.g. hotline")
    repeat: bool = Field(description="a repeat warning (高频线索): same place or resident")
    duplicate: bool = Field(description="a possible duplicate of a case nearby, to confirm")
    grid_name: str | None = Field(None, description="the grid's name (e.g. 兴沙社区第1网格)")
    verify_due: datetime | None = Field(
        None,
        description="a resolved case: when it is to be verified by (回访 or 现场核查, 3 working "
        "days after it was resolved); overdue then says whether that has passed",
    )
    unplaced: bool = Field(
        False,
        description="filed by its village, no one could say where: no point yet (待查明位置; "
        "POST /api/cases/{code}/location gives it)",
    )


class QueueOut(BaseModel):
    center: str | None
    counts: dict[str, int] = Field(description="cases of the center per state")
    total: int = Field(description="cases matching the filters")
    items: list[QueueItemOut]
    verify_late: int = Field(
        0, description="of the resolved cases (counts), those past their verification's due time"
    )
    unplaced: int = Field(
        0, description="of the open cases (counts), those without a point (位置待查明)"
    )
    below_open: int | None = Field(
        None,
        description="the open cases of the centers below this one (below=true lists them too); "
        "null when they are listed already or there is no center above others",
    )

    @classmethod
    def of(cls, q: Any) -> QueueOut:
        return cls(
            center=q.center,
            counts=q.counts,
            total=q.total,
            verify_late=q.verify_late,
            unplaced=q.unplaced,
            below_open=q.below_open,
            items=[QueueItemOut.model_validate(i, from_attributes=True) for i in q.items],
        )


class FiguresOut(BaseModel):
    cases: int = Field(description="received in the period")
    resolved: int = Field(description="reached resolved / verified / closed")
    closed: int
    on_time: int = Field(description="resolved by the deadline")
    extended: int = Field(description="with an extension")
    reworked: int = Field(description="reopened at least once")
    handling_hours: float | None = Field(description="average working hours to resolution")
    rated: int
    score: float | None = Field(description="average rating 1–5")
    satisfied: int = Field(description="rated 4 or 5")
    resolution_rate: float | None
    on_time_rate: float | None = Field(description="按期结案率 = on_time ÷ resolved")
    extension_rate: float | None = Field(description="延期率 = extended ÷ cases")
    rework_rate: float | None = Field(description="返工率 = reworked ÷ closed")
    satisfaction_rate: float | None = Field(description="satisfied ÷ rated")
    on_site: int = Field(default=0, description="就地化解: settled on the spot by the reporter")
    on_site_rate: float | None = Field(default=None, description="就地化解率 = on_site ÷ cases")

    @classmethod
    def of(cls, f: Any) -> FiguresOut:
        values = {k: getattr(f, k) for k in f.__dataclass_fields__}
        if values["handling_hours"] is not None:
            values["handling_hours"] = round(float(values["handling_hours"]), 2)
        if values["score"] is not None:
            values["score"] = round(float(values["score"]), 2)
        return cls(**values, **f.rates)


class WeekOut(BaseModel):
    start: datetime = Field(description="the week's first moment (00:00 Beijing time)")
    end: datetime = Field(description="the moment after it (seven days on)")
    cases: int = Field(description="received in the week")
    disputes: int
    hazards: int
    resolved: int = Field(description="of them, reached resolved / verified / closed")
    on_time: int = Field(description="of them, resolved by the deadline")
    rated: int
    satisfied: int = Field(description="rated 4 or 5")
    resolution_rate: float | None
    on_time_rate: float | None = Field(description="按期结案率 = on_time ÷ resolved")
    satisfaction_rate: float | None = Field(description="satisfied ÷ rated")

    @classmethod
    def of(cls, w: Any) -> WeekOut:
        return cls(**{k: getattr(w, k) for k in w.__dataclass_fields__}, **w.rates)


class WeeklyOut(BaseModel):
    region: str
    region_name: str
    weeks: list[WeekOut] = Field(description="the oldest first; the last ends with ``end``")


class ChildStatsOut(BaseModel):
    code: str
    name: str
    figures: FiguresOut


class StatsOut(BaseModel):
    region: str
    region_name: str
    level: str
    start: datetime
    end: datetime
    figures: FiguresOut
    by_status: dict[str, int]
    by_kind: dict[str, int]
    by_category: dict[str, int]
    by_source: dict[str, int] = Field(
        description="cases by where they came from (案件来源): grid_worker, walk_in, hotline, "
        "police_diversion, petition, online, other"
    )
    children: list[ChildStatsOut] = Field(description="the same figures per child region")
    trace: str = Field(description="how to list the cases behind a figure")

    @classmethod
    def of(cls, s: Any) -> StatsOut:
        return cls(
            region=s.region,
            region_name=s.region_name,
            level=s.level,
            start=s.start,
            end=s.end,
            figures=FiguresOut.of(s.total),
            by_status=s.by_status,
            by_kind=s.by_kind,
            by_category=s.by_category,
            by_source=s.by_source,
            children=[
                ChildStatsOut(code=c, name=n, figures=FiguresOut.of(f))
                for c, (n, f) in s.children.items()
            ],
            trace="add &trace=<figure> (cases, resolved, closed, on_time, extended, reworked, "
            "rated) for the case codes counted",
        )


class SafetyFiguresOut(BaseModel):
    cases: int = Field(description="received in the 30 days")
    minor: int
    normal: int
    major: int
    critical: int
    due: int = Field(description="whose deadline fell in the window (not suspended)")
    overdue: int = Field(description="of those, not resolved by the deadline")
    repeats: int = Field(description="with a repeat warning (高频线索)")
    rated: int
    dissatisfied: int = Field(description="rated below 4")
    population: int | None = Field(description="residents of the region's grids (None: unknown)")
    grids: int
    grids_counted: int = Field(description="grids whose population is known")


class SafetyEntryOut(BaseModel):
    code: str
    name: str
    level: str
    score: float = Field(description="平安指数 0–100")
    band: str = Field(description="safe | fair | watch | unsafe")
    band_name: str = Field(description="平安 / 基本平安 / 需关注 / 不平安")
    rank: int | None = Field(None, description="among the child regions, 1 = safest")
    week_before: float | None = Field(description="the index 7 days before")
    change: float | None = Field(description="score − week_before")
    deductions: dict[str, float] = Field(description="points taken off, per part")
    figures: SafetyFiguresOut

    @classmethod
    def of(cls, e: Any, rank: int | None = None) -> SafetyEntryOut:
        return cls(
            code=e.code, name=e.name, level=e.level, score=e.score, band=e.band.key,
            band_name=e.band.zh, rank=rank, week_before=e.week_before, change=e.change,
            deductions=e.deductions,
            figures=SafetyFiguresOut.model_validate(e.figures, from_attributes=True),
        )  # fmt: skip


class SafetyPartOut(BaseModel):
    key: str
    name: str
    name_en: str
    cap: float
    rule: str
    rule_en: str


class SafetyBandOut(BaseModel):
    key: str
    name: str
    name_en: str
    floor: float
    color: str


class SafetyIndexOut(BaseModel):
    day: str = Field(description="the last day of the 30-day window (Asia/Shanghai)")
    start: datetime
    end: datetime
    published: bool = Field(description="false: computed now, provisional")
    published_at: datetime | None
    region: SafetyEntryOut
    children: list[SafetyEntryOut] = Field(description="ranked, safest first")
    parts: list[SafetyPartOut] = Field(description="how the index is counted")
    bands: list[SafetyBandOut]

    @classmethod
    def of(cls, s: Any, parts: Any, bands: Any) -> SafetyIndexOut:
        return cls(
            day=s.day.isoformat(), start=s.start, end=s.end,
            published=s.published_at is not None, published_at=s.published_at,
            region=SafetyEntryOut.of(s.region),
            children=[SafetyEntryOut.of(c, s.ranks.get(c.code)) for c in s.children],
            parts=[
                SafetyPartOut(key=p.key, name=p.zh, name_en=p.en, cap=p.cap, rule=p.rule_zh,
                              rule_en=p.rule_en)
                for p in parts
            ],
            bands=[
                SafetyBandOut(key=b.key, name=b.zh, name_en=b.en, floor=b.floor, color=b.color)
                for b in bands
            ],
        )  # fmt: skip


PatrolNote = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX), NoControl
]


class PatrolIn(BaseModel):
    """A patrol check-in (巡查打卡) from a grid worker's phone."""

    model_config = ConfigDict(extra="forbid")

    location: LocationIn
    checked_at: Annotated[AwareDatetime, AfterValidator(a_storable_time)] = Field(
        description="device time of the check-in, ISO 8601 with offset (打卡时间)"
    )
    note: PatrolNote | None = Field(
        default=None,
        description=f"巡查情况: what the worker saw, at most {NOTE_MAX} characters (blank: none)",
    )

    track: list[tuple[float, float, float]] | None = Field(
        default=None,
        max_length=TRACK_MAX_POINTS,
        description="巡查轨迹: the way walked since the last check-in, each point [lon, lat, "
        "unix seconds] in the location's datum, oldest first (2 points or more, in the "
        f"{TRACK_MAX_HOURS} hours before checked_at)",
        examples=[[[114.05, 22.54, 1764900000], [114.051, 22.541, 1764900060]]],
    )

    @field_validator("note", mode="before")
    @classmethod
    def _blank_note_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def to_domain(self) -> NewPatrol:
        return NewPatrol(
            lon=self.location.lon,
            lat=self.location.lat,
            datum=self.location.datum,
            checked_at=self.checked_at,
            accuracy_m=self.location.accuracy_m,
            note=self.note,
            track=None if self.track is None else tuple(self.track),
        )

    def content(self) -> bytes:
        """Canonical content, for telling a replay from another check-in under one key."""
        return self.model_dump_json(exclude={"idempotency_key"}).encode()


class BatchPatrolIn(PatrolIn):
    """A check-in kept on a device while offline, with the key it was given there."""

    idempotency_key: UUID


class PatrolBatchIn(BaseModel):
    """Up to 500 check-ins from a device that was offline; each is checked on its own."""

    patrols: list[dict[str, Any]] = Field(min_length=1, max_length=PATROL_MAX_BATCH)


class PatrolPhotoOut(BaseModel):
    id: int
    url: str = Field(description="the photo, EXIF/GPS stripped (with its check-in only)")
    thumb_url: str = Field(description="its 320 px thumbnail")


class PatrolOut(BaseModel):
    id: int
    username: str = Field(description="the account that checked in")
    worker_code: str | None = Field(description="the grid worker (网格员编号), if linked")
    worker_name: str | None
    checked_at: datetime = Field(description="device time of the check-in")
    received_at: datetime
    lon: float = Field(description="WGS 84")
    lat: float = Field(description="WGS 84")
    accuracy_m: float | None
    grid_code: str | None = Field(description="the grid it was made in (None: no grid there)")
    grid_name: str | None = Field(description="that grid's name")
    own_grid: bool | None = Field(
        description="whether that grid is one of the worker's own (None: no grids of their own)"
    )
    assign_method: str = Field(description="how the grid was found: covers | nearest | …")
    village_code: str | None = Field(description="the worker's village (its jurisdiction)")
    village: str | None
    note: str | None = Field(description="巡查情况")
    flags: dict[str, Any] = Field(description="low_accuracy, clock_suspect: for the desk to check")
    photos: list[PatrolPhotoOut] = Field(
        default_factory=list,
        description="巡查照片 (POST /api/patrols/{id}/photos): each photo's url and thumb_url",
    )
    track: list[list[float]] | None = Field(
        default=None, description="巡查轨迹: the way walked to it, [lon, lat] in WGS 84"
    )
    track_m: float | None = Field(
        default=None,
        description="巡查里程: its length in metres, leaving out the stretches faster than an "
        "e-bike's 25 km/h (a ride, or the position jumping)",
    )
    track_fast: list[int] | None = Field(
        default=None,
        description="the stretches of the track left out of track_m: i for the one from point "
        "i to point i + 1 (from 0)",
    )

    @classmethod
    def of(cls, view: PatrolView) -> PatrolOut:
        fields = {k: v for k, v in vars(view).items() if k != "photo_ids"}
        return cls(**fields, photos=[PatrolPhotoOut(**p) for p in view.photos])


class PatrolBatchItemOut(BaseModel):
    index: int
    status: PatrolStatus
    http_status: int
    patrol: PatrolOut | None = None
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None


class PatrolBatchOut(BaseModel):
    created: int
    replayed: int
    conflict: int
    rejected: int
    results: list[PatrolBatchItemOut]


WorkerCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


class GridWorkersIn(BaseModel):
    """网格员配备: the grid's grid workers from now on (their codes, as on the roster), in place
    of those it has; an empty list leaves it without one."""

    model_config = ConfigDict(extra="forbid")

    workers: list[WorkerCode] = Field(max_length=MAX_GRID_WORKERS, examples=[["W99010200100101"]])
    roles: dict[WorkerCode, Annotated[str, StringConstraints(max_length=16)]] | None = Field(
        default=None,
        description="each worker's part in the team (一主任三大员): chief 网格长, manager "
        "网格管理员, informant 网格信息员, supervisor 网格监督员; one chief a grid. A worker not "
        "named keeps the part they had here; a newcomer is the chief if there is none, else a "
        "manager.",
        examples=[{"W99010200100101": "chief"}],
    )


class GridWorkersOut(BaseModel):
    code: str = Field(description="grid code 网格编码")
    before: list[str] = Field(description="its grid workers before (codes)")
    after: list[str] = Field(description="its grid workers now (codes)")
    roles: dict[str, str] = Field(
        description="the part of each of them in the team now (chief, manager, informant, "
        "supervisor)"
    )


class FieldErrorOut(BaseModel):
    """One thing wrong with a request, by the field, query parameter or header at fault."""

    field: str = Field(
        description="the field (dotted inside the body: location.lon), query parameter or header",
        examples=["location.lon"],
    )
    type: str = Field(
        description="what is wrong with it: missing, enum, greater_than_equal, … or the error's "
        "code",
        examples=["missing"],
    )
    message: str = Field(
        description="the same in words, in the caller's language",
        examples=["location.lon（经度）缺少必填字段"],
    )


class ErrorOut(BaseModel):
    """The body of every error (4xx and 5xx) of the API (``api.errors``).  A browser asking for a
    page (``Accept: text/html``) gets the message as a small page instead."""

    model_config = ConfigDict(extra="allow")

    detail: str = Field(
        description="what was wrong and how to put it right: Chinese, or English with "
        "Accept-Language: en",
        examples=["没有找到该案件（或不在您的管辖范围内）。"],
    )
    code: str | None = Field(
        default=None,
        description="the error's kind for programs: not_found, forbidden, conflict, "
        "invalid_input, too_large, busy, …",
        examples=["not_found"],
    )
    errors: list[FieldErrorOut] | None = Field(
        default=None, description="each field at fault (invalid input), when the error names any"
    )
    current_status: str | None = Field(
        default=None, description="a case's or an edit's state now (a move it does not allow)"
    )
    allowed_actions: list[str] | None = Field(
        default=None, description="what the case's state allows now"
    )
    current_version: int | None = Field(
        default=None, description="the version now (a change made on an older one: 409)"
    )
