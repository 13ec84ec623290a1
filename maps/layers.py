"""folium elements of wangge maps: layers fed by the API for the current view, a title box."""

from __future__ import annotations

from jinja2 import Template

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer

#: a phone's screen, upright or turned (wangge.css's 640 px): the panels that stand open on a
#: desk's screen (a map's list of layers, the command map's filters) start folded there
PHONE_SCREEN = "(max-width: 640px), (max-height: 500px)"


class ApiGeoJson(JSCSSMixin, Layer):
    """A GeoJSON layer that loads ``url?bbox=…`` for the current view and reloads after moves.

    Nothing is baked into the page: the API answers for the visible area only.  ``fields`` are
    ``(property, label)`` pairs shown in the hover tooltip; ``style`` is a Leaflet path style;
    points are drawn as circle markers with ``marker`` options.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = wangge.apiLayer(
            {{ this._parent.get_name() }},
            L.geoJSON(null, {
                style: function (f) { return {{ this.style|tojson }}; },
                pointToLayer: function (f, latlng) {
                    return L.circleMarker(latlng, {{ this.marker|tojson }});
                }
            }),
            {{ this.url|tojson }},
            {minZoom: {{ this.min_zoom|tojson }}, fields: {{ this.fields|tojson }}}
        );
        {% endmacro %}
    """)
    default_js = [("wangge.js", "wangge.js")]  # noqa: RUF012 - folium's own attribute
    default_css = [("wangge.css", "wangge.css")]  # noqa: RUF012

    def __init__(
        self,
        url: str,
        name: str,
        *,
        style: dict | None = None,
        marker: dict | None = None,
        fields: list[tuple[str, str]] | None = None,
        min_zoom: int | None = None,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "ApiGeoJson"
        self.url = url
        self.style = style or {}
        self.marker = marker or {"radius": 5}
        self.fields = [list(f) for f in (fields or [])]
        self.min_zoom = min_zoom


class TileDatum(JSCSSMixin, MacroElement):
    """Tells the page's scripts the datum of its base tiles (``wangge.setTileDatum``): on GCJ-02
    tiles (Amap, Tencent) every layer fed by the API is drawn shifted into GCJ-02, where the
    tiles show the streets, and what is drawn or clicked on the map is shifted back to WGS 84
    before it is sent (``wangge.fromMap``).  Add it right after the tiles, before the layers."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        wangge.setTileDatum({{ this.datum|tojson }});
        {% endmacro %}
    """)
    default_js = [("wangge.js", "wangge.js")]  # noqa: RUF012 - folium's own attribute

    def __init__(self, datum: str) -> None:
        super().__init__()
        self._name = "TileDatum"
        self.datum = datum


class ViewHeat(JSCSSMixin, Layer):
    """案件热力 of the current view: cases counted per cell by the server (``/api/heat``, the cell
    size chosen by the zoom) for the last ``days`` days, loaded again after each move, each cell
    drawn as wide as it is on the screen (so that cells blend into one surface at every zoom),
    shifted with the base map's datum.  Weights are relative to the 98th-percentile cell, so
    that one busy market does not leave the rest of the map blank."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = wangge.viewHeat(
            {{ this._parent.get_name() }}, {{ this.url|tojson }});
        {% endmacro %}
    """)
    default_js = [  # noqa: RUF012 - folium's own attribute
        ("wangge.js", "wangge.js"),
        ("leaflet-heat.js", "leaflet-heat.js"),
    ]

    def __init__(self, name: str, days: int = 180) -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "ViewHeat"
        self.days = days
        self.url = f"/api/heat?days={days}"


