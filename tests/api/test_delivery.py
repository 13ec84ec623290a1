"""How files and answers travel to a phone on one bar of signal: scripts and styles named by
their version and kept for good, every other static file asked again, and what is not
compressed already sent compressed."""

from __future__ import annotations

import gzip
import json
import re

import httpx
from fastapi.testclient import TestClient

from maps.assets import IMMUTABLE, OWN_DIR, REVALIDATE, VENDOR_DIR, file_version
from tests.conftest import report_body

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


def _raw(client: TestClient, url: str, headers: dict[str, str]) -> httpx.Response:
    """The answer as it travelled: its body not decompressed."""
    with client.stream("GET", url, headers=headers) as r:
        r.raw_body = b"".join(r.iter_raw())  # type: ignore[attr-defined]
    return r


def test_a_page_names_its_scripts_by_version_and_a_browser_keeps_them_for_good(
    client: TestClient,
) -> None:
    page = client.get("/?lang=zh").text
    urls = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page))
    own = next(u for u in urls if u.startswith("/static/wangge/wangge.css?v="))
    vendor = next(u for u in urls if u.startswith("/static/vendor/leaflet/dist/leaflet.js?v="))
    assert own.endswith("=" + str(file_version(OWN_DIR / "wangge.css")))
    assert vendor.endswith("=" + str(file_version(VENDOR_DIR / "leaflet/dist/leaflet.js")))
    assert all("?v=" in u for u in urls), urls
    for url in (own, vendor):
        r = client.get(url)
        assert r.status_code == 200 and r.headers["cache-control"] == IMMUTABLE, url
    # asked for without a version, or by one that is no longer the file's (a page kept from
    # before an upgrade): answered, but to be asked again, never kept under that URL
    bare = own.partition("?")[0]
    for url in (bare, bare + "?v=0123456789ab"):
        r = client.get(url)
        assert r.status_code == 200 and r.headers["cache-control"] == REVALIDATE, url
    again = client.get(bare, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == REVALIDATE
    # the phone's service worker keeps the same versioned URLs
    sw = client.get("/m/sw.js").text
    assert re.search(r'"/static/wangge/phone\.js\?v=[0-9a-f]{12}"', sw), sw[:400]


def test_what_is_not_compressed_already_travels_compressed(
    client: TestClient, demo_city: object
) -> None:
    script = _raw(client, "/static/wangge/phone.js", GZIP)
    assert script.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in script.headers["vary"].lower()
    whole = (OWN_DIR / "phone.js").read_bytes()
    assert gzip.decompress(script.raw_body) == whole  # type: ignore[attr-defined]
    assert len(script.raw_body) < len(whole) / 2  # type: ignore[attr-defined]
    plain = _raw(client, "/static/wangge/phone.js", IDENTITY)
    assert "content-encoding" not in plain.headers and plain.raw_body == whole  # type: ignore[attr-defined]

    # GeoJSON, and a batch sync's answer (a phone that was offline for days)
    grids = _raw(client, "/api/grids?bbox=-180,-90,180,90", GZIP)
    assert grids.status_code == 200 and grids.headers["content-encoding"] == "gzip"
    collection = json.loads(gzip.decompress(grids.raw_body))  # type: ignore[attr-defined]
    assert collection["type"] == "FeatureCollection" and collection["features"]
    p = demo_city.grids[0].geom.representative_point()  # type: ignore[attr-defined]
    items = [
        report_body(p.x, p.y, description=f"积水 {i}")
        | {"idempotency_key": f"00000000-0000-4000-8000-{i:012d}"}
        for i in range(20)
    ]
    r = client.post("/api/reports/batch", json={"reports": items}, headers=GZIP)
    assert r.status_code == 200 and r.json()["created"] == 20
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) < len(r.content) / 4

    # a small answer goes as it is; what is compressed already too (a workbook is a zip file;
    # a PNG)
    small = _raw(client, "/api/health", GZIP)
    assert small.status_code == 200 and "content-encoding" not in small.headers
    code = r.json()["results"][0]["case"]["code"]
    for url in (f"/api/cases/{code}/qr.png", "/queue.xlsx"):
        r = _raw(client, url, GZIP)
        assert r.status_code == 200 and "content-encoding" not in r.headers, url
