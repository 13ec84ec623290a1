"""The command-center map (``/maps/command``) and the one-grid map (``/maps/grid/{code}``).

A pure builder: options in, :class:`folium.Map` out.  Every layer is filled by ``command.js``
from the API for the current view (heat bins, grid counts, hotspots, centers' load, cases, the
live layer), so the page stays the same size whatever the number of cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jinja2 import Template

import folium
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.plugins import Fullscreen

from gis.settings import BaseMapSpec
from maps.assets import localize
from maps.city import add_base_map, fit_view, map_words, page_map
from maps.layers import PHONE_SCREEN, MetricScale, PlaceSearch, TitleBox

#: what command.js writes, Chinese first and English second ({n}, {name} … filled in there)
COMMAND_TEXT = {
    "zh": {
        "named": "{name}（{code}）",
        "overdue": "超期",
        "overdue_mark": "（超期）",
        "repeat_mark": "高频线索",
        "duplicate_mark": "疑似重复",
        "grid_code": "网格编码",
        "village": "村（社区）",
        "workers": "网格员",
        "list_sep": "、",
        "worker_role": "{name}（{role}）",
        "households": "户数",
        "open_cases": "在办案件 {open}，超期 {overdue}",
        "hotspot": "热点：{n} 件，主要为 {category}",
        "center_open": "在办 {n} 件",
        "center_overdue": "超期 {n} 件",
        "sep": "，",
        "filters_shown": "筛选：{what}",
        "kind": "类型",
        "all": "全部",
        "dispute": "矛盾纠纷",
        "hazard": "安全隐患",
        "category": "类别",
        "all_categories": "全部类别",
        "period": "时段",
        "last_days": "近{n}天",
        "last_year": "近一年",
        "status": "状态",
        "open": "未办结",
        "measure": "网格设色",
        "count": "案件数",
        "per_1000": "每千户案件数",
        "patrol": "巡查覆盖（巡查天数）",
        "patrol_title": "巡查覆盖：近{n}天内有巡查打卡的天数",
        "patrol_title_day": "巡查覆盖：{day} 有无巡查打卡",
        "patrol_days": "{n} 天",
        "walked": "已巡查",
        "grid_patrol": "巡查：近{of}天有 {n} 天打卡，最近 {last}",
        "grid_patrol_none": "巡查：从未打卡",
        "grid_patrol_none_since": "巡查：近{of}天无打卡（最近 {last}）",
        "unwalked": "未巡查",
        "walked_share": "视图内 {all} 个网格中 {n} 个有巡查",
        "patrol_unfiltered": "（巡查不按案件类型、类别筛选）",
        "by_day": "逐日",
        "in_view": "视图内案件 {n} 件",
        "too_many": " · 热点：案件过多，请放大或缩短时段",
        "hotspots": " · 热点 {n} 处",
        "live_new": " · 实时新增 {n} 件",
        "feed": "实时上报",
        "feed_none": "地图范围内的新上报将在此显示",
        "feed_open": "打开案件",
        "feed_no_point": "无坐标，按村（社区）登记",
        "grid_cases": "网格案件数",
        "zoom_in": "放大后显示网格",
        "no_cases": "无案件",
        "quantiles": "（分位数分级）",
        "layer_heat": "案件热力",
        "layer_grids": "网格（分级设色）",
        "layer_hot": "热点",
        "layer_centers": "综治中心（在办/超期）",
        "layer_cases": "案件（放大后显示，超期标红）",
        "layer_live": "实时新案件",
        "layer_districts": "区县界",
        "layer_townships": "乡镇（街道）界",
        "layer_villages": "村（社区）界",
        "layer_names": "地名",
        "trend": "近12周受理",
        "trend_week": "{start}至{end}：{n} 件（矛盾纠纷 {d}，安全隐患 {h}）",
    },
    "en": {
        "named": "{name} ({code})",
        "overdue": "overdue",
        "overdue_mark": " (overdue)",
        "repeat_mark": "repeat warning",
        "duplicate_mark": "possible duplicate",
        "grid_code": "Grid code",
        "village": "Village/community",
        "workers": "Grid workers",
        "list_sep": ", ",
        "worker_role": "{name} ({role})",
        "households": "Households",
        "open_cases": "Open cases {open}, overdue {overdue}",
        "hotspot": "Hotspot: {n} cases, mostly {category}",
        "center_open": "{n} open",
        "center_overdue": "{n} overdue",
        "sep": ", ",
        "filters_shown": "Filters: {what}",
        "kind": "Kind",
        "all": "all",
        "dispute": "Dispute",
        "hazard": "Safety hazard",
        "category": "Category",
        "all_categories": "all categories",
        "period": "Period",
        "last_days": "last {n} days",
        "last_year": "last year",
        "status": "Status",
        "open": "open",
        "measure": "Grid shading",
        "count": "cases",
        "per_1000": "cases per 1,000 households",
        "patrol": "Patrol coverage (days walked)",
        "patrol_title": "Patrol coverage: days with a check-in, last {n} days",
        "patrol_title_day": "Patrol coverage: walked on {day} or not",
        "patrol_days": "{n} days",
        "walked": "Walked",
        "grid_patrol": "Patrols: check-ins on {n} of the last {of} days, the last {last}",
        "grid_patrol_none": "Patrols: never checked in",
        "grid_patrol_none_since": "Patrols: none in {of} days (the last {last})",
        "unwalked": "Not walked",
        "walked_share": "{n} of {all} grids in view walked",
        "patrol_unfiltered": "(patrols are not filtered by kind or category)",
        "by_day": "Day by day",
        "in_view": "{n} cases in view",
        "too_many": " · hotspots: too many cases, zoom in or shorten the period",
        "hotspots": " · {n} hotspots",
        "live_new": " · {n} new, live",
        "feed": "Live reports",
        "feed_none": "New reports in view show here",
        "feed_open": "Open the case",
        "feed_no_point": "no point: filed by its village",
        "grid_cases": "Cases per grid",
        "zoom_in": "Zoom in to see the grids",
        "no_cases": "No cases",
        "quantiles": " (quantile classes)",
        "layer_heat": "Case heat",
        "layer_grids": "Grids (shaded)",
        "layer_hot": "Hotspots",
        "layer_centers": "Centers (open/overdue)",
        "layer_cases": "Cases (zoomed in; overdue in red)",
        "layer_live": "New cases, live",
        "layer_districts": "District outlines",
        "layer_townships": "Township outlines",
        "layer_villages": "Village outlines",
        "layer_names": "Place names",
        "trend": "Received, last 12 weeks",
        "trend_week": "{start} to {end}: {n} ({d} disputes, {h} hazards)",
    },
}


@dataclass(frozen=True)
class CommandOptions:
    """What ``command.js`` needs; ``region`` narrows every request to that region."""

    region: str | None = None
    categories: list[tuple[str, str, str]] = field(default_factory=list)  # code, name, kind
    tile_datum: str = "wgs84"
    grid_min_zoom: int = 12
    case_min_zoom: int = 15
    hotspot_m: float = 100.0
    hotspot_n: int = 5
    live_poll_ms: int = 1000
    focus_grid: str | None = None  # /maps/grid/{code}: the grid drawn bold with its popup open
    as_of: str | None = None  # a past layout of the grids (date or ISO time)
    lang: str = "zh"  # the words of the map (COMMAND_TEXT), the state names
    patrols: bool = False  # the 巡查覆盖 measure (the caller may read check-ins)
    trend: bool = False  # the region's cases received week by week (/api/stats/weekly)

    @property
    def text(self) -> dict[str, str]:
        return COMMAND_TEXT["en" if self.lang == "en" else "zh"]

    @property
    def states(self) -> dict[str, str]:
        from gis.workflow import STATE_NAMES, STATE_NAMES_EN

        return STATE_NAMES_EN if self.lang == "en" else STATE_NAMES


class CommandLayers(JSCSSMixin, MacroElement):
    """Heat, grid choropleth, hotspots, centers, cases, live layer, filters, time slider."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = wangge.command({{ this._parent.get_name() }}, {
            region: {{ this.options.region|tojson }},
            categories: {{ this.options.categories|tojson }},
            tileDatum: {{ this.options.tile_datum|tojson }},
            gridMinZoom: {{ this.options.grid_min_zoom|tojson }},
            caseMinZoom: {{ this.options.case_min_zoom|tojson }},
            hotspotM: {{ this.options.hotspot_m|tojson }},
            hotspotN: {{ this.options.hotspot_n|tojson }},
            livePollMs: {{ this.options.live_poll_ms|tojson }},
            focusGrid: {{ this.options.focus_grid|tojson }},
            asOf: {{ this.options.as_of|tojson }},
            patrols: {{ this.options.patrols|tojson }},
            trend: {{ this.options.trend|tojson }},
            phoneScreen: {{ this.phone_screen|tojson }},
            text: {{ this.options.text|tojson }},
            states: {{ this.options.states|tojson }}
        });
        {% endmacro %}
    """)
    default_js = [  # noqa: RUF012 - folium's own attribute
        ("leaflet-heat.js", "leaflet-heat.js"),
        ("wangge.js", "wangge.js"),
        ("command.js", "command.js"),
    ]
    default_css = [("wangge.css", "wangge.css")]  # noqa: RUF012

    def __init__(self, options: CommandOptions) -> None:
        super().__init__()
        self._name = "CommandLayers"
        self.options = options
        self.phone_screen = PHONE_SCREEN


def framed_map(
    title: str,
    bounds: tuple[float, float, float, float] | None,
    base: BaseMapSpec | None = None,
    subtitle: str = "",
    user: str | None = None,
    links: list[tuple[str, str]] | None = None,
    lang: str = "zh",
) -> folium.Map:
    """A page map with its base tiles, fitted to ``bounds`` (west, south, east, north), with the
    title box; the pages add their layers, then :func:`finish_map`."""
    w = map_words(lang)
    m = page_map(title)
    add_base_map(m, base, lang)
    TitleBox(title, subtitle, user=user, links=links, logout=w["logout"]).add_to(m)
    if bounds is not None:
        fit_view(m, bounds, base)
    PlaceSearch(w, lang).add_to(m)  # (above the page's own panels in the same corner)
    return m


def finish_map(m: folium.Map, lang: str = "zh") -> folium.Map:
    """Scale bar and fullscreen button; every asset pointed at local files."""
    w = map_words(lang)
    MetricScale().add_to(m)
    Fullscreen(title=w["fullscreen"], title_cancel=w["fullscreen_off"]).add_to(m)
    localize(m.get_root())
    return m


def build_command_map(
    *,
    title: str,
    bounds: tuple[float, float, float, float] | None,
    options: CommandOptions,
    base: BaseMapSpec | None = None,
    subtitle: str = "",
    user: str | None = None,
    links: list[tuple[str, str]] | None = None,
) -> folium.Map:
    """The command map.  ``bounds``: (west, south, east, north) WGS 84 degrees; its words in
    ``options.lang``."""
    m = framed_map(title, bounds, base, subtitle, user, links, options.lang)
    CommandLayers(options).add_to(m)
    return finish_map(m, options.lang)