class TitleBox(MacroElement):
    """A box in a corner of the map with a title, a line of text, the user with a logout link and
    links to the other pages (:func:`maps.nav.page_links`), all HTML-escaped."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var box = L.control({position: {{ this.position|tojson }}});
            box.onAdd = function () {
                var div = L.DomUtil.create('div', 'wg-title');
                div.innerHTML = '<b>' + wangge.escapeHtml({{ this.title|tojson }}) + '</b>'
                    {% if this.subtitle %}
                    + '<br><span class="wg-demo">'
                    + wangge.escapeHtml({{ this.subtitle|tojson }}) + '</span>'
                    {% endif %}
                    {% if this.user %}
                    + '<br><span class="wg-user">' + wangge.escapeHtml({{ this.user|tojson }})
                    + '<a class="wg-logout">' + wangge.escapeHtml({{ this.logout|tojson }})
                    + '</a></span>'
                    {% endif %}
                    {% if this.links %}
                    + '<br><span class="wg-nav">' + {{ this.links|tojson }}.map(function (l) {
                        return '<a href="' + wangge.escapeHtml(l[1]) + '">'
                            + wangge.escapeHtml(l[0]) + '</a>';
                    }).join(' ') + '</span>'
                    {% endif %};
                var out = div.querySelector('.wg-logout');
                if (out) out.addEventListener('click', wangge.logout);
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            var map = {{ this._parent.get_name() }};
            box.addTo(map);
            {% if this.position == "topleft" %}
            // where the panels of the top right corner (filters, a ranking) would cover the
            // title and its links (a phone, a tablet, long English links), they start below it:
            // judged again as either changes size (a panel filled in, a turned screen)
            var corner = map.getContainer().querySelector('.leaflet-top.leaflet-right');
            var clear = function () {
                var div = box.getContainer();
                corner.style.top = '';
                var a = div.getBoundingClientRect(), b = corner.getBoundingClientRect();
                var covers = b.width > 0 && b.left < a.right + 10 && b.top < a.bottom;
                var frame = map.getContainer().getBoundingClientRect();
                if (covers) corner.style.top = Math.ceil(a.bottom - frame.top) + 'px';
            };
            if (corner) {
                clear();
                map.on('resize', clear);
                map.wgClearTitle = clear;  // (FitBeside asks first, the panels being there)
                if (window.ResizeObserver) {
                    var watch = new ResizeObserver(clear);
                    watch.observe(corner);
                    watch.observe(box.getContainer());
                }
            }
            {% endif %}
        })();
        {% endmacro %}
    """)

    def __init__(
        self,
        title: str,
        subtitle: str = "",
        position: str = "topleft",
        user: str | None = None,
        links: list[tuple[str, str]] | None = None,
        logout: str = "退出登录",
    ) -> None:
        super().__init__()
        self._name = "TitleBox"
        self.logout = logout  # the logout link's words
        self.title = title
        self.subtitle = subtitle
        self.position = position
        self.user = user  # "name（role）" of the logged-in user, with a logout link
        self.links = [list(link) for link in links or []]  # (label, path): the other pages


class PlaceSearch(JSCSSMixin, MacroElement):
    """地名查找: a search box in the top right corner that finds regions and grids by name or
    code (``GET /api/places``, ``places.js``) and takes the map to the one chosen, outlined.
    Add it before the corner's other panels, to stand above them.  On a map whose base tiles
    are GCJ-02 (the command map) the outline is shifted as its other layers (``wangge.toMap``).
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }}, words = {{ this.words|tojson }};
            var box = L.control({position: "topright"});
            box.onAdd = function () {
                var div = L.DomUtil.create("div", "wg-panel wg-places");
                var input = L.DomUtil.create("input", "", div);
                input.type = "search";
                input.name = "place";
                input.autocomplete = "off";
                input.placeholder = words.place_search;
                input.setAttribute("aria-label", words.place_search);
                var list = L.DomUtil.create("ul", "wg-place-list", div);
                list.hidden = true;
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                wgPlaces(map, input, list, {
                    none: words.place_none, offline: words.place_offline, lang: words.lang,
                    toMap: function (lat, lon) {
                        return window.wangge && wangge.toMap ? wangge.toMap(lat, lon)
                                                             : L.latLng(lat, lon);
                    }
                });
                return div;
            };
            box.addTo(map);
        })();
        {% endmacro %}
    """)
    default_js = [("places.js", "places.js")]  # noqa: RUF012 - folium's own attribute

    def __init__(self, words: dict[str, str], lang: str) -> None:
        super().__init__()
        self._name = "PlaceSearch"
        keys = ("place_search", "place_none", "place_offline")
        self.words = {k: words[k] for k in keys} | {"lang": "en" if lang == "en" else "zh"}


