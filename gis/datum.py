"""Datums of points as phones report them: WGS 84, CGCS2000, GCJ-02 and BD-09.

* WGS 84 (EPSG:4326) and CGCS2000 (EPSG:4490) differ by centimetres: treated as the same.
* GCJ-02 (Amap/Gaode, Tencent) is WGS 84 shifted by a published obfuscation formula, 100–700 m
  inside mainland China and not at all outside it.
* BD-09 (Baidu) is GCJ-02 shifted again.

The forward formulas are the public ones; the inverses are solved by fixed-point iteration to
better than 1e-9° (0.1 mm), so a round trip is exact for every practical purpose.  Every function
takes and returns longitude, latitude in degrees and works on floats or numpy arrays.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TypeVar

import numpy as np

A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
EE = 0.00669342162296594323
X_PI = np.pi * 3000.0 / 180.0
DATUMS = ("wgs84", "cgcs2000", "gcj02", "bd09")
#: how files and people name the datums (matched as :func:`datum_named` reads them).  天地图
#: and 北斗 are CGCS2000's; Google's map of China, like Amap and Tencent, is GCJ-02
DATUM_WORDS = {
    "wgs84": ("wgs84", "wgs-84", "wgs 84", "wgs", "gps", "epsg:4326", "4326", "原始gps"),
    "cgcs2000": ("cgcs2000", "cgcs-2000", "cgcs", "国家2000", "2000", "epsg:4490", "4490",
                 "天地图", "北斗"),
    "gcj02": ("gcj02", "gcj-02", "gcj", "火星", "火星坐标", "国测局", "高德", "腾讯", "谷歌",
              "google", "amap", "gcj02ll"),
    "bd09": ("bd09", "bd-09", "bd09ll", "百度", "baidu"),
}  # fmt: skip
_NAMED = {w: code for code, words in DATUM_WORDS.items() for w in words}
#: what a datum's name may have after it: 百度坐标, 高德地图, CGCS2000国家大地坐标系, WGS84坐标系
_DATUM_SUFFIX = re.compile(r"(国家大地坐标系|大地坐标系|坐标系统|坐标系|坐标|地图|经纬度|系)$")
_TOLERANCE_DEG = 1e-9

T = TypeVar("T", float, np.ndarray)


def datum_named(word: str) -> str | None:
    """The datum (one of :data:`DATUMS`) that ``word`` names — 'GCJ-02', '高德', 'WGS84',
    '百度坐标', 'CGCS2000国家大地坐标系' … (full-width letters and spaces around make no
    difference) — or None."""
    w = unicodedata.normalize("NFKC", word).strip().lower()
    if w in _NAMED:
        return _NAMED[w]
    for _ in range(2):  # 高德地图坐标系
        w = _DATUM_SUFFIX.sub("", w).strip()
    return _NAMED.get(w)


def out_of_china(lon: T, lat: T) -> T:
    """True outside the rough mainland-China box where GCJ-02 applies (no shift there)."""
    inside = (lon > 72.004) & (lon < 137.8347) & (lat > 0.8293) & (lat < 55.8271)
    return np.logical_not(inside)  # not ~: on a Python bool that is -2, which is truthy


def _shift_lat(x: T, y: T) -> T:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret  # type: ignore[no-any-return]


def _shift_lon(x: T, y: T) -> T:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret  # type: ignore[no-any-return]


def wgs84_to_gcj02(lon: T, lat: T) -> tuple[T, T]:
    """WGS 84 → GCJ-02 (identity outside China)."""
    dlat = _shift_lat(lon - 105.0, lat - 35.0)
    dlon = _shift_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, lon, lon + dlon)[()], np.where(outside, lat, lat + dlat)[()]  # type: ignore[return-value]


def gcj02_to_bd09(lon: T, lat: T) -> tuple[T, T]:
    """GCJ-02 → BD-09."""
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006  # type: ignore[return-value]


def _invert(forward, lon: T, lat: T) -> tuple[T, T]:  # type: ignore[no-untyped-def]
    """Solve forward(x) = (lon, lat) for x by fixed-point iteration (converges in a few steps:
    the shifts vary slowly)."""
    x, y = lon, lat
    for _ in range(30):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x, y = x - ex, y - ey
        if np.all(np.abs(ex) < _TOLERANCE_DEG) and np.all(np.abs(ey) < _TOLERANCE_DEG):
            break
    return x, y


def gcj02_to_wgs84(lon: T, lat: T) -> tuple[T, T]:
    """GCJ-02 → WGS 84 (iterative inverse; identity outside China)."""
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon: T, lat: T) -> tuple[T, T]:
    """BD-09 → GCJ-02 (iterative inverse)."""
    return _invert(gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon: T, lat: T) -> tuple[T, T]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: T, lat: T) -> tuple[T, T]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: T, lat: T, datum: str) -> tuple[T, T]:
    """The WGS 84 position of a point given in ``datum`` (CGCS2000 is taken as WGS 84)."""
    if datum in ("wgs84", "cgcs2000"):
        return lon, lat
    # NaN or ∞ in an imported column goes through as NaN (the row is rejected after), without
    # numpy's warnings on the importer's terminal
    with np.errstate(invalid="ignore", over="ignore"):
        if datum == "gcj02":
            return gcj02_to_wgs84(lon, lat)
        if datum == "bd09":
            return bd09_to_wgs84(lon, lat)
    raise ValueError(f"unknown datum {datum!r}; expected one of {', '.join(DATUMS)}")
