/* 地名查找: a search box that finds regions and current grids by name or code
   (GET /api/places) and shows the one chosen on the map, its outline drawn.

   wgPlaces(map, input, list, words): `input` a text box, `list` an <ol>/<ul> for the answers;
   words: {none, offline, lang, toMap, onChoose}: what to say when nothing is found and when
   offline, the language asked for, (optional) toMap(lat, lon) → the L.LatLng a WGS 84 point is
   drawn at on this base map (GCJ-02 tiles shift it), and (optional) onChoose(place): told of
   the place shown, and of none (null) when the box is emptied. */
(function () {
  "use strict";

  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  window.wgPlaces = function (map, input, list, words) {
    var toMap = words.toMap || function (lat, lon) { return L.latLng(lat, lon); };
    var seq = 0, timer = null, outline = null, shownFor = null;

    function clear() { list.innerHTML = ""; list.hidden = true; shownFor = null; }
    function say(text) {
      list.innerHTML = '<li class="wg-place-none">' + esc(text) + "</li>";
      list.hidden = false;
    }
    function go(place) {
      var b = place.bbox;
      var bounds = L.latLngBounds(toMap(b[1], b[0]), toMap(b[3], b[2]));
      map.fitBounds(bounds, { maxZoom: 17, animate: false });
      if (outline) map.removeLayer(outline);
      outline = L.geoJSON(place.outline, {
        coordsToLatLng: function (c) { return toMap(c[1], c[0]); },
        style: { color: "#d35400", weight: 3, fill: false, dashArray: "8 5", interactive: false }
      }).addTo(map);
      input.value = place.name;
      input.setAttribute("data-shown", place.code);  // (what the map shows now: for tests)
      clear();
      if (words.onChoose) words.onChoose(place);
    }
    function show(places) {
      if (!places.length) { say(words.none); return; }
      list.innerHTML = "";
      places.forEach(function (p) {
        var li = document.createElement("li"), button = document.createElement("button");
        button.type = "button";
        button.setAttribute("data-code", p.code);
        button.innerHTML = "<b>" + esc(p.name) + "</b> <small>" + esc(p.kind_name) +
          (p.context ? " · " + esc(p.context) : "") + "</small>";
        button.addEventListener("click", function () { go(p); });
        li.appendChild(button);
        list.appendChild(li);
      });
      list.hidden = false;
    }
    function search(thenGo) {
      var q = input.value.trim(), mine = ++seq;
      if (!q) {  // the box emptied (its ✕): the outline goes too
        clear();
        if (outline) { map.removeLayer(outline); outline = null; }
        input.removeAttribute("data-shown");
        if (words.onChoose) words.onChoose(null);
        return;
      }
      if (navigator.onLine === false) { say(words.offline); return; }
      fetch("/api/places?limit=8&q=" + encodeURIComponent(q), {
        credentials: "same-origin",
        headers: { "Accept": "application/json", "Accept-Language": words.lang || "zh" }
      }).then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.detail || "HTTP " + r.status);
          return body;
        });
      }).then(function (body) {
        if (mine !== seq) return;
        show(body.places);
        shownFor = q;
        if (thenGo && body.places.length) go(body.places[0]);
      }).catch(function (e) {
        if (mine === seq) say(navigator.onLine === false ? words.offline : e.message);
      });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { search(false); }, 250);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter") {  // the first answer (for the words as they are now)
        e.preventDefault();
        clearTimeout(timer);
        var first = shownFor === input.value.trim() ? list.querySelector("button") : null;
        if (first) first.click(); else search(true);
      } else if (e.key === "Escape") {
        clear();
      }
    });
  };
})();
