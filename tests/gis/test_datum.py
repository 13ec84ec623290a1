"""Datum conversions: reference values, round trips over mainland China, outside China."""

from __future__ import annotations

import numpy as np
import pytest

from gis.datum import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    datum_named,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

# published values of the common open implementation, for (116.404, 39.915) in Beijing
REFERENCE = [
    (wgs84_to_gcj02, (116.41024449916938, 39.91640428150164)),
    (gcj02_to_bd09, (116.41036949371029, 39.92133699351021)),
    (bd09_to_gcj02, (116.39762729119315, 39.90865673957631)),
]


@pytest.mark.parametrize(("fn", "expected"), REFERENCE)
def test_reference_points(fn, expected) -> None:  # type: ignore[no-untyped-def]
    lon, lat = fn(116.404, 39.915)
    # bd09_to_gcj02 is solved exactly here; the reference uses a closed-form approximation
    tol = 2e-5 if fn is bd09_to_gcj02 else 1e-9
    assert lon == pytest.approx(expected[0], abs=tol) and lat == pytest.approx(expected[1], abs=tol)


def _mainland_sample() -> tuple[np.ndarray, np.ndarray]:
    """A dense grid over mainland China's box: ~27,000 points every 0.25°."""
    lon, lat = np.meshgrid(np.arange(73.75, 135.0, 0.25), np.arange(18.0, 53.5, 0.25))
    return lon.ravel(), lat.ravel()


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:  # type: ignore[no-untyped-def]
    dy = (lat2 - lat1) * 110_574
    dx = (lon2 - lon1) * 111_320 * np.cos(np.radians(lat1))
    return np.hypot(dx, dy)


def test_gcj02_round_trip_within_half_a_metre_everywhere() -> None:
    lon, lat = _mainland_sample()
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres(lon, lat, *back).max() < 0.5
    shift = _metres(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert shift.min() > 0 and shift.max() < 1000  # it is a real shift, of the known size


def test_bd09_round_trip_within_half_a_metre_everywhere() -> None:
    lon, lat = _mainland_sample()
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert _metres(lon, lat, *back).max() < 0.5


def test_outside_china_gcj02_is_wgs84() -> None:
    for lon, lat in ((2.35, 48.86), (-74.0, 40.7), (151.2, -33.9)):
        assert wgs84_to_gcj02(lon, lat) == (lon, lat)
        assert gcj02_to_wgs84(lon, lat) == pytest.approx((lon, lat))


def test_demo_city_shift_is_hundreds_of_metres() -> None:
    lon, lat = 113.95, 22.98
    assert 100 < _metres(lon, lat, *wgs84_to_gcj02(lon, lat)) < 700


def test_to_wgs84_by_datum() -> None:
    g = wgs84_to_gcj02(113.95, 22.98)
    assert to_wgs84(*g, "gcj02") == pytest.approx((113.95, 22.98), abs=1e-8)
    assert to_wgs84(113.95, 22.98, "cgcs2000") == (113.95, 22.98)
    with pytest.raises(ValueError):
        to_wgs84(1.0, 1.0, "mars")


@pytest.mark.parametrize(
    ("word", "datum"),
    [("百度坐标", "bd09"), ("BD-09", "bd09"), ("高德地图", "gcj02"), ("火星坐标系", "gcj02"),
     ("腾讯地图坐标", "gcj02"), ("谷歌", "gcj02"), ("GCJ-02坐标", "gcj02"), ("GPS坐标", "wgs84"),
     ("ＷＧＳ８４", "wgs84"), (" wgs 84 ", "wgs84"), ("EPSG:4326", "wgs84"),
     ("CGCS2000国家大地坐标系", "cgcs2000"), ("2000坐标系", "cgcs2000"), ("天地图", "cgcs2000"),
     ("北斗", "cgcs2000"), ("4490", "cgcs2000"), ("地图", None), ("坐标系", None), ("", None),
     ("mars", None)],
)  # fmt: skip
def test_datums_are_named_in_the_words_ledgers_use(word: str, datum: str | None) -> None:
    assert datum_named(word) == datum
