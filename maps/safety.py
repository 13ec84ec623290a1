"""The safety-index map (``/maps/safety``): each child region coloured by its 平安指数 band, with
the ranking beside it.

A pure builder: the index (:class:`gis.safety.SafetyIndex`) and the regions' outlines in,
:class:`folium.Map` out.  A few dozen simplified outlines are baked into the page (a township's
villages, a district's townships); clicking one opens the same map one level down.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape
from typing import Any

import numpy as np
from jinja2 import Template

import folium
from branca.element import MacroElement
from folium.plugins import Fullscreen

from gis.english import one_said_once
from gis.safety import BANDS, PART, PARTS, Entry, SafetyIndex
from gis.settings import BaseMapSpec
from gis.worktime import SHANGHAI
from maps.assets import localize
from maps.city import add_base_map, map_words, page_map
from maps.layers import FitBeside, HtmlControl, MetricScale, TitleBox

WORDS = {
    "zh": {
        "title": "{name} · 平安指数",
        "period": "近30天：{start} 至 {end}",
        "published": "已于 {at} 发布",
        "provisional": "尚未发布：按现有数据实时计算，仅供参考",
        "rank": "排名",
        "rank_of": "（第 {rank} 名）",
        "region": "区划",
        "score": "指数",
        "change": "较上周",
        "main": "主要扣分",
        "cases": "案件",
        "population": "人口",
        "unknown_population": "人口未知：未计发案与重大案件扣分",
        "rules": "计分办法（100 分减各项扣分）",
        "cap": "（最多 {cap:g} 分）：",
        "previous": "前一天",
        "next": "后一天",
        "up": "上一级",
        "own": "{name}：{score:.1f}（{band}）",
        "no_children": "无下级区划",
        "figures": "案件 {cases} 件（重大 {critical}）· 人口 {population} · 期限已到 {due} 件，"
        "未按期办结 {overdue} 件 · 高频线索 {repeats} 件 · 评价 {rated} 件，"
        "不满意 {dissatisfied} 件",
    },
    "en": {
        "title": "{name} · Safety index",
        "period": "Last 30 days: {start} to {end}",
        "published": "Published {at}",
        "provisional": "Not published yet: computed now from the data as it stands",
        "rank": "Rank",
        "rank_of": " (rank {rank})",
        "region": "Region",
        "score": "Index",
        "change": "vs last week",
        "main": "Main deduction",
        "cases": "Cases",
        "population": "Population",
        "unknown_population": "Population unknown: no incidence or critical-case deduction",
        "rules": "How it is counted (100 less the deductions)",
        "cap": " (at most {cap:g}): ",
        "previous": "Previous day",
        "next": "Next day",
        "up": "One level up",
        "own": "{name}: {score:.1f} ({band})",
        "no_children": "No child regions",
        "figures": "{cases} cases ({critical} critical) · population {population} · {due} due, "
        "{overdue} not resolved by the deadline · {repeats} repeat warnings · {rated} ratings, "
        "{dissatisfied} dissatisfied",
    },
}


class Choropleth(MacroElement):
    """Regions filled by their band's colour; a tooltip each; a click opens ``href``."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var layer = L.geoJSON({{ this.data|tojson }}, {
                style: function (f) {
                    return {color: "#555", weight: f.properties.own ? 3 : 1,
                            fill: !f.properties.own, fillColor: f.properties.color,
                            fillOpacity: 0.55};
                },
                onEachFeature: function (f, l) {
                    if (f.properties.own) return;
                    l.bindTooltip(f.properties.tip, {sticky: true});
                    if (f.properties.href) {
                        l.on("click", function () { window.location.href = f.properties.href; });
                    }
                }
            }).addTo({{ this._parent.get_name() }});
            window.wgSafetyLayer = layer;
        })();
        {% endmacro %}
    """)

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "Choropleth"
        self.data = data


def _points(p: float) -> str:
    return f"−{p:g}" if p else "0"


def _trend(e: Entry) -> str:
    """The change's colour: better (up) green, worse (down) red."""
    c = e.change
    return "" if not c else "wg-better" if c > 0 else "wg-worse"


