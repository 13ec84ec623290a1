"""Plain HTML pages around the maps (login).  Local assets only, Chinese first."""

from __future__ import annotations

from html import escape

from gis.cases import KIND_NAMES, SHANGHAI
from maps.assets import asset_url


def safe_next(target: str | None) -> str:
    """Only same-site paths may follow a login (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(next_url: str = "/", title: str = "网格 wangge") -> str:
    """The login form.  It posts JSON to ``/api/auth/login`` and then goes to ``next_url``."""
    target = escape(safe_next(next_url), quote=True)
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 · {escape(title)}</title>
<link rel="icon" type="image/svg+xml" href="{asset_url("favicon.svg")}">
<link rel="stylesheet" href="{asset_url("wangge.css")}">
</head>
<body class="wg-login">
<form id="login" class="wg-login-box" data-next="{target}">
  <h1>{escape(title)}</h1>
  <p class="wg-sub">综治中心网格化管理系统</p>
  <label>用户名 <input name="username" autocomplete="username" required autofocus></label>
  <label>密码 <input name="password" type="password" autocomplete="current-password" required>
  </label>
  <button type="submit">登录</button>
  <p id="error" class="wg-error" role="alert"></p>
</form>
<script src="{asset_url("login.js")}"></script>
</body>
</html>
"""


def _case_page_head(title: str, *, noindex: bool = False) -> str:
    """Doctype and head of the small case pages (tracking, receipt): local assets only."""
    robots = '<meta name="robots" content="noindex">\n' if noindex else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{robots}<title>{escape(title)}</title>
<link rel="icon" type="image/svg+xml" href="{asset_url("favicon.svg")}">
<link rel="stylesheet" href="{asset_url("wangge.css")}">
</head>"""


def tracking_page(case) -> str:  # type: ignore[no-untyped-def]
    """The public case page a resident opens from the QR code: status and steps only."""
    kind = KIND_NAMES[case.kind][0]
    steps = "".join(
        f"<li><time>{at:%Y-%m-%d %H:%M}</time> {escape(action)}"
        f"{'：' + escape(status) if status else ''}</li>"
        for at, action, status in case.steps
    )
    deadline = f"<p>办理时限：{case.deadline:%Y-%m-%d %H:%M}</p>" if case.deadline else ""
    return f"""{_case_page_head(f"案件进度 · {case.code}", noindex=True)}
<body class="wg-track">
<main>
  <h1>案件进度查询</h1>
  <p class="wg-code">案件编号 <b>{escape(case.code)}</b></p>
  <p>{escape(kind)} · {escape(case.category_name)} · {escape(case.place)}</p>
  <p class="wg-status">当前状态：<b>{escape(case.status)}</b></p>
  <p>登记时间：{case.received_at:%Y-%m-%d %H:%M}</p>
  {deadline}
  <h2>办理过程</h2>
  <ol class="wg-steps">{steps}</ol>
  <p class="wg-note">本页不显示个人信息和具体位置。如有疑问请联系所属综治中心。</p>
</main>
</body>
</html>
"""


def qr_svg(url: str, scale: int = 4) -> str:
    """The QR code for ``url`` as inline SVG (segno; no external service)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=scale, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def qr_png(url: str, scale: int = 8) -> bytes:
    import io

    import segno

    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=scale)
    return out.getvalue()


def receipt_page(case, tracking_url: str) -> str:  # type: ignore[no-untyped-def]
    """The printable receipt (回执) for a case: code, what, where (village), who handles it, by
    when, and the QR code of the public tracking page.  No personal data."""
    loc = case.location
    place = (
        " ".join(r.name for r in (loc.district, loc.township, loc.village) if r is not None)
        or "（未落入网格）"
    )
    center = loc.center
    center_line = (
        f"{escape(center.name)}" + (f"（电话 {escape(center.phone)}）" if center.phone else "")
        if center
        else "待分派"
    )
    kind = KIND_NAMES[case.kind][0]
    deadline = f"{case.deadline:%Y-%m-%d %H:%M}" if case.deadline else "—"
    return f"""{_case_page_head(f"受理回执 · {case.code}")}
<body class="wg-track wg-receipt">
<main>
  <h1>案件受理回执</h1>
  <table class="wg-receipt-table">
    <tr><th>案件编号</th><td><b id="case-code">{escape(case.code)}</b></td></tr>
    <tr><th>类型</th><td>{escape(kind)} · {escape(case.category_name)}</td></tr>
    <tr><th>登记时间</th><td>{case.received_at:%Y-%m-%d %H:%M}</td></tr>
    <tr><th>所在地</th><td>{escape(place)}</td></tr>
    <tr><th>承办单位</th><td>{center_line}</td></tr>
    <tr><th>办理时限</th><td>{deadline} 前</td></tr>
  </table>
  <figure class="wg-qr">
    {qr_svg(tracking_url)}
    <figcaption>微信或手机相机扫码，随时查看办理进度<br><small>{escape(tracking_url)}</small>
    </figcaption>
  </figure>
  <p class="wg-note">请妥善保管本回执。进度页不显示个人信息和具体位置。</p>
  <p class="wg-noprint"><button type="button" id="print">打印回执</button></p>
</main>
<script src="{asset_url("receipt.js")}"></script>
</body>
</html>
"""


LETTERS = {  # stage → (title, what it says)
    "reminder": ("提醒函", "该案件办理时限已过 80%，请抓紧办理，按期办结。"),
    "supervision": (
        "督办函",
        "该案件已到办理期限仍未办结，现予督办，并已自动上报上级综治中心。请于收到本函后"
        "立即说明情况、落实办理。",
    ),
    "notice": ("通报", "该案件超过办理时限一倍仍未办结，现予通报，抄送区综治中心。"),
}


def letter_page(case, stage: str, event, tracking_url: str) -> str:  # type: ignore[no-untyped-def]
    """A printable supervision document (两函一通报) for one case: which letter, when the clock
    issued it, to which center, the case's code, deadline and the tracking QR."""
    title, body = LETTERS[stage]
    center = case.location.center
    deadline = f"{case.deadline:%Y-%m-%d %H:%M}" if case.deadline else "—"
    issued = f"{event.at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
    return f"""{_case_page_head(f"{title} · {case.code}")}
<body class="wg-track wg-receipt wg-letter">
<main>
  <h1>{title}</h1>
  <p>{escape(center.name) if center else "承办单位"}：</p>
  <p>{body}</p>
  <table class="wg-receipt-table">
    <tr><th>案件编号</th><td><b id="case-code">{escape(case.code)}</b></td></tr>
    <tr><th>类型</th><td>{escape(KIND_NAMES[case.kind][0])} · {escape(case.category_name)}</td></tr>
    <tr><th>登记时间</th><td>{case.received_at:%Y-%m-%d %H:%M}</td></tr>
    <tr><th>办理时限</th><td>{deadline}</td></tr>
    <tr><th>当前状态</th><td>{escape(case.status)}</td></tr>
    <tr><th>发出时间</th><td>{issued}（系统督办时钟）</td></tr>
  </table>
  <figure class="wg-qr">
    {qr_svg(tracking_url)}
    <figcaption>扫码查看办理进度<br><small>{escape(tracking_url)}</small></figcaption>
  </figure>
  <p class="wg-noprint"><button type="button" id="print">打印</button></p>
</main>
<script src="{asset_url("receipt.js")}"></script>
</body>
</html>
"""
