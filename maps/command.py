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
from maps.city import fit_view, page_map
from maps.layers import MetricScale, TitleBox


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
            asOf: {{ this.options.as_of|tojson }}
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


def framed_map(
    title: str,
    bounds: tuple[float, float, float, float] | None,
    base: BaseMapSpec | None = None,
    subtitle: str = "",
    user: str | None = None,
    links: list[tuple[str, str]] | None = None,
) -> folium.Map:
    """A page map with its base tiles, fitted to ``bounds`` (west, south, east, north), with the
    title box; the pages add their layers, then :func:`finish_map`."""
    m = page_map(title)
    if base is not None and base.url:
        folium.TileLayer(
            base.url,
            attr=base.attribution or "底图",
            name="底图",
            overlay=False,
            subdomains=base.subdomains,
        ).add_to(m)
    if bounds is not None:
        fit_view(m, bounds)
    TitleBox(title, subtitle, user=user, links=links).add_to(m)
    return m


def finish_map(m: folium.Map) -> folium.Map:
    """Scale bar and fullscreen button; every asset pointed at local files."""
    MetricScale().add_to(m)
    Fullscreen(title="全屏", title_cancel="退出全屏").add_to(m)
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
    """The command map.  ``bounds``: (west, south, east, north) WGS 84 degrees."""
    m = framed_map(title, bounds, base, subtitle, user, links)
    CommandLayers(options).add_to(m)
    return finish_map(m)
