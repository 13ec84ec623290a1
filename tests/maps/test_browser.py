"""End to end in Debian's headless Chromium (Playwright, no downloaded browser): the map draws."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from api.app import create_app
from gis.settings import Settings
from importers.demo import DemoCity
from importers.demo_users import DEMO_PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def live_server(base_settings: Settings, demo_city: DemoCity) -> Iterator[str]:
    """The real app (its own sessions as wangge_app, committed data) on a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = base_settings
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator:  # type: ignore[type-arg]
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: make setup installs it"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_city_map_draws_offline(live_server: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server + "/")
    assert "/login" in page.url  # not logged in: sent to the login page
    page.fill("input[name=username]", "wrong_user")
    page.fill("input[name=password]", "Wrong#Password1")
    page.click("button[type=submit]")
    page.wait_for_selector("#error:has-text('用户名或密码错误')")
    page.fill("input[name=username]", "district_operator")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server + "/")
    page.wait_for_function(
        "() => window.wangge && wangge.loaded['/api/grids'] > 0"
        " && wangge.loaded['/api/centers?level=city&level=district&level=township'] > 0",
        timeout=20_000,
    )
    assert page.locator(".leaflet-container").count() == 1
    assert page.locator(".leaflet-control-layers").count() == 1
    title = page.locator(".wg-title").inner_text()
    assert title.startswith("城中区") and "示例·区综治中心" in title  # the district's own map
    assert page.locator("canvas.leaflet-heatmap-layer").count() == 1
    grids = page.evaluate("wangge.loaded['/api/grids']")
    assert grids > 10
    page.screenshot(path=str(tmp_path / "city.png"))
    if shots := os.environ.get("WANGGE_SCREENSHOTS"):
        page.screenshot(path=str(Path(shots) / "city.png"))
    outside = [u for u in requests if not u.startswith(live_server) and not u.startswith("data:")]
    errors = [e for e in errors if "401" not in e]  # the deliberate wrong password
    assert outside == [], f"requests left the server's origin: {outside[:3]}"
    assert errors == [], errors
    page.click(".wg-logout")
    page.wait_for_url("**/login")
    page.goto(live_server + "/")
    assert "/login" in page.url  # the session is gone
    page.close()
