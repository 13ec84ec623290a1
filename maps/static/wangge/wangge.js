/* wangge map helpers: layers that load GeoJSON for the current view from the wangge API. */
(function () {
  "use strict";

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function tooltip(props, fields) {
    var rows = fields.map(function (kv) {
      var v = props[kv[0]];
      if (Array.isArray(v)) v = v.join("、");
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
    layer.options.onEachFeature = function (feature, l) {
      if (opts.fields) l.bindTooltip(tooltip(feature.properties, opts.fields), { sticky: true });
    };
    function refresh() {
      if (!map.hasLayer(layer)) return;
      if (opts.minZoom && map.getZoom() < opts.minZoom) { layer.clearLayers(); return; }
      var b = map.getBounds();
      var bbox = [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90),
                  Math.min(b.getEast(), 180), Math.min(b.getNorth(), 90)]
        .map(function (v) { return v.toFixed(5); }).join(",");
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
    return layer;
  }

  var loaded = {};  /* url → features in the last answer (for status displays and tests) */

  /* End the session (the cookie goes with it) and return to the login page. */
  var leaving = false;  /* set by logout(): a late 401 from a layer must not send us elsewhere */
  function logout() {
    leaving = true;
    fetch("/api/auth/logout", { method: "POST", credentials: "same-origin" })
      .finally(function () { window.location.assign("/login"); });
  }

  window.wangge = {
    apiLayer: apiLayer, escapeHtml: escapeHtml, tooltip: tooltip, loaded: loaded, logout: logout
  };
})();