def panel_html(
    index: SafetyIndex, href: Callable[[str], str], lang: str, up: str | None = None
) -> str:
    """The side panel: period, publication, the region's own index, the ranking of its children
    (each a link one level down), the bands and how the index is counted."""
    w = WORDS["en" if lang == "en" else "zh"]
    own = index.region
    at = index.published_at
    published = (
        w["published"].format(at=f"{at.astimezone(index.start.tzinfo):%Y-%m-%d %H:%M}")
        if at
        else w["provisional"]
    )
    end = index.end - timedelta(days=1)
    day = index.day
    links = [f'<a href="{escape(href(own.code) + f"&date={day - timedelta(days=1)}")}">'
             f"{w['previous']}</a>"]  # fmt: skip
    if day < datetime.now(SHANGHAI).date():
        links.append(
            f'<a href="{escape(href(own.code) + f"&date={day + timedelta(days=1)}")}">'
            f"{w['next']}</a>"
        )
    if up:
        links.append(f'<a href="{escape(href(up) + f"&date={day}")}">{w["up"]}</a>')
    head = (
        f'<div class="wg-safety-own" style="border-left: 6px solid {own.band.color}">'
        + escape(w["own"].format(name=own.name, score=own.score, band=own.band_name(lang)))
        + f' <small class="{_trend(own)}">{escape(own.change_text())}</small></div>'
    )
    f = own.figures
    breakdown = " · ".join(
        f"{p.en if lang == 'en' else p.zh} {_points(own.deductions[p.key])}" for p in PARTS
    )
    figures = w["figures"].format(
        **{k: getattr(f, k) for k in ("cases", "critical", "due", "overdue", "repeats", "rated",
                                      "dissatisfied")},
        population=f"{f.population:,}" if f.population else "?",
    )  # fmt: skip
    figures = one_said_once(figures) if lang == "en" else figures  # (1 case, 1 rating)
    notes = [f'<div class="wg-summary">{escape(breakdown)}<br>{escape(figures)}</div>']
    if own.figures.population is None:
        notes.append(f'<div class="wg-overdue">{escape(w["unknown_population"])}</div>')
    rows = "".join(
        f'<tr data-code="{escape(e.code)}"><td>{index.ranks.get(e.code, "")}</td>'
        f'<td><a href="{escape(href(e.code) + f"&date={day}")}">{escape(e.name)}</a></td>'
        f'<td class="wg-num" title="{escape(e.band_name(lang))}">'
        f'<i style="background:{e.band.color}"></i>{e.score:.1f}</td>'
        f'<td class="wg-num {_trend(e)}">{escape(e.change_text())}</td>'
        f"<td>{escape(e.main_text(lang))}</td></tr>"
        for e in index.children
    )
    table = (
        f'<table class="wg-safety-table"><thead><tr><th>{w["rank"]}</th><th>{w["region"]}</th>'
        f"<th>{w['score']}</th><th>{w['change']}</th><th>{w['main']}</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
        if index.children
        else ""
        if own.level == "village"
        else f"<div>{w['no_children']}</div>"
    )
    legend = " ".join(
        f'<span><i style="background:{b.color}"></i>'
        f"{escape(b.en if lang == 'en' else b.zh)} "
        f"{escape(f'≥{b.floor:g}' if b.floor else f'<{BANDS[-2].floor:g}')}</span>"
        for b in BANDS
    )
    rules = "".join(
        f"<li>{escape(p.en if lang == 'en' else p.zh)}{escape(w['cap'].format(cap=p.cap))}"
        f"{escape(p.rule_en if lang == 'en' else p.rule_zh)}</li>"
        for p in PARTS
    )
    period = w["period"].format(start=index.start.date(), end=end.date())
    return (
        f'<div class="wg-summary">{escape(period)}'
        f"<br>{escape(published)}</div>{head}{''.join(notes)}"
        f'<div class="wg-days">{" ".join(links)}</div>{table}'
        f'<div class="wg-legend">{legend}</div>'
        f"<details><summary>{escape(w['rules'])}</summary><ul>{rules}</ul></details>"
    )


