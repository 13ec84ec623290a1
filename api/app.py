"""The FastAPI application: ``create_app(settings)`` builds it; nothing happens at import."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.responses import Response
from starlette.types import Scope

from api.deps import Authenticated, known_query, with_inline_scripts
from api.errors import install_error_handlers
from api.headers import SecurityHeaders
from api.limits import BodyLimit
from api.logs import hide_private_queries
from api.routers import (
    audit,
    auth,
    boundaries,
    cases,
    command,
    edits,
    health,
    imports,
    locate,
    maps,
    patrols,
    photos,
    stats,
    users,
    workflow,
)
from api.surrogates import MendSurrogates
from gis.db import (
    check_app_role,
    check_database,
    make_engine,
    make_sessionmaker,
    resolve_app_database_url,
)
from gis.pii import load_cipher
from gis.settings import Settings, get_settings
from gis.worktime import DAY_HOURS
from maps.assets import OWN_DIR, OWN_URL, VENDOR_DIR, VENDOR_URL, asset_url, cache_control

log = logging.getLogger("wangge")


#: every router of the app (tests walk them to check each route declares its permission)
async def _run_clock(app: FastAPI, interval: float) -> None:
    """The deadline clock (:mod:`gis.supervision`), in the server: one tick per ``interval``
    seconds, in a worker thread; then yesterday's safety index, if not yet published
    (:mod:`gis.safety`), and the roll-up's figures of the days cases changed
    (:mod:`gis.figures`).  A failed tick is logged and retried at the next interval."""
    from gis.figures import refresh
    from gis.safety import publish_due
    from gis.scope import Scope, bind_scope
    from gis.supervision import tick

    def once() -> None:
        with app.state.sessionmaker() as session:
            bind_scope(session, Scope.everything())
            report = tick(session)
            session.commit()
        if report.reminders or report.supervisions or report.notices or report.verifications:
            log.info("clock: %s", report.summary())
        with app.state.sessionmaker() as session:  # yesterday's safety index, once
            bind_scope(session, Scope.everything())
            published = publish_due(session)
            session.commit()
        if published:
            log.info("clock: yesterday's safety index published for %d regions", published)
        with app.state.sessionmaker() as session:  # the figures of the days cases changed
            bind_scope(session, Scope.everything())
            refresh(session)
            session.commit()

    while True:
        try:
            await run_in_threadpool(once)
        except Exception:
            log.exception("clock: tick failed")
        await asyncio.sleep(interval)


ROUTERS = (
    auth.router,
    audit.router,
    locate.router,
    cases.router,
    photos.router,
    boundaries.router,
    health.router,
    maps.router,
    workflow.router,
    stats.router,
    command.router,
    edits.router,
    users.router,
    imports.router,
    patrols.router,
)

DESCRIPTION = """
网格 wangge — 综治中心网格化管理系统 API。Grid management for social-governance centers.

坐标均为 WGS 84 经纬度（度）。Coordinates are WGS 84 longitude/latitude in degrees.
错误信息与案件类别、来源名称默认中文；请求头 `Accept-Language: en` 返回英文。
Messages and the names of case categories and sources are Chinese; `Accept-Language: en`
gives English.
"""


#: where the API's description is served (to those logged in: :func:`_serve_docs_offline`)
OPENAPI_URL = "/openapi.json"


def _serve_docs_offline(app: FastAPI) -> None:
    """The API's documentation and its description, for logged-in users (a security review
    flags an API described to anyone; an integrator has an account) and from local assets
    (FastAPI's default page uses a CDN)."""

    @app.get(OPENAPI_URL, include_in_schema=False)
    def openapi_json(caller: Authenticated) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request, caller: Authenticated) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title="网格 wangge API 文档",
            swagger_js_url=f"{VENDOR_URL}/swagger-ui-dist/swagger-ui-bundle.js",
            swagger_css_url=f"{VENDOR_URL}/swagger-ui-dist/swagger-ui.css",
            swagger_favicon_url=asset_url("favicon.svg"),
        )
        with_inline_scripts(request, page, bytes(page.body).decode())  # it starts the UI inline
        return page


