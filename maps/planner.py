"""The planner's map (``/maps/planner?village=CODE``): the village's grids, the Draw tools, the
operations of an edit set, its findings and preview on the map, commit or discard.

A pure builder: options in, :class:`folium.Map` out; ``planner.js`` talks to ``/api/edits``.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Template

import folium
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.plugins import Draw

from gis.settings import BaseMapSpec
from maps.command import finish_map, framed_map


@dataclass(frozen=True)
class PlannerOptions:
    """The village being edited and the tolerance new edges snap within."""

    village: str
    village_name: str
    tolerance_m: float = 1.0
    #: below this zoom (and below the village's own view) panning fetches no more grids
    min_zoom: int = 13


class PlannerPanel(JSCSSMixin, MacroElement):
    """Grids of the village (click to select), the action panel, findings and preview layers."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = wangge.planner({{ this._parent.get_name() }}, {
            village: {{ this.options.village|tojson }},
            villageName: {{ this.options.village_name|tojson }},
            toleranceM: {{ this.options.tolerance_m|tojson }},
            minZoom: {{ this.options.min_zoom|tojson }}
        });
        {% endmacro %}
    """)
    default_js = [  # noqa: RUF012 - folium's own attribute
        ("wangge.js", "wangge.js"),
        ("planner.js", "planner.js"),
    ]
    default_css = [("wangge.css", "wangge.css")]  # noqa: RUF012

    def __init__(self, options: PlannerOptions) -> None:
        super().__init__()
        self._name = "PlannerPanel"
        self.options = options


def build_planner_map(
    *,
    title: str,
    bounds: tuple[float, float, float, float],
    options: PlannerOptions,
    base: BaseMapSpec | None = None,
    subtitle: str = "",
    user: str | None = None,
    links: list[tuple[str, str]] | None = None,
) -> folium.Map:
    """The planner's map of one village.  ``bounds``: (west, south, east, north) degrees."""
    m = framed_map(title, bounds, base, subtitle, user, links)
    Draw(
        position="topleft",
        show_geometry_on_click=False,
        draw_options={
            "polyline": {"shapeOptions": {"color": "#d7191c", "weight": 3}},
            "polygon": {"allowIntersection": False, "shapeOptions": {"color": "#2c7bb6"}},
            "rectangle": False,
            "circle": False,
            "marker": False,
            "circlemarker": False,
        },
        edit_options={"edit": False, "remove": True},
    ).add_to(m)
    PlannerPanel(options).add_to(m)
    return finish_map(m)
