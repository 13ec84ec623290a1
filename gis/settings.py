"""Configuration, read from the environment (``WANGGE_`` prefix) and ``.env``
(:func:`find_env_file`).

Settings are built by :func:`get_settings` when first asked for, never at import time, so a test
can build an app from explicit :class:`Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TILE_PRESETS = ("none", "osm", "tianditu", "intranet")


def find_data_dir(start: Path | None = None) -> Path:
    """``.wangge`` of the nearest folder, from ``start`` (the working directory) up, that has
    one, the way git finds ``.git``; else ``.wangge`` of ``start`` itself.

    So a command run from a sub-folder of the checkout (``cd maps && wangge serve``) uses the
    checkout's cluster, key and photos, instead of making a new, empty cluster and a new key
    beside it."""
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if (folder / ".wangge").is_dir():
            return folder / ".wangge"
    return here / ".wangge"


def find_env_file(start: Path | None = None) -> Path:
    """The ``.env`` to read: the one in ``start`` (the working directory) if there is one, else
    the one beside the data folder :func:`find_data_dir` finds (whether or not it exists).

    So a command run from a sub-folder of the checkout reads the checkout's ``.env`` (its
    ``DATABASE_URL``, its ``WANGGE_PII_KEY``) along with its ``.wangge/``, instead of running
    on the defaults: another database, another key.  A ``.env`` higher up that has no
    ``.wangge/`` beside it (say, in the home folder) belongs to something else and is never
    read."""
    here = (start or Path.cwd()).absolute()
    if (here / ".env").is_file():
        return here / ".env"
    return find_data_dir(here).parent / ".env"


@dataclass(frozen=True)
class BaseMapSpec:
    """A base map: tile URL template (None: no base map), attribution, the tiles' datum."""

    url: str | None
    attribution: str | None = None
    datum: str = "wgs84"
    subdomains: str = "abc"


