/* wangge command map: filters, heat, grid choropleth, hotspots, centers' load, cases, live layer.
   Every layer loads data for the current view from the API (never baked into the page). */
(function () {
  "use strict";
  var esc = function (v) { return wangge.escapeHtml(v === null || v === undefined ? "" : v); };

  /* the base map's datum (wangge.js): WGS 84 data drawn where GCJ-02 tiles show it */
  var toMap = wangge.toMap, coordsToLatLng = wangge.coordsToLatLng, viewBbox = wangge.viewBbox;

  function getJson(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) {
        window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
      }
      return r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status + " " + url));
    });
  }

  var COLORS = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
  /* patrol coverage: a grid nobody checked in at is red; the more days walked, the deeper the green */
  var UNWALKED = "#e74c3c", WALKED = ["#c7e9c0", "#74c476", "#31a354", "#006d2c"];
  /* a phone's screen, upright or turned (o.phoneScreen): the filters start folded */
  var FOLDED = { matches: false };
  var T = {}, STATUS = {}, CATEGORY = {}; // the page's words, state and category names (command.py)
  var fill = wangge.fill; // the page's words filled in (1 case, not 1 cases)
  function categoryName(code, fallback) { return CATEGORY[code] || fallback || code; }

  function command(map, o) {
    wangge.setTileDatum(o.tileDatum);
    T = o.text; STATUS = o.states; FOLDED = window.matchMedia(o.phoneScreen);
    o.categories.forEach(function (c) { CATEGORY[c[0]] = c[1]; });
    var state = { kind: "", category: "", days: 30, day: "", status: "", measure: "count" };
    var status = { heat: null, grids: null, hotspots: null, live: 0, errors: 0, trend: 0 };
    var region = o.region ? "&region=" + encodeURIComponent(o.region) : "";
    function filters(withStatus) {
      var q = state.day ? "day=" + state.day : "days=" + state.days;
      if (state.kind) q += "&kind=" + state.kind;
      if (state.category) q += "&category=" + encodeURIComponent(state.category);
      if (withStatus && state.status) q += "&status=" + state.status;
      return q + region;
    }
    function fail(what) { return function (e) { status.errors++; console.warn("wangge:", what, e); }; }

    /* heat: server-side bins for the view (wangge.js) */
    var heat = wangge.heatLayer(map, function () { return "/api/heat?" + filters(true); }, function (d) {
      status.heat = { bins: d.bins.length, total: d.total, source: d.source, cell_m: d.cell_m };
      summary();
    }, fail("heat"));
    var loadHeat = heat.reload;

    /* grids: choropleth of cases per grid (or per 1,000 households), popup with the summary */
    var counts = { grids: {}, breaks: { count: [], per_1000: [] } };
    function classOf(v, breaks) {
      if (v === null || v === undefined) return -1;
      if (!v) return -2;
      for (var i = 0; i < breaks.length; i++) if (v <= breaks[i]) return i + (COLORS.length - breaks.length);
      return COLORS.length - 1;
    }
    function patrolClass(v) {  /* the class of a grid's patrol days: -1 none, else 0 … */
      var b = (counts.breaks && counts.breaks.patrol) || [];
      if (!v) return -1;
      for (var i = 0; i < b.length; i++) if (v <= b[i]) return i + (WALKED.length - b.length);
      return WALKED.length - 1;
    }
    function gridStyle(f) {
      if (state.measure === "patrol") {
        var days = (counts.patrol_days || {})[f.properties.code] || 0, pk = patrolClass(days);
        return { color: "#2874a6", weight: 1, fillOpacity: 0.55, fillColor: pk < 0 ? UNWALKED : WALKED[pk] };
      }
      var c = counts.grids[f.properties.code], v = c ? (state.measure === "count" ? c[0] : c[1]) : 0;
      var k = classOf(v, counts.breaks[state.measure] || []);
      return { color: "#2874a6", weight: 1, fillOpacity: k >= 0 ? 0.55 : 0.04,
               fillColor: k >= 0 ? COLORS[k] : "#ffffff" };
    }
    var grids = L.geoJSON(null, { style: gridStyle, coordsToLatLng: coordsToLatLng,
      onEachFeature: function (f, l) {
        l.on("click", function (e) { gridPopup(f.properties.code, e.latlng); });
        l.bindTooltip(fill(T.named, { name: esc(f.properties.name), code: esc(f.properties.code) }), { sticky: true });
      } });
    function belowTitle() {  /* a popup opens clear of the title box (it stands above popups) */
      var frame = map.getContainer(), top = 10;
      var boxes = [frame.querySelector(".wg-title")];
      /* on a phone a popup spans the screen: clear of the top right corner's panels too */
      if (FOLDED.matches) boxes.push(frame.querySelector(".leaflet-top.leaflet-right"));
      boxes.forEach(function (box) {
        if (box) top = Math.max(top, box.getBoundingClientRect().bottom - frame.getBoundingClientRect().top + 10);
      });
      return L.point(10, top);
    }
    function gridPopup(code, at) {
      getJson("/api/grids/" + code + "/summary").then(function (g) {
        var workers = g.workers.map(function (w) {  /* with their patrol map, for those who may see it */
          var name = g.patrol ? '<a href="/workers/' + encodeURIComponent(w.code) + '/patrols">' + esc(w.name) + "</a>" : esc(w.name);
          if (w.role_name) name = fill(T.worker_role, { name: name, role: esc(w.role_name) });
          return name + (w.phone ? " " + esc(w.phone) : "");
        });
        var patrol = !g.patrol ? "" : "<br>" + (g.patrol.days ?
          fill(T.grid_patrol, { n: g.patrol.days, of: g.patrol.of_days, last: esc(g.patrol.last) }) :
          fill(g.patrol.last ? T.grid_patrol_none_since : T.grid_patrol_none, { of: g.patrol.of_days, last: esc(g.patrol.last) }));
        var list = g.open_cases.map(function (c) {
          return '<li><a href="/cases/' + esc(c.code) + '">' + esc(c.code) + "</a> " + esc(categoryName(c.category, c.category_name)) +
            " · " + esc(STATUS[c.status] || c.status) + (c.overdue ? ' <b class="wg-overdue">' + T.overdue + "</b>" : "") + "</li>";
        });
        var html = '<div class="wg-grid-pop"><b>' + esc(g.name) + "</b><br>" + T.grid_code + ' <a href="/grids/' + encodeURIComponent(g.code) + '">' + esc(g.code) + "</a>" +
          "<br>" + T.village + " " + esc(g.village) + "<br>" + T.workers + " " + (workers.join(T.list_sep) || "—") +
          "<br>" + T.households + " " + esc(g.households === null ? "—" : g.households) + patrol +
          "<br>" + fill(T.open_cases, { open: g.open, overdue: g.overdue }) +
          (list.length ? "<ul>" + list.join("") + "</ul>" : "") + "</div>";
        /* on a phone: no taller than the map below the panels (a grid with many open cases
           scrolls inside its popup rather than run under the title and off the screen) */
        var clear = belowTitle(), size = map.getSize();
        L.popup({ maxWidth: Math.min(320, size.x - 60), autoPanPaddingTopLeft: clear,
                  maxHeight: FOLDED.matches ? Math.max(120, size.y - clear.y - 70) : null })
          .setLatLng(at).setContent(html).openOn(map);
      }).catch(fail("grid summary"));
    }
    var gridSeq = 0;
    function loadGrids() {
      if (!map.hasLayer(grids)) return;
      if (map.getZoom() < o.gridMinZoom) { grids.clearLayers(); legend.update(); return; }
      var mine = ++gridSeq, bbox = viewBbox(map);
      Promise.all([getJson("/api/grids?bbox=" + bbox + (o.asOf ? "&as_of=" + encodeURIComponent(o.asOf) : "")),
                   getJson("/api/grid-counts?bbox=" + bbox + "&" + filters(false) +
                           (state.measure === "patrol" ? "&patrols=true" : ""))])
        .then(function (res) {
          if (mine !== gridSeq) return;
          counts = res[1];
          grids.clearLayers();
          grids.addData(res[0]);
          status.grids = res[0].features.length;
          if (o.focusGrid) focus();
          legend.update();
          summary();
        }).catch(fail("grids"));
    }

    var focused = false;
    function focus() {  /* /maps/grid/{code}: the grid bold, its popup open once */
      grids.eachLayer(function (l) {
        if (l.feature.properties.code !== o.focusGrid) return;
        l.setStyle({ color: "#c0392b", weight: 4 });
        l.bringToFront();
        if (!focused) { focused = true; gridPopup(o.focusGrid, l.getBounds().getCenter()); }
      });
    }

    /* outlines */
    function outline(level, style, minZoom, label) {
      return wangge.apiLayer(map, L.geoJSON(null, { style: function () { return style; },
        coordsToLatLng: coordsToLatLng, interactive: false }),
        "/api/regions?level=" + level, { minZoom: minZoom });
    }
    var districts = outline("district", { color: "#c0392b", weight: 3, fill: false });
    var townships = outline("township", { color: "#8e44ad", weight: 2, dashArray: "6 4", fill: false });
    var villages = outline("village", { color: "#2874a6", weight: 1, dashArray: "2 3", fill: false }, 13);

    /* names of townships at mid zoom (one label per township) */
    var names = L.layerGroup();
    function loadNames() {
      if (!map.hasLayer(names)) return;
      var level = map.getZoom() >= 14 ? "village" : "township";
      getJson("/api/regions?level=" + level + "&bbox=" + viewBbox(map)).then(function (d) {
        names.clearLayers();
        d.features.forEach(function (f) {
          var c = L.geoJSON(f).getBounds().getCenter();
          L.marker(toMap(c.lat, c.lng), { interactive: false, icon: L.divIcon({ className: "wg-name",
            html: esc(f.properties.name), iconSize: null }) }).addTo(names);
        });
      }).catch(fail("names"));
    }

    /* hotspots */
    var hot = L.layerGroup();
    function loadHotspots() {
      if (!map.hasLayer(hot)) return;
      var q = "days=" + Math.min(state.days, 90) + "&eps_m=" + o.hotspotM + "&min_cases=" + o.hotspotN +
        (state.kind ? "&kind=" + state.kind : "") +
        (state.category ? "&category=" + encodeURIComponent(state.category) : "") + region;
      getJson("/api/hotspots?bbox=" + viewBbox(map) + "&" + q).then(function (d) {
        hot.clearLayers();
        status.hotspots = d.too_many ? "too_many" : d.clusters.length;
        d.clusters.forEach(function (c) {
          var p = toMap(c.lat, c.lon);
          L.circle(p, { radius: Math.max(30, c.radius_m), color: "#922b21", weight: 2, fillOpacity: 0.15 })
            .bindTooltip(fill(T.hotspot, { n: c.n, category: esc(categoryName(c.category, c.category_name)) })).addTo(hot);
          L.marker(p, { interactive: false, icon: L.divIcon({ className: "wg-hot", html: String(c.n), iconSize: [28, 28] }) })
            .addTo(hot);
        });
        summary();
      }).catch(fail("hotspots"));
    }

    /* centers with open / overdue counts */
    var centers = L.geoJSON(null, { coordsToLatLng: coordsToLatLng,
      pointToLayer: function (f, latlng) {
        var p = f.properties;
        return L.circleMarker(latlng, { radius: 5 + Math.min(18, Math.sqrt(p.open)),
          color: p.overdue ? "#c0392b" : "#7b241c", weight: 2,
          fillColor: p.overdue ? "#e74c3c" : "#f5b041", fillOpacity: 0.85 });
      },
      onEachFeature: function (f, l) {
        var p = f.properties;
        l.bindTooltip("<b>" + esc(p.name) + "</b><br>" + fill(T.center_open, { n: p.open }) +
          (p.overdue ? T.sep + '<b class="wg-overdue">' + fill(T.center_overdue, { n: p.overdue }) + "</b>" : ""));
      } });
    function loadCenters() {
      if (!map.hasLayer(centers)) return;
      getJson("/api/centers/load?bbox=" + viewBbox(map) + region).then(function (d) {
        centers.clearLayers();
        centers.addData(d);
      }).catch(fail("centers"));
    }

    /* cases in view (zoomed in): overdue ones highlighted; click → the case page */
    function caseMarker(f, latlng) {
      var p = f.properties;
      return L.circleMarker(latlng, { radius: p.overdue ? 7 : 5, weight: p.overdue ? 3 : 1,
        color: p.overdue ? "#c0392b" : "#1f618d", fillColor: p.kind === "hazard" ? "#f39c12" : "#5dade2",
        fillOpacity: 0.9, className: p.overdue ? "wg-case-overdue" : "" });
    }
    function caseInfo(f, l) {
      var p = f.properties;
      l.bindTooltip(esc(categoryName(p.category, p.category_name)) + " · " + esc(STATUS[p.status] || p.status) +
        (p.overdue ? T.overdue_mark : "") + (p.repeat ? T.sep + T.repeat_mark : "") +
        (p.possible_duplicate ? T.sep + T.duplicate_mark : ""));
      l.on("click", function () { window.location.assign("/cases/" + encodeURIComponent(p.code)); });
    }
    var cases = L.geoJSON(null, { coordsToLatLng: coordsToLatLng, pointToLayer: caseMarker, onEachFeature: caseInfo });
    function loadCases() {
      if (!map.hasLayer(cases)) return;
      if (map.getZoom() < o.caseMinZoom) { cases.clearLayers(); return; }
      var since = new Date(Date.now() - state.days * 86400000).toISOString();
      getJson("/api/cases?limit=2000&bbox=" + viewBbox(map) + "&since=" + encodeURIComponent(since))
        .then(function (d) {
          cases.clearLayers();
          cases.addData({ type: "FeatureCollection", features: d.features.filter(function (f) {
            var p = f.properties;
            return (!state.kind || p.kind === state.kind) && (!state.category || p.category === state.category) &&
              (state.status !== "overdue" || p.overdue);
          }) });
        }).catch(fail("cases"));
    }

    /* live: new cases anywhere in view appear within a second or two (polling /api/live) */
    var live = L.geoJSON(null, { coordsToLatLng: coordsToLatLng, onEachFeature: caseInfo,
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, { radius: 9, color: "#ffffff", weight: 2, fillColor: "#e74c3c",
          fillOpacity: 1, className: "wg-live" });
      } });
    var seen = {}, cursor = null, liveTimer = null;
    wangge.liveSeen = {};
    function pollLive() {
      var url = "/api/live" + (cursor === null ? "?" : "?after=" + cursor + "&") + region.replace(/^&/, "");
      getJson(url).then(function (d) {
        var first = cursor === null;
        cursor = d.cursor;
        if (first) return;
        var fresh = d.features.filter(function (f) { return !seen[f.properties.code]; });
        fresh.forEach(function (f) {
          seen[f.properties.code] = true;
          wangge.liveSeen[f.properties.code] = Date.now();
        });
        if (fresh.length) {
          live.addData({ type: "FeatureCollection", features: fresh });
          status.live += fresh.length;
          summary();
          feed.add(fresh);
        }
      }).catch(fail("live")).finally(function () {
        liveTimer = setTimeout(pollLive, o.livePollMs);
      });
    }

    /* the live ticker: the latest arrivals in view, newest first (a wall screen's); a line takes
       the map to the case, its code opens the case in a new tab */
    var FEED_MAX = 8;
    var feed = L.control({ position: "bottomleft" });
    feed.onAdd = function () {
      var div = L.DomUtil.create("div", "wg-panel wg-feed");
      div.innerHTML = "<b>" + esc(T.feed) + '</b><ol id="live-feed"><li class="wg-feed-none">' +
        esc(T.feed_none) + "</li></ol>";
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      this._list = div.querySelector("ol");
      return div;
    };
    feed.add = function (features) {
      var list = this._list;
      if (!list) return;
      var none = list.querySelector(".wg-feed-none");
      if (none) none.remove();
      features.forEach(function (f) {
        // (a case filed by its village has no point: listed, not on the map)
        var p = f.properties, li = document.createElement("li");
        var c = f.geometry ? f.geometry.coordinates : null;
        li.dataset.code = p.code;
        var a = document.createElement("a");
        a.href = "/cases/" + encodeURIComponent(p.code); a.target = "_blank"; a.rel = "noopener";
        a.title = T.feed_open; a.textContent = "…" + p.code.slice(-6);
        li.title = p.code + (p.grid_code ? " · " + p.grid_code : c ? "" : " · " + T.feed_no_point);
        li.appendChild(document.createTextNode((p.received_at || "").slice(11, 16) + " " +
          (p.category_name || p.category) + " "));
        li.appendChild(a);
        li.addEventListener("click", function (e) {
          if (e.target !== a && c) map.setView(coordsToLatLng(c), Math.max(map.getZoom(), 16));
        });
        list.insertBefore(li, list.firstChild);
      });
      while (list.children.length > FEED_MAX) list.removeChild(list.lastChild);
    };
    feed.addTo(map);

    /* the filter panel and the time slider */
    var panel = L.control({ position: "topright" });
    panel.onAdd = function () {
      var div = L.DomUtil.create("div", "wg-panel wg-filters");
      var cats = o.categories.map(function (c) {
        return '<option value="' + esc(c[0]) + '" data-kind="' + esc(c[2]) + '">' + esc(c[1]) + "</option>";
      }).join("");
      /* the choices fold under a line that says what is shown: open on a desk's screen, folded
         on a phone's (they covered half its map), a tap away */
      div.innerHTML = '<details class="wg-fold"' + (FOLDED.matches ? "" : " open") +
        '><summary></summary><div class="wg-fold-body">' +
        "<label>" + T.kind + ' <select name="kind"><option value="">' + T.all + '</option><option value="dispute">' + T.dispute + "</option>" +
        '<option value="hazard">' + T.hazard + "</option></select></label>" +
        "<label>" + T.category + ' <select name="category"><option value="">' + T.all_categories + "</option>" + cats + "</select></label>" +
        "<label>" + T.period + ' <select name="days"><option value="7">' + fill(T.last_days, { n: 7 }) + '</option><option value="30" selected>' + fill(T.last_days, { n: 30 }) + "</option>" +
        '<option value="90">' + fill(T.last_days, { n: 90 }) + '</option><option value="180">' + fill(T.last_days, { n: 180 }) + '</option><option value="365">' + T.last_year + "</option></select></label>" +
        "<label>" + T.status + ' <select name="status"><option value="">' + T.all + '</option><option value="open">' + T.open + "</option>" +
        '<option value="overdue">' + T.overdue + "</option></select></label>" +
        "<label>" + T.measure + ' <select name="measure"><option value="count">' + T.count + "</option>" +
        '<option value="per_1000">' + T.per_1000 + '</option>' +
        (o.patrols ? '<option value="patrol">' + T.patrol + "</option>" : "") + "</select></label>" +
        '<label class="wg-slider">' + T.by_day + ' <input type="range" name="day" min="0" max="30" value="0">' +
        ' <output name="dayout">' + T.all + "</output></label>" +
        (o.trend ? '<div class="wg-trend-mini"></div>' : "") + "</div></details>" +
        '<div class="wg-summary" aria-live="polite"></div>';
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      var shown = div.querySelector("summary");
      function sayShown() {  /* "Filters: Safety hazard · last 30 days · open" (the measure is no filter) */
        var parts = [];
        ["kind", "category", "days", "status"].forEach(function (name) {
          var s = div.querySelector('select[name="' + name + '"]');
          if (s.value) parts.push(s.options[s.selectedIndex].text);
        });
        if (state.day) parts.push(state.day.slice(5));
        shown.textContent = fill(T.filters_shown, { what: parts.join(" · ") });
      }
      sayShown();
      /* a kind chosen: the categories of the other kind leave the list (a fire under disputes
         found nothing, and said nothing), and one chosen of the other kind goes back to all */
      var category = div.querySelector('select[name="category"]');
      function categoriesOf(kind) {
        Array.prototype.forEach.call(category.options, function (c) {
          c.hidden = c.disabled = !!(kind && c.dataset.kind && c.dataset.kind !== kind);
        });
        if (category.selectedOptions[0] && category.selectedOptions[0].disabled) {
          category.value = ""; state.category = "";
        }
      }
      div.addEventListener("change", function (e) {
        var t = e.target;
        if (t.name === "kind") categoriesOf(t.value);
        sayShown();
        if (t.name === "day") return;
        state[t.name] = t.name === "days" ? parseInt(t.value, 10) : t.value;
        if (t.name === "measure") {  /* patrol days are asked for only when shown */
          if (t.value === "patrol") loadGrids();
          else { grids.setStyle(gridStyle); legend.update(); }
          return;
        }
        reloadAll();
      });
      var slider = div.querySelector('input[name="day"]'), out = div.querySelector("output");
      slider.addEventListener("input", function () {
        var k = parseInt(slider.value, 10);
        if (!k) { state.day = ""; out.textContent = T.all; }
        else {
          var d = new Date(Date.now() + 8 * 3600000 - (30 - k) * 86400000);  /* Asia/Shanghai days */
          state.day = d.toISOString().slice(0, 10);
          out.textContent = state.day.slice(5);
        }
        sayShown();
        clearTimeout(slider._t);
        slider._t = setTimeout(function () { loadHeat(); loadGrids(); }, 120);
      });
      return div;
    };
    panel.addTo(map);

    /* the region's cases received week by week (the daily roll-up's trend), refreshed hourly */
    function day(iso) { return iso.slice(5, 10); }
    function loadTrend() {
      var box = document.querySelector(".wg-trend-mini");
      if (!box) return;
      getJson("/api/stats/weekly?" + region.slice(1)).then(function (d) {
        var w = 14, h = 44, most = Math.max.apply(null, d.weeks.map(function (k) { return k.cases; })) || 1;
        var bars = d.weeks.map(function (k, i) {
          var low = Math.round(h * k.disputes / most), high = Math.round(h * k.hazards / most);
          var last = new Date(Date.parse(k.end) - 86400000 + 8 * 3600000).toISOString();
          var tip = fill(T.trend_week, { start: day(k.start), end: day(last), n: k.cases,
                                         d: k.disputes, h: k.hazards });
          return "<g><title>" + esc(tip) + "</title>" +
            '<rect x="' + i * w + '" y="' + (h - low) + '" width="' + (w - 2) + '" height="' + low + '" fill="#2e6da4"/>' +
            '<rect x="' + i * w + '" y="' + (h - low - high) + '" width="' + (w - 2) + '" height="' + high + '" fill="#d4813a"/></g>';
        }).join("");
        box.innerHTML = "<span>" + T.trend + "</span>" +
          '<svg width="' + d.weeks.length * w + '" height="' + h + '" role="img" aria-label="' +
          esc(T.trend + ": " + d.weeks.map(function (k) { return k.cases; }).join(", ")) + '">' + bars + "</svg>";
        status.trend = d.weeks.length;
      }).catch(fail("trend"));
    }
    if (o.trend) { loadTrend(); setInterval(loadTrend, 3600000); }

    function summary() {
      var el = document.querySelector(".wg-summary");
      if (!el) return;
      var h = status.heat;
      el.textContent = (h ? fill(T.in_view, { n: h.total }) : "") +
        (status.hotspots === "too_many" ? T.too_many :
          status.hotspots !== null ? fill(T.hotspots, { n: status.hotspots }) : "") +
        (status.live ? fill(T.live_new, { n: status.live }) : "");
    }

    /* legend of the choropleth */
    var legend = L.control({ position: "bottomright" });
    legend.onAdd = function () { this._div = L.DomUtil.create("div", "wg-legend"); this.update(); return this._div; };
    legend.update = function () {
      if (!this._div) return;
      if (state.measure === "patrol") return this._div.innerHTML = patrolLegend();
      var b = counts.breaks[state.measure] || [];
      var title = state.measure === "count" ? T.grid_cases : T.per_1000;
      if (map.getZoom() < o.gridMinZoom || !b.length) {
        this._div.innerHTML = "<b>" + title + "</b><br>" + (map.getZoom() < o.gridMinZoom ? T.zoom_in : T.no_cases);
        return;
      }
      var rows = [], lo = 0, off = COLORS.length - b.length;
      b.forEach(function (hi, i) {
        var from = state.measure === "count" ? lo + 1 : lo;
        var text = state.measure === "count" ? (from === hi ? String(hi) : from + "–" + hi)
          : (lo ? lo : ">0") + "–" + hi;
        rows.push('<i style="background:' + COLORS[i + off] + '"></i> ' + text);
        lo = hi;
      });
      this._div.innerHTML = "<b>" + title + "</b>" + T.quantiles + "<br>" + rows.join("<br>");
    };
    function patrolLegend() {
      var one = counts.days === 1;  /* the time slider's day: walked or not */
      var title = "<b>" + (one ? fill(T.patrol_title_day, { day: counts.first })
        : fill(T.patrol_title, { n: counts.days || state.days })) + "</b><br>";
      if (map.getZoom() < o.gridMinZoom) return title + T.zoom_in;
      var b = (counts.breaks && counts.breaks.patrol) || [], off = WALKED.length - b.length, lo = 0;
      var rows = ['<i style="background:' + UNWALKED + '"></i> ' + T.unwalked];
      b.forEach(function (hi, i) {
        var from = lo + 1;
        rows.push('<i style="background:' + WALKED[i + off] + '"></i> ' + (one ? T.walked
          : fill(T.patrol_days, { n: from === hi ? String(hi) : from + "–" + hi })));
        lo = hi;
      });
      var walked = Object.keys(counts.patrol_days || {}).length, all = Object.keys(counts.grids || {}).length;
      return title + rows.join("<br>") + "<br>" + fill(T.walked_share, { n: walked, all: all }) +
        (state.kind || state.category ? "<br>" + T.patrol_unfiltered : "");
    }
    legend.addTo(map);

    function reloadAll() { loadHeat(); loadGrids(); loadHotspots(); loadCases(); }
    var moveTimer = null;
    map.on("moveend", function () {
      clearTimeout(moveTimer);
      moveTimer = setTimeout(function () { reloadAll(); loadCenters(); loadNames(); }, 150);
    });
    grids.on("add", loadGrids); hot.on("add", loadHotspots);
    centers.on("add", loadCenters); cases.on("add", loadCases); names.on("add", loadNames);

    var overlays = {};
    [["layer_heat", heat], ["layer_grids", grids], ["layer_hot", hot], ["layer_centers", centers],
     ["layer_cases", cases], ["layer_live", live], ["layer_districts", districts],
     ["layer_townships", townships], ["layer_villages", villages], ["layer_names", names]]
      .forEach(function (pair) { overlays[T[pair[0]]] = pair[1]; });
    [heat, grids, hot, centers, cases, live, districts, townships, villages, names].forEach(function (l) { l.addTo(map); });
    L.control.layers(null, overlays, { collapsed: true, position: "topright" }).addTo(map);
    pollLive();
    wangge.commandStatus = status;
    wangge.commandMap = map;
    return { state: state, status: status, reload: reloadAll };
  }

  wangge.command = command;
})();
