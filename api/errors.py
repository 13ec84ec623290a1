"""One table from errors to responses: domain errors keep their status; validation errors become
422 with a message naming the field, in Chinese (or English by Accept-Language).  A browser
asking for a page gets the same status as a small page with the message (:func:`_is_page`); the
API gets JSON."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote
from uuid import UUID

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import request_lang as _chosen_lang
from api.limits import TooLarge, too_large
from gis.errors import (
    BadRequest,
    InvalidInput,
    NotAuthenticated,
    PasswordChangeRequired,
    WanggeError,
)
from maps.pages import error_page

log = logging.getLogger(__name__)

FIELD_NAMES = {
    "lon": ("经度", "longitude"),
    "lat": ("纬度", "latitude"),
    "kind": ("类型", "kind"),
    "category": ("类别", "category"),
    "description": ("描述", "description"),
    "severity": ("严重程度", "severity"),
    "reported_at": ("上报时间", "reported_at"),
    "location": ("位置", "location"),
    "region": ("区划", "region"),
    "datum": ("坐标系", "datum"),
    "accuracy_m": ("定位精度", "accuracy"),
    "bbox": ("范围", "bbox"),
    "since": ("起始时间", "since"),
    "level": ("级别", "level"),
    "limit": ("数量上限", "limit"),
    "source": ("案件来源", "source"),
    "source_ref": ("来源编号", "source_ref"),
    "parties": ("当事人", "parties"),
    "role": ("角色", "role"),  # a party's (申请人 …) or a user's (网格员 …)
    "phone": ("电话", "phone"),
    "id_card": ("身份证号", "id_card"),
    "photos": ("照片", "photos"),
    "reports": ("上报", "reports"),
    "report": ("上报内容", "report"),
    # the import page's form
    "file": ("文件", "file"),
    "what": ("导入内容", "what"),
    "part": ("图层/工作表/压缩包内文件", "part"),
    "households": ("户数", "households"),
    "population": ("人口", "population"),
    "version": ("版本号", "version"),
    "action": ("操作", "action"),
    "note": ("说明", "note"),
    "score": ("评分", "score"),
    "resolved": ("问题是否已解决", "resolved"),
    "username": ("用户名", "username"),
    "password": ("密码", "password"),
    # the pages' and lists' filters (a link edited by hand, a bookmark of an old form)
    "grid": ("网格编码", "grid"),
    "village": ("村（社区）编码", "village"),
    "start": ("开始日期", "start"),
    "end": ("结束日期", "end"),
    "due_within_hours": ("时限内小时数", "due_within_hours"),
    "offset": ("起始位置", "offset"),
    "status": ("状态", "status"),
    "days": ("天数", "days"),
}

#: what a pattern of the API asks for, said as a reader would: "应为 15 位数字" rather than
#: "格式不正确" (``string_pattern_mismatch``); a pattern not here keeps the plain words
PATTERN_WORDS = {
    r"^[0-9]{15}$": ("应为 15 位数字", "must be 15 digits"),
    r"^[0-9]{12}$": ("应为 12 位数字", "must be 12 digits"),
    r"^[0-9]{6,12}$": ("应为 6、9 或 12 位数字", "must be 6, 9 or 12 digits"),
    r"^([0-9]{6,12})?$": ("应为 6、9 或 12 位数字，或不填", "must be 6, 9 or 12 digits, or empty"),
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$": (
        "应为日期（如 2026-11-21），或不填",
        "must be a date (e.g. 2026-11-21), or empty",
    ),
}

_A_UUID = (
    "应为 UUID（如 3f2b8c1e-6d4a-4b7e-9a51-2c8d0e7f6a13）",
    "must be a UUID (e.g. 3f2b8c1e-6d4a-4b7e-9a51-2c8d0e7f6a13)",
)
_A_DATE = ("应为日期（如 2026-11-21）", "must be a date (e.g. 2026-11-21)")

# pydantic error type → (Chinese, English); {ge}, {le}, {expected} … come from the error's ctx
MESSAGES = {
    "missing": ("缺少必填字段", "is required"),
    "finite_number": (
        "必须是有限数字（不能是 NaN 或无穷大）",
        "must be a finite number (not NaN or infinity)",
    ),
    "float_parsing": ("必须是数字", "must be a number"),
    "int_type": ("必须是整数", "must be an integer"),
    "int_from_float": ("必须是整数（不能有小数）", "must be a whole number"),
    "bool_type": ("必须是 true 或 false", "must be true or false"),
    "bool_parsing": ("必须是 true 或 false", "must be true or false"),
    "string_type": ("必须是文本（字符串）", "must be a string"),
    "list_type": ("必须是数组（列表）", "must be an array (a list)"),
    "too_short": ("太少（至少 {min_length} 项）", "has too few items (at least {min_length})"),
    "uuid_type": _A_UUID,
    "date_type": _A_DATE,
    "date_parsing": _A_DATE,
    "date_from_datetime_parsing": _A_DATE,
    "uuid_parsing": _A_UUID,
    "date_from_datetime_inexact": (
        "应为日期（如 2026-11-21），不带时刻",
        "must be a date (e.g. 2026-11-21), without a time of day",
    ),
    "timezone_aware": ("须带时区（如 +08:00）", "must have a time zone (e.g. +08:00)"),
    "extra_forbidden": (
        "不是可接受的字段，请检查拼写",
        "is not an accepted field; check the spelling",
    ),
    "float_type": ("必须是数字", "must be a number"),
    "int_parsing": ("必须是整数", "must be an integer"),
    "int_parsing_size": ("必须是整数，且不能这么大", "must be an integer, and not this large"),
    "greater_than_equal": ("不能小于 {ge}", "must be ≥ {ge}"),
    "less_than_equal": ("不能大于 {le}", "must be ≤ {le}"),
    "greater_than": ("必须大于 {gt}", "must be > {gt}"),
    "less_than": ("必须小于 {lt}", "must be < {lt}"),
    "string_too_short": ("不能为空", "must not be empty"),
    "string_too_long": (
        "太长（最多 {max_length} 个字符）",
        "is too long (at most {max_length} characters)",
    ),
    "enum": ("取值无效，可选：{expected}", "is not valid; expected {expected}"),
    "literal_error": ("取值无效，可选：{expected}", "is not valid; expected {expected}"),
    "datetime_parsing": (
        "应为 ISO 8601 时间（如 2026-11-21T09:30:00+08:00）",
        "must be an ISO 8601 time (e.g. 2026-11-21T09:30:00+08:00)",
    ),
    "datetime_from_date_parsing": (
        "应为 ISO 8601 时间（如 2026-11-21T09:30:00+08:00）",
        "must be an ISO 8601 time (e.g. 2026-11-21T09:30:00+08:00)",
    ),
    "datetime_range": (
        "超出可处理的时间范围（公元 1–9999 年）：请检查设备时钟",
        "is outside the years 1 to 9999: check the device's clock",
    ),
    "json_invalid": ("不是有效的 JSON", "is not valid JSON"),
    "datetime_type": (
        "应为 ISO 8601 时间（如 2026-11-21T09:30:00+08:00）",
        "must be an ISO 8601 time (e.g. 2026-11-21T09:30:00+08:00)",
    ),
    "model_attributes_type": ("应为 JSON 对象", "must be a JSON object"),
    "dict_type": ("应为 JSON 对象", "must be a JSON object"),
    "model_type": ("应为 JSON 对象", "must be a JSON object"),
    "control_characters": (
        "不能包含控制字符（如 NUL）",
        "must not contain control characters (such as NUL)",
    ),
    "string_pattern_mismatch": ("格式不正确", "is not in the expected format"),
    # a form's text where a file is wanted (photos=text)
    "upload_text": ("应为上传的文件，不是文本", "must be a file sent, not text"),
    "string_unicode": (
        "含有无法识别的字符（不成对的 UTF-16 代理项，多为被截断的表情符号）：请删去后重发",
        "holds a character that is not text (an unpaired UTF-16 surrogate, often half an "
        "emoji): remove it and send again",
    ),
    "lat_range": ("必须在 -90 到 90 之间", "must be between -90 and 90"),
    "lat_swapped": (
        "超出 -90 到 90 的范围：是否把经度和纬度填反了？（({lat}, {lon}) 看起来才对）",
        "is beyond ±90: did you swap longitude and latitude? ({lat}, {lon}) looks right",
    ),
    "place_missing": (
        "缺少位置：请给出 location（经纬度）；具体位置不详时，由综治中心按所在村（社区）登记"
        "（region：村（社区）或乡镇（街道）的代码）",
        "location is missing: give the point (location), or, when no one knows it, the code of "
        "the village or township where it happened (region, a center desk's)",
    ),
    "place_both": (
        "location 与 region 只能给一个：有经纬度时不必再给所在村（社区）",
        "give location or region, not both: with a point, the region is not needed",
    ),
    "party_empty": (
        "至少需要姓名、电话或身份证号之一",
        "needs a name, a phone or an ID-card number",
    ),
    "party_invalid": ("{zh}", "{en}"),
    "too_long": ("太多（最多 {max_length} 项）", "has too many items (at most {max_length})"),
}


#: the messages of the body as a whole, when they differ from a field's
BODY_MESSAGES = dict.fromkeys(
    ("model_attributes_type", "dict_type", "model_type"),
    ("请求体应为 JSON 对象", "the request body must be a JSON object"),
) | {
    "missing": ("请求体为空：请发送 JSON 对象", "the request body is empty: send a JSON object"),
    "json_invalid": ("请求体不是有效的 JSON", "the request body is not valid JSON"),
}


def _field(loc: tuple[Any, ...]) -> str:
    # (without the member of a union pydantic tried: households.constrained-int, …list[…])
    parts = [
        str(p)
        for p in loc
        if p not in ("body", "query", "path", "header") and not _UNION_MEMBER.search(str(p))
    ]
    return ".".join(parts) or "body"


_UNION_MEMBER = re.compile(r"^(constrained|function|lax|nullable|tagged|json-or-python)-|\[")


def invalid_item(error: ValidationError, lang: str, **extra: Any) -> InvalidInput:
    """A batch item that failed validation: its errors described (:func:`describe_error`) and
    joined into one message, kept whole in ``errors``."""
    errors = [describe_error(dict(err), lang) for err in error.errors()]
    return InvalidInput(
        "；".join(x["message"] for x in errors),
        "; ".join(x["message"] for x in errors),
        errors=errors,
        **extra,
    )


def idempotency_key(value: str | None, what: tuple[str, str]) -> UUID:
    """The ``Idempotency-Key`` header as a UUID, else a 400 that says what each ``what`` (its
    words in Chinese and English: 每份上报 / each report) must carry."""
    try:
        return UUID(str(value))
    except ValueError as e:
        raise BadRequest(
            f"缺少或无效的 Idempotency-Key 请求头：{what[0]}须带一个设备生成的 UUID，"
            "重试时保持不变。",
            "Missing or invalid Idempotency-Key header: send a UUID made on the device for "
            f"{what[1]}, the same one on every retry.",
        ) from e


#: the most of a refused value an error message repeats
ECHO_MAX = 60


def describe_error(error: dict[str, Any], lang: str) -> dict[str, Any]:
    """One pydantic error as ``{field, type, message}`` in the caller's language."""
    loc = tuple(error.get("loc", ()))
    ctx = {
        k: int(v) if isinstance(v, float) and v.is_integer() else v
        for k, v in (error.get("ctx") or {}).items()
    }
    msg = error.get("msg", "invalid")
    if error["type"] == "value_error" and "Expected UploadFile" in msg:  # (FastAPI's words)
        error = error | {"type": "upload_text"}
    zh, en = MESSAGES.get(error["type"], (f"取值无效（{msg}）", msg))  # (one not foreseen)
    place = None  # where JSON could not be read
    if error["type"] == "json_invalid":  # the body's, or a form field's (a report's)
        near = re.search(r"line (\d+) column (\d+)", str(ctx.get("error", "")))
        if loc and isinstance(loc[-1], int):  # FastAPI's reader: the character's offset
            at = loc[-1] + 1
            place = (f"第 {at} 个字符处有误", f"wrong at character {at}")
            loc = loc[:-1]
        elif near:  # pydantic's
            line, column = near.groups()
            place = (
                f"第 {line} 行第 {column} 列附近有误",
                f"wrong near line {line}, column {column}",
            )
        loc = loc or ("body",)
    field = _field(loc)
    if error["type"] == "string_pattern_mismatch":
        zh, en = PATTERN_WORDS.get(str(ctx.get("pattern")), (zh, en))
    if field == "body":
        zh, en = BODY_MESSAGES.get(error["type"], (zh, en))
    template = en if lang == "en" else zh
    expected = ctx.get("expected")
    if lang != "en" and isinstance(expected, str):  # 'a', 'b' or 'c' → 'a'、'b'、'c'
        ctx["expected"] = expected.replace(", ", "、").replace(" or ", "、")
    try:
        text = template.format(**ctx)
    except (KeyError, IndexError):
        text = template
    if place:
        text += f" ({place[1]})" if lang == "en" else f"（{place[0]}）"
    named = [p for p in field.split(".") if not p.isdigit()]  # photos.0: the photos' name
    label = FIELD_NAMES.get(named[-1] if named else field, (field, field))
    if field == "body":
        name = ""
    elif error["type"] == "party_invalid":  # its message begins with the party's field's name
        name = field.rpartition(".")[0] + "." if "." in field else ""
    elif lang != "en" and label[0] != field:
        name = f"{field}（{label[0]}）"
    else:
        name = field
    received = error.get("input")
    suffix = ""
    if error["type"] not in ("missing", "json_invalid") and isinstance(received, int | float | str):
        shown = received if received != "" else "''"
        if isinstance(shown, str) and len(shown) > ECHO_MAX:  # (a pasted page: its start)
            shown = shown[:ECHO_MAX] + "…"
        if isinstance(shown, str):  # half an emoji (api.surrogates) quoted as its escape
            shown = shown.encode("utf-8", "backslashreplace").decode()
        suffix = f"，收到 {shown}" if lang != "en" else f"; got {shown}"
        if isinstance(received, str) and received and not received.strip():  # (unseen if quoted)
            suffix = "，收到的只有空白字符" if lang != "en" else "; got only blanks"
    # a space after a field's name, unless it ends in its Chinese label: 'after 必须是整数'
    sep = " " if name and not name.endswith(("）", ".")) else ""
    return {"field": field, "type": error["type"], "message": f"{name}{sep}{text}{suffix}"}


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    lang = request_lang(request)
    errors = [describe_error(e, lang) for e in exc.errors()]
    joiner = "; " if lang == "en" else "；"
    if _is_page(request):
        return _page(request, 422, joiner.join(e["message"] for e in errors))
    return JSONResponse(
        status_code=422,
        content={"detail": joiner.join(e["message"] for e in errors), "errors": errors},
    )


