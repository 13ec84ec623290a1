"""Plain HTML pages around the maps (login).  Local assets only, Chinese first."""

from __future__ import annotations

from html import escape

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