class Settings(BaseSettings):
    """Everything a deployment may change.

    ``database_url`` unset means: use the embedded PostGIS cluster under ``data_dir``.
    """

    model_config = SettingsConfigDict(env_prefix="WANGGE_", env_file=".env", extra="ignore")

    def __init__(self, **values: Any) -> None:
        # ``.env``: :func:`find_env_file`, unless the caller names one (``_env_file``)
        values.setdefault("_env_file", find_env_file())
        super().__init__(**values)

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "WANGGE_DATABASE_URL")
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: The cluster, the personal-data key and the photos.  Unset: :func:`find_data_dir`.
    data_dir: Path = Field(default_factory=lambda: find_data_dir())
    #: Base-map tile URL template (``{z}/{x}/{y}``).  None: no base map, the map draws outlines on
    #: a plain background and makes no request outside the server's origin.
    tile_url: str | None = None
    tile_attribution: str | None = None
    #: Password of the database role ``wangge_app`` the app connects as (an existing PostGIS
    #: only; the embedded cluster generates its own).  ``wangge migrate`` sets it.
    app_db_password: str | None = None
    #: Key for residents' personal data: 32 bytes, base64.  Unset: ``<data_dir>/pii.key`` is
    #: created on first use (keep it: without it the data cannot be read).
    pii_key: str | None = None
    #: Sessions: absolute lifetime, idle timeout; login lockout after repeated failures.
    session_hours: float = Field(default=12, gt=0)
    #: The absolute lifetime of a command center account's sessions (指挥中心, read-only): a
    #: wall screen (大屏) runs day and night, its map's polling keeps the idle clock alive, and
    #: with ``session_hours`` it would fall to the login page twice a day.  A week by default:
    #: someone logs the screen in again once a week.
    command_session_hours: float = Field(default=168, gt=0, le=24 * 90)
    session_idle_minutes: float = Field(default=30, gt=0)
    #: Days an ended session (logged out, ended, expired) is kept: at an account's next login,
    #: its sessions that ended longer ago are deleted (where and on what device it logged in is
    #: personal information; the audit log keeps the logins).  0: kept for ever.
    session_keep_days: float = Field(default=180, ge=0)
    login_max_failures: int = Field(default=5, ge=1)
    #: A password's life in days (等保: 定期更换): a login with an older one may only change it.
    #: 0: passwords do not expire.
    password_max_days: float = Field(default=90, ge=0)
    #: The roles whose accounts must log in with 动态口令 (TOTP, ``gis.totp``), comma-separated
    #: (``admin,operator``): such an account without it may only set it up.  Any account may
    #: turn it on for itself.  Empty (default): nobody must.
    otp_roles: str = ""
    lockout_minutes: float = Field(default=10, gt=0)
    #: Wrong passwords from one network address, over every account (a password tried against
    #: many names, 撞库/密码喷洒): after this many in ``login_address_window_minutes`` that
    #: address's logins are refused (429) until the oldest of them is that old.  An office's
    #: workers may share one address behind its NAT: set it above what they mistype together.
    #: 0: off.
    login_address_max_failures: int = Field(default=30, ge=0)
    login_address_window_minutes: float = Field(default=15, gt=0)
    #: Datum of the base-map tiles: ``wgs84`` (also CGCS2000, Tianditu) or ``gcj02`` (Amap).
    tile_datum: str = "wgs84"
    #: Base-map preset: ``none`` (default: no request leaves the server), ``osm``, ``tianditu``
    #: (needs ``tianditu_key``) or ``intranet`` (``tile_url`` of your own tile server).
    #: ``tile_url`` alone also works (a custom server with ``tile_datum``).
    tile_preset: str = "none"
    tianditu_key: str | None = None
    #: Where case photos are stored (content-addressed files).  Unset: ``<data_dir>/photos``.
    photo_dir: Path | None = None
    #: The address residents' phones reach the app at, for the QR code on a receipt
    #: (e.g. ``https://wangge.example.gov.cn``).  Unset: the address the request came to.
    public_url: str | None = None
    #: The deadline clock (reminders, supervision letters, escalations, reminders to verify) runs
    #: in the server every so many seconds; 0 switches it off (then run ``wangge tick`` from cron).
    clock_interval_s: float = Field(default=60, ge=0)
    #: Database connections the server keeps open (none beyond them: a connection opened for a
    #: burst and closed after costs its login and a cold plan cache, more than the request).
    #: A request that finds all in use waits up to ``db_pool_timeout_s``, then gets a 503.
    db_pool_size: int = Field(default=20, ge=1, le=90)
    db_pool_timeout_s: float = Field(default=10, gt=0)
    #: 网格台账's rule for a grid of many households (户数偏多): above this many, a grid is
    #: marked and counted.  The usual rule for a city's grids is 300–500 households; a rural
    #: deployment (a grid a village group) may set its own.
    grid_households_max: int = Field(default=500, ge=1, le=100_000)
    #: 核查期限: a resolved case is to be verified (回访 by its desk, 现场核查 by the grid worker)
    #: within so many working days of its resolution, as the deployment's rules say (3 is
    #: usual).  The server's connections tell the database (``wangge.verify_hours``), whose
    #: trigger sets each case's ``verify_due`` as it moves to resolved (migration 0074).
    verify_work_days: float = Field(default=3, gt=0, le=60)

    @property
    def photos_path(self) -> Path:
        return self.photo_dir or self.data_dir / "photos"

    @field_validator("database_url")
    @classmethod
    def _psycopg3_driver(cls, url: str | None) -> str | None:
        """Accept ``postgres://`` and ``postgresql://`` URLs and route them to psycopg 3."""
        if not url:
            return None
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @field_validator("otp_roles")
    @classmethod
    def _known_otp_roles(cls, roles: str) -> str:
        named = [r.strip().lower() for r in roles.split(",") if r.strip()]
        known = ("grid_worker", "operator", "commander", "planner", "admin")
        unknown = [r for r in named if r not in known]
        if unknown:
            raise ValueError(
                f"WANGGE_OTP_ROLES: unknown role(s) {', '.join(unknown)}; the roles are "
                + ", ".join(known)
            )
        return ",".join(named)

    def otp_required(self, role: str) -> bool:
        """Whether an account of ``role`` must log in with 动态口令 (``otp_roles``)."""
        return role in self.otp_roles.split(",")

    @field_validator("tile_datum")
    @classmethod
    def _known_tile_datum(cls, datum: str) -> str:
        datum = datum.lower()
        if datum not in {"wgs84", "cgcs2000", "gcj02"}:
            raise ValueError("WANGGE_TILE_DATUM must be wgs84, cgcs2000 or gcj02")
        return datum

    @field_validator("tile_preset")
    @classmethod
    def _known_tile_preset(cls, preset: str) -> str:
        preset = preset.lower()
        if preset not in TILE_PRESETS:
            raise ValueError(f"WANGGE_TILE_PRESET must be one of {', '.join(TILE_PRESETS)}")
        return preset

    @model_validator(mode="after")
    def _base_map_complete(self) -> Settings:
        self.base_map()  # a preset without its key or URL fails at start-up, not on a page
        return self

    def base_map(self) -> BaseMapSpec:
        """The base map the pages draw (URL template, attribution, datum, subdomains)."""
        if self.tile_preset == "osm":
            return BaseMapSpec(
                "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "© OpenStreetMap contributors",
                "wgs84",
            )
        if self.tile_preset == "tianditu":
            if not self.tianditu_key:
                raise ValueError(
                    "WANGGE_TILE_PRESET=tianditu needs WANGGE_TIANDITU_KEY (天地图密钥)"
                )
            return BaseMapSpec(
                "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
                f"&TILECOL={{x}}&tk={self.tianditu_key}",
                "天地图 © 国家地理信息公共服务平台",
                "cgcs2000",
                "01234567",
            )
        if self.tile_preset == "intranet" and not self.tile_url:
            raise ValueError("WANGGE_TILE_PRESET=intranet needs WANGGE_TILE_URL")
        return BaseMapSpec(self.tile_url, self.tile_attribution, self.tile_datum)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        return path.expanduser().absolute()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment and ``.env``."""
    return Settings()
