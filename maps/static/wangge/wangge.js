/* wangge map helpers: layers that load GeoJSON for the current view from the wangge API, and
   the base map's datum (wgs84 or gcj02 tiles: every overlay is drawn where the tiles show it). */
(function () {
  "use strict";

  /* Leaflet's credit in the corner as plain words: since 1.9 its default carries a flag's
     picture, which a governance centre's screen should not show (every map of the app loads
     this file after Leaflet and before drawing itself) */
  if (window.L && L.Control && L.Control.Attribution) {
    L.Control.Attribution.prototype.options.prefix =
      '<a href="https://leafletjs.com" title="Leaflet">Leaflet</a>';
  }

  /* Leaflet's own words in the page's language: its zoom buttons, its layer list's button and a
     popup's close button are named in English (Zoom in, Layers, Close popup), which a Chinese
     page's hover tips and a screen reader said as they were */
  var ENGLISH = /^en/i.test(document.documentElement.lang);  // the page's language: English?
  var LEAFLET_WORDS = ENGLISH
    ? { zoomIn: "Zoom in", zoomOut: "Zoom out", layers: "Layers", close: "Close" }
    : { zoomIn: "放大", zoomOut: "缩小", layers: "图层", close: "关闭" };
  if (window.L && L.Control && L.Control.Zoom) {
    L.Control.Zoom.prototype.options.zoomInTitle = LEAFLET_WORDS.zoomIn;
    L.Control.Zoom.prototype.options.zoomOutTitle = LEAFLET_WORDS.zoomOut;
  }
  if (window.L && L.Control && L.Control.Layers) {
    var layersLayout = L.Control.Layers.prototype._initLayout;
    L.Control.Layers.prototype._initLayout = function () {
      layersLayout.apply(this, arguments);
      if (this._layersLink) {
        this._layersLink.title = LEAFLET_WORDS.layers;
        this._layersLink.setAttribute("aria-label", LEAFLET_WORDS.layers);
      }
    };
  }
  if (window.L && L.Popup) {
    var popupLayout = L.Popup.prototype._initLayout;
    L.Popup.prototype._initLayout = function () {
      popupLayout.apply(this, arguments);
      if (this._closeButton) this._closeButton.setAttribute("aria-label", LEAFLET_WORDS.close);
    };
  }

  /* --- GCJ-02 (the datum of Amap/Tencent tiles): overlays are shifted to line up -------------- */
  var A = 6378245.0, EE = 0.00669342162296594323;
  function outOfChina(lon, lat) { return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271; }
  function tLat(x, y) {
    var r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    r += (20 * Math.sin(y * Math.PI) + 40 * Math.sin(y / 3 * Math.PI)) * 2 / 3;
    r += (160 * Math.sin(y / 12 * Math.PI) + 320 * Math.sin(y * Math.PI / 30)) * 2 / 3;
    return r;
  }
  function tLon(x, y) {
    var r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    r += (20 * Math.sin(x * Math.PI) + 40 * Math.sin(x / 3 * Math.PI)) * 2 / 3;
    r += (150 * Math.sin(x / 12 * Math.PI) + 300 * Math.sin(x / 30 * Math.PI)) * 2 / 3;
    return r;
  }
  /* [lon, lat] WGS 84 → GCJ-02 (gis.datum.wgs84_to_gcj02, to the centimetre) */
  function wgs84ToGcj02(lon, lat) {
    if (outOfChina(lon, lat)) return [lon, lat];
    var dLat = tLat(lon - 105, lat - 35), dLon = tLon(lon - 105, lat - 35);
    var radLat = lat / 180 * Math.PI, magic = Math.sin(radLat);
    magic = 1 - EE * magic * magic;
    var sq = Math.sqrt(magic);
    dLat = (dLat * 180) / ((A * (1 - EE)) / (magic * sq) * Math.PI);
    dLon = (dLon * 180) / (A / sq * Math.cos(radLat) * Math.PI);
    return [lon + dLon, lat + dLat];
  }
  /* [lon, lat] GCJ-02 → BD-09 (Baidu's datum; gis.datum.gcj02_to_bd09) */
  function gcj02ToBd09(lon, lat) {
    var X = Math.PI * 3000 / 180;
    var z = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * X);
    var theta = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * X);
    return [z * Math.cos(theta) + 0.0065, z * Math.sin(theta) + 0.006];
  }
  /* solve forward(x, y) = (lon, lat) by iteration (the shifts vary slowly: millimetres after 4) */
  function invert(forward, lon, lat) {
    var x = lon, y = lat;
    for (var i = 0; i < 30; i++) {
      var f = forward(x, y), dx = f[0] - lon, dy = f[1] - lat;
      x -= dx; y -= dy;
      if (Math.abs(dx) < 1e-12 && Math.abs(dy) < 1e-12) break;
    }
    return [x, y];
  }
  function gcj02ToWgs84(lon, lat) { return invert(wgs84ToGcj02, lon, lat); }
  /* [lon, lat] of a point given in `datum` (wgs84, cgcs2000, gcj02, bd09) → WGS 84 */
  function toWgs84(lon, lat, datum) {
    if (datum === "gcj02") return gcj02ToWgs84(lon, lat);
    if (datum === "bd09") { var g = invert(gcj02ToBd09, lon, lat); return gcj02ToWgs84(g[0], g[1]); }
    return [lon, lat];
  }
  var gcj = false;  /* the page's base tiles are GCJ-02 (setTileDatum) */
  function setTileDatum(datum) { gcj = datum === "gcj02"; }
  function toMap(lat, lon) {  /* a WGS 84 point → where it is drawn on this base map */
    if (!gcj) return L.latLng(lat, lon);
    var p = wgs84ToGcj02(lon, lat);
    return L.latLng(p[1], p[0]);
  }
  function fromMap(latlng) {  /* a point of this map (a click, a drawn vertex) → [lon, lat] WGS 84 */
    return gcj ? gcj02ToWgs84(latlng.lng, latlng.lat) : [latlng.lng, latlng.lat];
  }
  function coordsToLatLng(c) { return toMap(c[1], c[0]); }  /* for L.geoJSON of WGS 84 data */
  /* a GeoJSON geometry drawn on this map (L.Layer#toGeoJSON) → the same in WGS 84 */
  function geometryFromMap(geometry) {
    function walk(c) {
      return typeof c[0] === "number" ? fromMap(L.latLng(c[1], c[0])) : c.map(walk);
    }
    return { type: geometry.type, coordinates: walk(geometry.coordinates) };
  }
  /* L.LatLngBounds of this map → ?bbox= in WGS 84 (the GCJ-02 shift is < 1 km: padded by it) */
  function boundsBbox(b) {
    var p = gcj ? 0.01 : 0;
    return [Math.max(b.getWest() - p, -180), Math.max(b.getSouth() - p, -90),
            Math.min(b.getEast() + p, 180), Math.min(b.getNorth() + p, 90)]
      .map(function (v) { return v.toFixed(5); }).join(",");
  }
  function viewBbox(map) { return boundsBbox(map.getBounds()); }  /* the map's view, ?bbox= */

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function tooltip(props, fields) {
    var rows = fields.map(function (kv) {
      var v = props[kv[0]];
      if (Array.isArray(v)) v = v.join(ENGLISH ? ", " : "、");
      if (v === null || v === undefined || v === "") return "";
      return "<tr><th>" + escapeHtml(kv[1]) + "</th><td>" + escapeHtml(v) + "</td></tr>";
    });
    return '<table class="wg-tip">' + rows.join("") + "</table>";
  }

  /* Fill `layer` (an L.GeoJSON) from `url` for the map's current bounds, again after each move.
     opts: {minZoom, fields: [[property, label], ...]}.  Fires 'wg:loaded' with the count. */
  function apiLayer(map, layer, url, opts) {
    opts = opts || {};
    var pending = null, seq = 0;
    layer.options.coordsToLatLng = coordsToLatLng;
    layer.options.onEachFeature = function (feature, l) {
      if (opts.fields) l.bindTooltip(tooltip(feature.properties, opts.fields), { sticky: true });
    };
    function refresh() {
      if (!map.hasLayer(layer)) return;
      if (opts.minZoom && map.getZoom() < opts.minZoom) { layer.clearLayers(); return; }
      var bbox = viewBbox(map);
      var mine = ++seq;
      fetch(url + (url.indexOf("?") < 0 ? "?" : "&") + "bbox=" + bbox, { credentials: "same-origin" })
        .then(function (r) {
          if (r.status === 401 && !leaving) {  /* session ended: log in again, then come back here */
            var here = window.location.pathname + window.location.search;
            window.location.assign("/login?next=" + encodeURIComponent(here));
          }
          return r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status));
        })
        .then(function (data) {
          if (mine !== seq) return;  // a newer view's answer wins
          layer.clearLayers();
          layer.addData(data);
          loaded[url] = data.features.length;
          layer.fire("wg:loaded", { count: data.features.length });
        })
        .catch(function (e) { console.warn("wangge: could not load", url, e); });
    }
    map.on("moveend", function () { clearTimeout(pending); pending = setTimeout(refresh, 150); });
    layer.on("add", refresh);
    layers[url] = layer;
    return layer;
  }

  /* leaflet.heat's simpleheat reads its whole canvas back at every drawing (getImageData, to
     colour it): its canvas is asked for as one read often (willReadFrequently), as the browser
     advises (Chromium warned of it on every map with heat; with a GPU, a readback is slow) */
  function readableHeat() {
    var plain = window.simpleheat;
    if (!plain || plain.wgReadable) return;
    window.simpleheat = function (canvas) {
      if (canvas && canvas.getContext) canvas.getContext("2d", { willReadFrequently: true });
      return plain(canvas);
    };
    window.simpleheat.wgReadable = true;
  }

  /* 案件热力 of the view: cases per cell from `query()` (/api/heat?…, without bbox and zoom) for
     the view and zoom, on each reload(); each cell as wide as it is on screen (cells blend into
     one surface at every zoom), weights relative to the 98th-percentile cell, drawn in the tiles'
     datum.  onData(answer) after each drawing, onError(e) on a failure. */
  function heatLayer(map, query, onData, onError) {
    readableHeat();
    var heat = L.heatLayer([], { radius: 14, blur: 16, minOpacity: 0.3, max: 1 });
    var seq = 0;
    heat.reload = function () {
      if (!map.hasLayer(heat)) return;
      var mine = ++seq, zoom = map.getZoom();
      fetch(query() + "&bbox=" + viewBbox(map) + "&zoom=" + Math.round(zoom), { credentials: "same-origin" })
        .then(function (r) {
          if (r.status === 401 && !leaving) {
            window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
          }
          return r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status + " /api/heat"));
        })
        .then(function (d) {
          if (mine !== seq || !map.hasLayer(heat)) return;  /* a newer view's, or switched off */
          var counts = d.bins.map(function (b) { return b[2]; }).sort(function (a, b) { return a - b; });
          var ref = counts.length ? counts[Math.min(counts.length - 1, Math.floor(0.98 * counts.length))] : 1;
          var px = d.cell_m / (156543.03 * Math.cos(map.getCenter().lat * Math.PI / 180) / Math.pow(2, zoom));
          heat.setOptions({ radius: Math.max(8, Math.min(40, px * 1.2)), blur: Math.max(8, Math.min(30, px)) });
          heat.setLatLngs(d.bins.map(function (b) {
            var p = toMap(b[0], b[1]);
            return [p.lat, p.lng, Math.min(1, b[2] / ref)];
          }));
          if (onData) onData(d);
        })
        .catch(function (e) { if (onError) onError(e); else console.warn("wangge: heat", e); });
    };
    heat.on("add", heat.reload);
    /* leaflet.heat leaves a drawing it has asked for to the next frame, which then finds no map */
    heat.on("remove", function () {
      if (heat._frame) { L.Util.cancelAnimFrame(heat._frame); heat._frame = null; }
    });
    return heat;
  }

  /* heatLayer of `url` (/api/heat?days=…) that follows the map's moves (the overview).  Fires
     'wg:loaded' with the number of cells (also in wangge.loaded[url]). */
  function viewHeat(map, url) {
    var pending = null;
    var heat = heatLayer(map, function () { return url; }, function (d) {
      loaded[url] = d.bins.length;
      heat.fire("wg:loaded", { count: d.bins.length });
    });
    map.on("moveend", function () { clearTimeout(pending); pending = setTimeout(heat.reload, 150); });
    layers[url] = heat;
    return heat;
  }

  var loaded = {};  /* url → features in the last answer (for status displays and tests) */
  var layers = {};  /* url → the layer it fills */

  /* End the session (the cookie goes with it) and return to the login page. */
  var leaving = false;  /* set by logout(): a late 401 from a layer must not send us elsewhere */
  function logout() {
    leaving = true;
    fetch("/api/auth/logout", { method: "POST", credentials: "same-origin" })
      .finally(function () { window.location.assign("/login"); });
  }

  /* A photo as a page sends it: {name, blob}.  One longer than maxPx on a side or larger than
     keepBytes is drawn again, smaller, as a JPEG of that quality (upright, as the browser shows
     it; without EXIF: a phone camera's 3-8 MB becomes some hundreds of kB on one bar of signal).
     One the browser cannot read goes as it is (the server judges it). */
  function shrinkPhoto(file, maxPx, keepBytes, quality) {
    var kept = { name: file.name, blob: file };
    if (!window.URL || !URL.createObjectURL) return Promise.resolve(kept);
    return new Promise(function (resolve) {
      var url = URL.createObjectURL(file), img = new Image();
      img.onload = function () {
        var w = img.naturalWidth, h = img.naturalHeight;
        var scale = Math.min(1, maxPx / Math.max(w, h, 1));
        if (scale === 1 && file.size <= keepBytes) { URL.revokeObjectURL(url); resolve(kept); return; }
        var canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(w * scale));
        canvas.height = Math.max(1, Math.round(h * scale));
        var ctx = canvas.getContext("2d");
        ctx.fillStyle = "#fff"; // a transparent PNG on white, not black
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        canvas.toBlob(function (blob) {
          if (!blob || blob.size >= file.size) resolve(kept);
          else resolve({ name: file.name.replace(/\.[^.]*$/, "") + ".jpg", blob: blob });
        }, "image/jpeg", quality);
      };
      img.onerror = function () { URL.revokeObjectURL(url); resolve(kept); };
      img.src = url;
    });
  }

  /* a page's words filled in: "{n} cases in view" with {n: 3}; a key not given stays as it is.
     On an English page a count of one is said in the singular (1 case, 1 open case, 1 problem,
     not "1 cases"), with the nouns of gis/english.py */
  var COUNTED = ["case", "grid", "day", "point", "row", "warning", "rating", "region", "photo",
    "minute", "week", "hour", "report", "village", "worker", "item", "problem", "file", "edit",
    "session", "account", "letter", "center", "user", "line", "second", "time", "notice", "record",
    "operation", "verification", "check-in", "note", "hotspot", "dispute", "hazard", "cell",
    "household", "login", "password", "number", "character", "code", "year", "description"];
  var PLURALS = {"entries": "entry", "parties": "party", "stretches": "stretch"};
  var ONE = new RegExp("(^|[^\\w.,])1 ((?:[a-z]+ )?)(?:(" + COUNTED.join("|") +
    ")(?:s|\\(s\\))|(" + Object.keys(PLURALS).join("|") + "))(?![\\w(])", "g");
  function fill(words, values) {
    var filled = String(words).replace(/\{(\w+)\}/g, function (m, k) {
      return values && k in values ? values[k] : m;
    });
    return ENGLISH ? filled.replace(ONE, function (_, before, word, noun, plural) {
      return before + "1 " + word + (noun || PLURALS[plural]);
    }) : filled;
  }

  window.wangge = {
    fill: fill,
    shrinkPhoto: shrinkPhoto,
    apiLayer: apiLayer, heatLayer: heatLayer, viewHeat: viewHeat, escapeHtml: escapeHtml,
    tooltip: tooltip, loaded: loaded, layers: layers, logout: logout,
    setTileDatum: setTileDatum, toMap: toMap, fromMap: fromMap, coordsToLatLng: coordsToLatLng,
    geometryFromMap: geometryFromMap, viewBbox: viewBbox, boundsBbox: boundsBbox,
    wgs84ToGcj02: wgs84ToGcj02, gcj02ToWgs84: gcj02ToWgs84, toWgs84: toWgs84
  };
})();