def _document_manual_bodies(app: FastAPI) -> None:
    """Routes that read their body themselves (JSON or multipart) refer to these models."""
    from fastapi.openapi.utils import get_openapi
    from pydantic.json_schema import models_json_schema

    from api.schemas import ErrorOut, ReportCreate

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _, defs = models_json_schema(
                [(ReportCreate, "validation"), (ErrorOut, "serialization")],
                ref_template="#/components/schemas/{model}",
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, model in defs.get("$defs", {}).items():
                components.setdefault(name, model)
            _document_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


#: how the API document describes the errors it does not list one by one
_ERRORS = {
    "4XX": "请求有误：未登录、无权限、不存在、取值无效、冲突或过于频繁，见 detail (the request was "
    "refused: not logged in, not allowed, not found, invalid, in conflict or too frequent: see "
    "detail)",
    "5XX": "系统繁忙或数据库暂不可用，请稍后用同一请求重试 (busy, or the database out of reach: "
    "retry the same request later)",
}


def _document_errors(schema: dict[str, Any]) -> None:
    """Every error of the API has one body (``ErrorOut``, :mod:`api.errors`): the API document
    says so of every operation, for the errors its routes list and as ``4XX`` and ``5XX`` for the
    rest.  FastAPI documents a 422 of its own shape (``detail`` a list), which this app never
    sends; it goes.  Outside ``/api/``, a GET's error is a page for a browser (``Accept:
    text/html``, :func:`api.errors._is_page`): HTML too."""
    components = schema["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    body = {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            content: dict[str, Any] = {"application/json": body}
            if method == "get" and not path.startswith("/api/"):
                content["text/html"] = {"schema": {"type": "string"}}
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = content
                    if status == "422" and response.get("description") == "Validation Error":
                        response["description"] = "取值无效 (invalid input): detail, errors"
            for status, description in _ERRORS.items():
                responses.setdefault(status, {"description": description, "content": content})


#: answers smaller than this go as they are (compressing them saves less than it costs)
GZIP_MIN_BYTES = 1024
#: zlib's level: about as small as 9 at a fraction of its CPU (a 500-report batch's 770 kB
#: answer: 59 kB, in about 5 ms)
GZIP_LEVEL = 6
#: content that is compressed already: a workbook is a zip file (photos, PNG codes and the
#: like are in Starlette's list)
GZIP_SKIPPED = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/pdf",
)


class AssetFiles(StaticFiles):
    """Static files with their ``Cache-Control`` (:func:`maps.assets.cache_control`): kept for
    good when asked for by their current version, else asked again each time."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            query = scope.get("query_string", b"").decode("latin-1")
            response.headers["Cache-Control"] = cache_control(
                Path(str(self.directory)) / path, query
            )
        return response


def _freeze_startup_objects() -> None:
    """Move what exists at start (modules, the app, ~200k objects of GeoPandas, folium, FastAPI…)
    out of the cyclic garbage collector's reach, once per process.  A full collection otherwise
    walks all of them: in a run of 500-report batches it spent about 50 ms a batch doing so, 9 ms
    after the freeze.  Garbage is collected first, so only live objects are frozen."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app.  At start it connects as the app role and refuses to serve unless PostGIS
    is present, ``fsync``/``synchronous_commit`` are on, and the role cannot bypass row-level
    security."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            resolve_app_database_url(settings),
            pool_size=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout_s,
            verify_hours=settings.verify_work_days * DAY_HOURS,
        )
        check_database(engine)
        check_app_role(engine)
        app.state.engine = engine
        with Session(engine) as session:  # the key must read the personal data stored
            app.state.cipher = load_cipher(settings, session)
        app.state.sessionmaker = make_sessionmaker(engine)
        clock = None
        if settings.clock_interval_s > 0:
            clock = asyncio.create_task(_run_clock(app, settings.clock_interval_s))
        _freeze_startup_objects()
        yield
        if clock is not None:
            clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await clock
        engine.dispose()

    app = FastAPI(
        title="网格 wangge",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from local assets: FastAPI's default page uses a CDN
        openapi_url=None,  # (likewise, to those logged in)
        redoc_url=None,
    )
    app.state.settings = settings
    hide_private_queries()  # a phone typed into a search is not written to the server's log
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, dependencies=[Depends(known_query)])
    _serve_docs_offline(app)
    # the pages a login may go on to (api.deps.may_open)
    app.state.pages = tuple(
        route
        for route in [*(r for router in ROUTERS for r in router.routes), *app.routes]
        if isinstance(route, APIRoute) and "GET" in (route.methods or ())
    )
    _document_manual_bodies(app)
    app.mount(VENDOR_URL, AssetFiles(directory=VENDOR_DIR, check_dir=False), name="vendor")
    app.mount(OWN_URL, AssetFiles(directory=OWN_DIR), name="wangge-static")
    app.add_middleware(MendSurrogates)  # half an emoji in a JSON body is � (api.surrogates)
    app.add_middleware(BodyLimit)  # no body read whole that its route would refuse (api.limits)
    app.add_middleware(SecurityHeaders, base=settings.base_map())  # (api.headers)
    # Compressed for a client that accepts it (every browser does): a phone on one bar of
    # signal gets its scripts, the grids and the answer to its sync in a fifth to a tenth of
    # the bytes; a command center's GeoJSON likewise.  (The session cookie is SameSite=Strict:
    # another site cannot make a browser send the requests a compression-size attack needs.)
    app.add_middleware(
        GZipMiddleware,
        minimum_size=GZIP_MIN_BYTES,
        compresslevel=GZIP_LEVEL,
        exclude_content_types=GZIP_SKIPPED,
    )
    return app
