"""巡查轨迹 (``/workers/{code}/patrols``): where a grid worker checked in on patrol, on a day.

A pure builder: the check-ins in (GeoJSON, as ``/api/patrols`` gives them), a
:class:`folium.Map` out: the grids around the worker's own (theirs drawn bold), the check-ins
numbered and joined in time order (:class:`maps.layers.PatrolTrack`), and links to the day
before and after.
"""

from __future__ import annotations

import folium

from gis.patrols import TRACK_MAX_KMH
from gis.settings import BaseMapSpec
from maps.assets import localize
from maps.city import add_base_map, fit_view, map_words, page_map
from maps.layers import MetricScale, PatrolTrack, TitleBox

#: the page's own words (the map's common ones: :data:`maps.city.MAP_WORDS`)
PATROL_WORDS = {
    "zh": {
        "locale": "zh-CN",
        "count": "当日巡查打卡 {n} 次",
        "none": "当日没有巡查打卡",
        "outside": "非本人网格",
        "photos": "{n} 张巡查照片，点击查看",
        "walked": "，轨迹约 {km} 公里",
        # 巡查里程 leaves out what was faster than an e-bike (gis.patrols.TRACK_MAX_KMH)
        "fast": "（另有 {n} 段快于每小时 {kmh} 公里：乘车或定位漂移，未计入）",
        "fast_tip": "快于每小时 {kmh} 公里（乘车或定位漂移），不计入巡查里程",
    },
    "en": {
        "locale": "en-GB",
        "count": "{n} patrol check-ins that day",
        "none": "No patrol check-in that day",
        "outside": "not their grid",
        "photos": "{n} photos: click to see",
        "walked": "; route about {km} km",
        "fast": " ({n} stretches faster than {kmh} km/h, a ride or the position jumping, "
        "not counted)",
        "fast_tip": "Faster than {kmh} km/h (a ride, or the position jumping): not counted",
    },
}


def build_patrol_map(
    *,
    title: str,
    subtitle: str,
    features: dict,
    grids: list[str],
    bounds: tuple[float, float, float, float] | None,
    base: BaseMapSpec | None = None,
    user: str | None = None,
    links: list[tuple[str, str]] | None = None,
    lang: str = "zh",
) -> folium.Map:
    """The patrol map: ``features`` the check-ins (GeoJSON FeatureCollection, time order),
    ``grids`` the worker's own grid codes, ``bounds`` (west, south, east, north; WGS 84) where
    the map opens when there are no check-ins; ``links`` (label, path) in its title box."""
    w = map_words(lang)
    words = {
        k: v.replace("{kmh}", str(TRACK_MAX_KMH))
        for k, v in PATROL_WORDS["en" if lang == "en" else "zh"].items()
    }
    m = page_map(title)
    add_base_map(m, base, lang)
    TitleBox(title, subtitle, user=user, links=links, logout=w["logout"]).add_to(m)
    if bounds is not None:
        fit_view(m, bounds, base)
    PatrolTrack(features, words, grids, bounds).add_to(m)
    MetricScale().add_to(m)
    localize(m.get_root())
    return m