async def _domain_error(request: Request, exc: WanggeError) -> Response:
    if isinstance(exc, NotAuthenticated) and _is_page(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    if isinstance(exc, PasswordChangeRequired) and _is_page(request):
        return RedirectResponse("/account", status_code=303)
    if _is_page(request):
        return _page(request, exc.status, exc.localized(request_lang(request)))
    body: dict[str, Any] = {"detail": exc.localized(request_lang(request)), "code": exc.code}
    if "field" in exc.extra:
        body["errors"] = [
            {"field": exc.extra["field"], "type": exc.code, "message": body["detail"]}
        ]
    for key in _STATE_KEYS:  # e.g. an illegal move: the case's state and what is allowed now
        if key in exc.extra:
            body[key] = exc.extra[key]
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if "retry_after" in exc.extra:  # 429: when to try again
        headers["Retry-After"] = str(exc.extra["retry_after"])
    return JSONResponse(status_code=exc.status, content=body, headers=headers or None)


def request_lang(request: Request) -> str:
    """The language of an error: a page's own ``?lang=`` first (its error is in the language the
    page was asked in), else the user's (:func:`api.deps.request_lang`)."""
    asked = request.query_params.get("lang")
    if asked in ("zh", "en") and not request.url.path.startswith("/api/"):
        return asked
    return _chosen_lang(request)


_STATE_KEYS = (
    "current_status",
    "allowed_actions",
    "current_version",
    "conflicts",
    "findings",
    "permission",  # 403: the permission the role lacks (its code, e.g. case:handle)
)


def _is_page(request: Request) -> bool:
    """A browser asking for an HTML page (not the API): send it to the login page instead."""
    return (
        request.method == "GET"
        and not request.url.path.startswith("/api/")
        and "text/html" in request.headers.get("accept", "")
    )


def _page(request: Request, status: int, message: str) -> HTMLResponse:
    """The error as a page for a browser (same status): a sentence, not JSON."""
    public = request.url.path.startswith("/t/")  # a resident's page: no link into the app
    home = None if public else getattr(request.state, "home", "/")  # (api.deps: the user's)
    return HTMLResponse(
        error_page(status, message, lang=request_lang(request), home=home),
        status_code=status,
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Starlette's own errors (no such address, method not allowed) in the user's language: a
    page for a browser, JSON for the API."""
    lang = request_lang(request)
    if exc.status_code == 404:
        detail = (
            f"Nothing at {request.url.path}."
            if lang == "en"
            else f"没有这个地址：{request.url.path}，请检查链接。"
        )
    elif exc.status_code == 405:
        detail = (
            f"{request.url.path} does not take {request.method} requests."
            if lang == "en"
            else f"{request.url.path} 不支持 {request.method} 请求。"
        )
    elif isinstance(exc, TooLarge):  # (a body sent in chunks, found too large as it was read)
        detail = too_large(exc.limit, lang)
    elif exc.status_code == 400 and exc.detail == _UNPARSED:  # FastAPI's, in English
        detail = (
            "The request body could not be read (not valid JSON, or nested too deeply)."
            if lang == "en"
            else "请求体无法解析（不是有效的 JSON，或嵌套过深），请检查后重试。"
        )
    else:
        detail = str(exc.detail)
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        allow = _allowed(request, headers)
        headers = {k: v for k, v in (headers or {}).items() if k.lower() != "allow"}
        headers["Allow"] = allow
    if _is_page(request):
        page = _page(request, exc.status_code, detail)
        page.headers.update(headers or {})
        return page
    translated = exc.status_code in (404, 405, 413) or exc.detail == _UNPARSED
    content: dict[str, Any] = {"detail": detail if translated else exc.detail}  # else as raised
    if isinstance(exc, TooLarge):
        content["code"] = "too_large"
    return JSONResponse(status_code=exc.status_code, content=content, headers=headers)


def _allowed(request: Request, headers: Mapping[str, str] | None) -> str:
    """Every method the path takes (405's ``Allow``): those the API document lists for it, and
    those Starlette named.  Starlette names only the methods of the first route that matched the
    path, and GET and POST of one path are often two routes (``/api/users``: ``Allow: GET`` to a
    PUT, though it takes POST too)."""
    named = ",".join(v for k, v in (headers or {}).items() if k.lower() == "allow")
    methods = {m.strip() for m in named.split(",") if m.strip()}
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)), request.url.path):
            methods |= {m.upper() for m in operations}
    return ", ".join(sorted(methods))


#: what FastAPI says of a body it could not parse (a JSON nested too deeply, say)
_UNPARSED = "There was an error parsing the body"


async def _data_error(request: Request, exc: DataError) -> JSONResponse:
    """The database refused a value (the validators should have caught it first): still a 4xx."""
    lang = request_lang(request)
    detail = (
        "The database cannot store a value of this request (a control character, or a number "
        "out of range?). Please check the input."
        if lang == "en"
        else "数据库无法保存请求中的某个值（含控制字符或数值超出范围？），请检查输入。"
    )
    return JSONResponse(status_code=422, content={"detail": detail, "code": "unstorable_value"})


#: what PostgreSQL answers when a concurrent transaction got in the way: deadlock detected,
#: serialization failure, lock not available.  The request's transaction is rolled back whole.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


#: what PostgreSQL (or the driver, with no SQLSTATE) says when the database is out of reach:
#: connection exceptions (class 08), and a server shutting down or starting up (57P01–57P03)
UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")


#: a statement stopped by ``statement_timeout`` (or by an administrator's cancel)
QUERY_CANCELED = "57014"


def unreachable(exc: OperationalError) -> bool:
    """Whether ``exc`` says the database could not be reached, or the connection was lost."""
    state = getattr(exc.orig, "sqlstate", None)
    return exc.connection_invalidated or state is None or state.startswith(UNREACHABLE_SQLSTATES)


async def _database_error(request: Request, exc: OperationalError) -> Response:
    """A concurrent transaction got in the way (a deadlock, say): nothing of this request was
    written, and sending it again will do — the answer of a busy pool (503, Retry-After), not a
    500.  Logged, since a deadlock that recurs is a lock order to mend.

    Or the database is out of reach (stopped, restarting, the network to it cut), or out of
    resources (SQLSTATE class 53: its disk full, its memory, its connections), or it stopped a
    query that ran too long (``statement_timeout``): 503 too, saying which, and a retry will do
    once that is mended (a report under the same key is never taken twice).  Logged; the first
    two as errors, since somebody has to act.  Any other operational error is unexpected
    (500)."""
    state = getattr(exc.orig, "sqlstate", None)
    first_line = str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__
    if state in TRANSIENT_SQLSTATES:
        log.warning("%s %s: %s", request.method, request.url.path, first_line)
        return _retry_later(
            request,
            "本次请求与同时进行的另一项操作冲突，未保存任何内容，请几秒后重试"
            "（上报请使用同一个 Idempotency-Key）。",
            "This request collided with another operation at the same time: nothing of it was "
            "saved. Please retry in a few seconds (a report with the same Idempotency-Key).",
        )
    if state is not None and state.startswith("53"):
        log.error("%s %s: database out of resources: %s", request.method, request.url.path,
                  first_line)  # fmt: skip
        return _retry_later(
            request,
            "数据库资源不足（存储空间、内存或连接数），本次请求未保存任何内容，请稍后重试"
            "{key}；如持续出现，请联系系统管理员。",
            "The database is out of resources (disk space, memory or connections): nothing of "
            "this request was saved. Please retry later{key}; if this goes on, tell your "
            "administrator.",
            code="database_resources",
            after_s=30,
        )
    if state == QUERY_CANCELED:
        log.warning("%s %s: %s", request.method, request.url.path, first_line)
        return _retry_later(
            request,
            "本次查询用时过长，已被数据库中止，未保存任何内容；请缩小范围（区域、时间）后重试。",
            "This query took too long and the database stopped it: nothing was saved. Narrow it "
            "(the area, the dates) and retry.",
            code="timeout",
        )
    if unreachable(exc):
        log.error("%s %s: database unreachable: %s", request.method, request.url.path, first_line)
        return _retry_later(
            request,
            "暂时无法连接数据库，本次请求未能完成，请稍后重试{key}。如持续出现，请联系系统管理员。",
            "The database cannot be reached just now: this request was not completed. Please "
            "retry in a little while{key}. If this goes on, tell your administrator.",
            code="database_unavailable",
            after_s=10,
        )
    raise exc


async def _busy(request: Request, exc: PoolTimeout) -> Response:
    """Every database connection stayed in use for the pool's whole timeout: nothing of this
    request was written, and the client may send it again (with the same Idempotency-Key)."""
    return _retry_later(
        request,
        "服务器繁忙，本次请求未保存任何内容，请几秒后重试{key}。",
        "The server is busy: nothing of this request was saved. Please retry in a few seconds"
        "{key}.",
    )


#: what a client of the API is told of retrying (``{key}`` in :func:`_retry_later`'s words); a
#: page (a desk's, a resident's tracking page) says nothing of it: the key is the API's word
RETRY_KEY = (
    "（上报请使用同一个 Idempotency-Key 重发，不会重复登记）",
    " (a report sent again with the same Idempotency-Key is never registered twice)",
)


def _retry_later(
    request: Request, zh: str, en: str, code: str = "busy", after_s: int = 5
) -> Response:
    """503 with ``Retry-After``: JSON for the API, a page for a browser."""
    english = request_lang(request) == "en"
    key = "" if _is_page(request) else RETRY_KEY[english]
    detail = (en if english else zh).replace("{key}", key)
    return _answer(request, 503, detail, code, {"Retry-After": str(after_s)})


def _answer(
    request: Request, status: int, detail: str, code: str, headers: dict[str, str]
) -> Response:
    """An error answered with ``headers``: JSON for the API, a page for a browser."""
    if _is_page(request):
        page = _page(request, status, detail)
        page.headers.update(headers)
        return page
    return JSONResponse(
        status_code=status, content={"detail": detail, "code": code}, headers=headers
    )


async def _refused_by_database(request: Request, exc: DBAPIError) -> JSONResponse:
    """Row-level security (or a privilege) refused the statement: the second wall held."""
    if getattr(exc.orig, "sqlstate", None) != "42501":  # insufficient_privilege
        raise exc
    lang = request_lang(request)
    detail = (
        "Refused: outside your jurisdiction or permissions."
        if lang == "en"
        else "操作被拒绝：超出您的管辖范围或权限。"
    )
    return JSONResponse(status_code=403, content={"detail": detail, "code": "forbidden"})


#: constraints that only a race can break (the app checks first, with words of its own), each
#: with what to say: checked at the commit (deferred), or at the statement (a unique name)
DEFERRED_CONSTRAINTS = {
    # one account a name (the second regardless of letters' case, migration 0088): two
    # administrators (or a roster import) adding it at the same moment
    "app_user_username_key": (
        "该用户名刚被另一项操作同时使用，本次未保存，请换一个用户名。",
        "Another change took this user name at the same moment: nothing of this request was "
        "saved. Choose another name.",
    ),
    # one chief a grid (migration 0059): two changes to a grid's team at the same time (a
    # roster import and a planner on the grid's record) that each named a chief
    "worker_grid_one_chief": (
        "同一网格的网格长刚被另一项操作同时指定（一个网格只设一名网格长），本次未保存，"
        "请刷新后重试。",
        "Another change named this grid's chief at the same time (a grid has one chief): "
        "nothing of this request was saved. Reload and try again.",
    ),
}
DEFERRED_CONSTRAINTS["app_user_username_lower"] = DEFERRED_CONSTRAINTS["app_user_username_key"]


async def _conflict_at_commit(request: Request, exc: IntegrityError) -> JSONResponse:
    """A constraint only a race can break refused the commit (or the statement): another
    request changed the same thing at the same time.  Nothing was written: a 409 that says what
    collided, not a 500."""
    name = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    if name not in DEFERRED_CONSTRAINTS:
        raise exc
    zh, en = DEFERRED_CONSTRAINTS[name]
    detail = en if request_lang(request) == "en" else zh
    return JSONResponse(status_code=409, content={"detail": detail, "code": "conflict"})


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A fault of the app itself (a bug): 500 with a sentence in the user's language and a
    number to quote, the same number in the server's log beside the traceback — not
    Starlette's bare ``Internal Server Error``.  (This answer comes from outside the other
    middleware: it sets its own headers.)"""
    number = secrets.token_hex(4)
    # (the server writes the traceback itself, next to this line)
    log.error("%s %s: unexpected error %s: %r", request.method, request.url.path, number, exc)
    zh = (
        f"系统内部错误，本次操作未能完成（错误编号 {number}）。请稍后重试；如仍出现，请把"
        "错误编号告诉系统管理员。"
    )
    en = (
        f"An internal error: this was not completed (error number {number}). Please try again "
        "later; if it happens again, give the error number to your administrator."
    )
    detail = en if request_lang(request) == "en" else zh
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return _answer(request, 500, detail, "internal_error", headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(WanggeError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _data_error)  # type: ignore[arg-type]
    app.add_exception_handler(ProgrammingError, _refused_by_database)  # type: ignore[arg-type]
    app.add_exception_handler(PoolTimeout, _busy)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _database_error)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _conflict_at_commit)  # type: ignore[arg-type]