def _tip(e: Entry, rank: int | None, lang: str) -> str:
    w = WORDS["en" if lang == "en" else "zh"]
    population = f"{e.figures.population:,}" if e.figures.population else "?"
    parts = "".join(
        f"<br>{escape(PART[k].en if lang == 'en' else PART[k].zh)} {_points(v)}"
        for k, v in e.deductions.items()
        if v > 0
    )
    return (
        f"<b>{escape(e.name)}</b>{w['rank_of'].format(rank=rank) if rank else ''}<br>"
        f"{w['score']} {e.score:.1f} · {escape(e.band_name(lang))} · {w['change']} "
        f"{escape(e.change_text())}<br>{w['cases']} {e.figures.cases} · {w['population']} "
        f"{population}{parts}"
    )


def build_safety_map(
    *,
    index: SafetyIndex,
    outlines: dict[str, dict[str, Any]],
    href: Callable[[str], str],
    up: str | None = None,
    base: BaseMapSpec | None = None,
    subtitle: str = "",
    user: str | None = None,
    links: list[tuple[str, str]] | None = None,
    lang: str = "zh",
) -> folium.Map:
    """The map: ``outlines`` (code → GeoJSON geometry) of the region and its children; ``href``
    (code → the page of that region, without the date); ``up`` the parent's code, if any.  Over
    base-map tiles drawn in GCJ-02 or BD-09 the outlines are shifted into the tiles' datum (else
    they would lie hundreds of metres off the streets they follow)."""
    w = WORDS["en" if lang == "en" else "zh"]
    title = w["title"].format(name=index.region.name)
    m = page_map(title)
    mw = map_words(lang)
    add_base_map(m, base, lang)
    features = []
    bounds = None
    for e in [index.region, *index.children]:
        geometry = outlines.get(e.code)
        if geometry is None:
            continue
        if base is not None and base.url:
            geometry = in_datum(geometry, base.datum)
        own = e.code == index.region.code
        if own:
            bounds = _bounds(geometry)  # as drawn (shifted into the tiles' datum)
        down = None if own or e.level == "village" else href(e.code) + f"&date={index.day}"
        features.append({
            "type": "Feature",
            "id": e.code,
            "geometry": geometry,
            "properties": {
                "code": e.code,
                "own": own and bool(index.children),
                "color": e.band.color,
                "tip": _tip(e, index.ranks.get(e.code), lang),
                "href": down,
            },
        })  # fmt: skip
    Choropleth({"type": "FeatureCollection", "features": features}).add_to(m)
    TitleBox(title, subtitle, user=user, links=links, logout=mw["logout"]).add_to(m)
    HtmlControl(panel_html(index, href, lang, up), css="wg-panel wg-safety").add_to(m)
    if bounds:
        west, south, east, north = bounds
        FitBeside([[south, west], [north, east]], panel="wg-safety").add_to(m)
    MetricScale().add_to(m)
    Fullscreen(title=mw["fullscreen"], title_cancel=mw["fullscreen_off"]).add_to(m)
    localize(m.get_root())
    return m


def in_datum(geometry: dict[str, Any], datum: str) -> dict[str, Any]:
    """GeoJSON ``geometry`` (WGS 84) in the coordinates of ``datum`` (GCJ-02, BD-09; the others
    are WGS 84 to a map's eye)."""
    if datum not in ("gcj02", "bd09"):
        return geometry
    import shapely
    from shapely.geometry import mapping, shape

    from gis.datum import wgs84_to_bd09, wgs84_to_gcj02

    forward = wgs84_to_gcj02 if datum == "gcj02" else wgs84_to_bd09

    def shift(xy: Any) -> Any:
        x, y = forward(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return dict(mapping(shapely.transform(shape(geometry), shift)))


def _bounds(geometry: dict[str, Any] | None) -> tuple[float, float, float, float] | None:
    if not geometry:
        return None
    from shapely.geometry import shape

    west, south, east, north = shape(geometry).bounds
    return west, south, east, north
