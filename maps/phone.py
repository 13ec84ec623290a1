"""The grid worker's phone page (``/m/``): my grids, my position, a report form, my reports,
and an offline queue.  The page is static HTML + ``phone.js``; data comes from the API."""

from __future__ import annotations

import json
from html import escape

from maps.assets import asset_url


def phone_page(
    user: str,
    grid_codes: list[str] | None,
    bounds: tuple[float, float, float, float] | None,
    links: list[tuple[str, str]] | None = None,
) -> str:
    """``grid_codes``: the worker's own grids (highlighted; None for a center's desk);
    ``links``: (label, path) of the other pages the user may open."""
    config = {"grids": grid_codes, "bounds": bounds}
    nav = "".join(f'<a href="{escape(path)}">{escape(label)}</a>' for label, path in links or [])
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="#b03a2e">
<title>网格员上报 · 网格 wangge</title>
<link rel="icon" type="image/svg+xml" href="{asset_url("favicon.svg")}">
<link rel="stylesheet" href="{asset_url("leaflet_css")}">
<link rel="stylesheet" href="{asset_url("phone.css")}">
</head>
<body>
<header class="m-bar">
  <b>网格员上报</b>
  <span class="m-user">{escape(user)}</span>
  <span id="net" class="m-net" role="status">在线</span>
</header>
{f'<nav class="m-nav">{nav}</nav>' if nav else ""}
<div id="map" class="m-map" aria-label="我的网格地图"></div>
<form id="report" class="m-form" novalidate>
  <div class="m-row">
    <label>类型
      <select name="kind" required>
        <option value="hazard">安全隐患</option>
        <option value="dispute">矛盾纠纷</option>
      </select>
    </label>
    <label>类别 <select name="category" required></select></label>
  </div>
  <label>情况描述
    <textarea name="description" rows="3" maxlength="2000" required
      placeholder="时间、地点、人物、经过，简明扼要"></textarea>
  </label>
  <div class="m-row">
    <button type="button" id="locate">📍 获取我的位置</button>
    <span id="where" class="m-where">尚未定位（也可在地图上点选）</span>
  </div>
  <label>现场照片（最多 6 张）
    <input type="file" name="photos" accept="image/jpeg,image/png,image/webp" multiple
      capture="environment">
  </label>
  <button type="submit" class="m-submit">提交上报</button>
  <p id="message" class="m-message" role="alert"></p>
</form>
<section class="m-list">
  <h2>待发送 <small>（无信号时保存在本机，恢复网络后自动发送）</small></h2>
  <ul id="queue"></ul>
  <h2>我的上报</h2>
  <ul id="mine"></ul>
</section>
<script id="config" type="application/json">{escape(json.dumps(config), quote=False)}</script>
<script src="{asset_url("leaflet")}"></script>
<script src="{asset_url("phone.js")}"></script>
</body>
</html>
"""