class MetricScale(MacroElement):
    """A metric-only scale bar (folium's ``control_scale`` also shows miles)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, position: "bottomleft"})
            .addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"


class HtmlControl(JSCSSMixin, MacroElement):
    """A Leaflet control holding ``html`` (built and escaped by the caller): written into the
    page's body as HTML (readable without the script), then moved into the control.  It brings
    the app's script and style sheet (the title box needs them)."""

    _template = Template("""
        {% macro html(this, kwargs) %}
        <div id="{{ this.get_name() }}" class="{{ this.css }}">{{ this.content }}</div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
            var box = L.control({position: {{ this.position|tojson }}});
            box.onAdd = function () {
                var div = document.getElementById({{ this.get_name()|tojson }});
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            box.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)
    default_js = [("wangge.js", "wangge.js")]  # noqa: RUF012 - folium's own attribute
    default_css = [("wangge.css", "wangge.css")]  # noqa: RUF012

    def __init__(self, html: str, position: str = "topright", css: str = "wg-panel") -> None:
        super().__init__()
        self._name = "HtmlControl"
        self.content = html
        self.position = position
        self.css = css


class FitBeside(MacroElement):
    """Open the map on ``bounds`` ((south, west), (north, east)) at once, beside the control of
    CSS class ``panel`` (if one): on a wide screen the area is fitted left of the panel (a panel
    in the top right corner would otherwise hide the east of it), on a narrow one below it, and
    when the panel fills more than half the map's width and all but 160 px of its height, in the
    whole map.  The title box (:class:`TitleBox`, top left) is kept clear too: the area starts below
    it.  Add it after the panel and the title, so that their sizes are known.  No zoom animation
    (see :func:`maps.city.fit_view`)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }}, size = map.getSize();
            if (map.wgClearTitle) map.wgClearTitle();  // the panel below the title, or beside
            var frame = map.getContainer().getBoundingClientRect();
            var panel = {{ this.panel|tojson }};
            var box = panel ? map.getContainer().querySelector("." + panel) : null;
            var title = map.getContainer().querySelector(".wg-title");
            var top = title ? title.getBoundingClientRect().bottom - frame.top + 10 : 0;
            if (top > size.y / 3) top = 0;  // a title that tall: the whole map
            var fit = {animate: false, paddingTopLeft: [0, top]};
            if (box) {  // (where it would cover the title, the panel stands below it: TitleBox)
                var edges = box.getBoundingClientRect();
                var w = frame.right - edges.left + 10, h = edges.bottom - frame.top + 10;
                // (Leaflet pads top-left and bottom-right only: the right, then, from below)
                if (w < size.x / 2) fit.paddingBottomRight = [w, 0];
                else if (size.y - h >= 160) fit.paddingTopLeft = [0, Math.max(h, top)];
            }
            map.fitBounds({{ this.bounds|tojson }}, fit);
        })();
        {% endmacro %}
    """)

    def __init__(self, bounds: list[list[float]], panel: str | None = None) -> None:
        super().__init__()
        self._name = "FitBeside"
        self.bounds = bounds
        self.panel = panel


class PatrolTrack(JSCSSMixin, MacroElement):
    """巡查轨迹: a worker's check-ins (``features``, a GeoJSON list in time order, as
    ``/api/patrols`` gives them) as numbered points joined by a dashed line in time order, each
    with its time (Beijing), grid and note, and its photos (巡查照片) in a popup on a click;
    those outside the worker's own grids in red; the way walked to each, where the phone kept
    it (``track``), as a solid line, and its length in the box (``walked``), with the
    stretches its length leaves out (``track_fast``: a ride, a jump) grey (``fast``).  The
    map opens on them; a box says how many there are (``words``: ``count``, ``none``,
    ``outside``).  Beneath them the grids of ``bbox`` (west, south, east, north), the worker's
    own (``grids``) bold, as the phone page draws them."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (map, fc, words, own, bbox) {
            if (bbox) {
                fetch("/api/grids?bbox=" + bbox.join(","), { credentials: "same-origin",
                        headers: { "Accept": "application/geo+json" } })
                    .then(function (r) { return r.ok ? r.json() : null; })
                    .then(function (grids) {
                        if (!grids) return;
                        L.geoJSON(grids, {
                            coordsToLatLng: wangge.coordsToLatLng,
                            style: function (f) {
                                var mine = own.indexOf(f.properties.code) >= 0;
                                return { color: mine ? "#b03a2e" : "#7f8c8d", weight: mine ? 3 : 1,
                                         fillOpacity: mine ? 0.08 : 0.02 };
                            },
                            onEachFeature: function (f, layer) {
                                layer.bindTooltip(wangge.escapeHtml(
                                    (f.properties.name || "") + " " + f.properties.code));
                            }
                        }).addTo(map).bringToBack();
                    }).catch(function () { /* the points are drawn without them */ });
            }
            var group = L.featureGroup(), points = [], walked = 0, fast = 0;
            var clock = new Intl.DateTimeFormat(words.locale, {
                timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit",
                hour: "2-digit", minute: "2-digit", hour12: false });
            fc.features.forEach(function (f, i) {
                var c = f.geometry.coordinates, p = f.properties, at = wangge.toMap(c[1], c[0]);
                points.push(at);
                var away = p.own_grid === false;
                var tip = "<b>" + (i + 1) + ".</b> " + clock.format(new Date(p.checked_at)) + " "
                    + wangge.escapeHtml(p.grid_name || p.grid_code || "")
                    + (away ? ' <span class="wg-overdue">' + wangge.escapeHtml(words.outside)
                              + "</span>" : "")
                    + (p.note ? "<br>" + wangge.escapeHtml(p.note) : "");
                var photos = (p.photos || []).map(function (ph) {
                    return '<a href="' + wangge.escapeHtml(ph.url) + '" target="_blank">'
                        + '<img class="wg-patrol-photo" alt="" src="'
                        + wangge.escapeHtml(ph.thumb_url) + '"></a>';
                }).join("");
                var marker = L.circleMarker(at, { radius: 7, weight: 2,
                                                  color: away ? "#b03a2e" : "#1e8449",
                                                  fillColor: photos ? "#fdebd0" : "#fff",
                                                  fillOpacity: 0.9 });
                marker.bindTooltip(tip + (photos ? "<br>" + wangge.escapeHtml(
                    wangge.fill(words.photos, { n: p.photos.length })) : ""));
                if (photos) marker.bindPopup(tip + "<br>" + photos, { maxWidth: 320 });
                if (p.track) {  // the way walked to it, as the phone kept it
                    var line = p.track.map(function (t) { return wangge.toMap(t[1], t[0]); });
                    L.polyline(line, { color: "#2874a6", weight: 3, opacity: 0.8 }).addTo(group);
                    walked += p.track_m || 0;
                    // the stretches 巡查里程 left out (a ride, a jump): grey, dotted, on top
                    (p.track_fast || []).forEach(function (i) {
                        var stretch = [line[i], line[i + 1]];
                        L.polyline(stretch, { color: "#fff", weight: 5, opacity: 1 }).addTo(group);
                        L.polyline(stretch, { color: "#7f8c8d", weight: 3, dashArray: "4 6",
                                              opacity: 1 })
                            .bindTooltip(wangge.escapeHtml(words.fast_tip)).addTo(group);
                        fast += 1;
                    });
                }
                marker.addTo(group);
            });
            if (points.length > 1) {
                L.polyline(points, { color: "#1e8449", weight: 2, dashArray: "5 5" }).addTo(group);
            }
            group.addTo(map);
            if (points.length) map.fitBounds(group.getBounds(), { maxZoom: 17, animate: false });
            var box = L.control({ position: "bottomleft" });
            box.onAdd = function () {
                var div = L.DomUtil.create("div", "wg-title");
                div.id = "patrol-summary";
                div.textContent = (points.length
                    ? wangge.fill(words.count, { n: points.length }) : words.none)
                    + (walked ? words.walked.replace("{km}", (walked / 1000).toFixed(1)) : "")
                    + (fast ? wangge.fill(words.fast, { n: fast }) : "");
                return div;
            };
            box.addTo(map);
            wangge.patrolTrack = group;  // (for tests)
        })({{ this._parent.get_name() }}, {{ this.features|tojson }}, {{ this.words|tojson }},
           {{ this.grids|tojson }}, {{ this.bbox|tojson }});
        {% endmacro %}
    """)
    default_js = [("wangge.js", "wangge.js")]  # noqa: RUF012 - folium's own attribute

    def __init__(
        self,
        features: dict,
        words: dict[str, str],
        grids: list[str],
        bbox: tuple[float, float, float, float] | None,
    ) -> None:
        super().__init__()
        self._name = "PatrolTrack"
        self.features = features
        self.words = words
        self.grids = grids
        self.bbox = bbox
