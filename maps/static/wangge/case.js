/* The operator's case page: a small map of the spot, the actions allowed now, department
   responses and (audited) unmasking of the parties.  Every change goes through the API with the
   version the page was rendered from; a 409 (changed meanwhile / not allowed) is shown as is. */
(function () {
  "use strict";
  var body = document.body;
  var code = body.dataset.code;
  var version = parseInt(body.dataset.version, 10);
  var lon = parseFloat(body.dataset.lon), lat = parseFloat(body.dataset.lat);
  var errorBox = document.getElementById("action-error");

  if (window.L && window.wangge && !isNaN(lon)) {
    /* the spot (WGS 84) and its grids drawn where the base tiles show them (GCJ-02 tiles: shifted) */
    wangge.setTileDatum(body.dataset.datum || "wgs84");
    var spot = wangge.toMap(lat, lon);
    var map = L.map("case-map", { attributionControl: !!body.dataset.tiles }).setView(spot, 17);
    wangge.caseMap = map;
    if (body.dataset.tiles) {
      map.attributionControl.setPrefix(false);
      L.tileLayer(body.dataset.tiles, { maxZoom: 19, subdomains: body.dataset.subdomains || "abc",
                                        attribution: wangge.escapeHtml(body.dataset.attribution || "") }).addTo(map);
    }
    L.circle(spot, { radius: 50, weight: 1 }).addTo(map);
    /* the other cases its repeat warning counted (高频线索, within the circle) and its possible
       duplicates (疑似重复), in the in-tray's marks' colours: a tap opens one */
    var MARK = { repeat: ["#935116", "#f5b041"], duplicate: ["#6c3483", "#bb8fce"] };
    JSON.parse(document.getElementById("case-map").dataset.peers || "[]").forEach(function (p) {
      var mark = MARK[p.kind] || MARK.repeat;
      L.circleMarker(wangge.toMap(p.lat, p.lon), { radius: 5, color: mark[0], weight: 1, fillColor: mark[1], fillOpacity: 0.9 })
        .bindTooltip(wangge.escapeHtml(p.label))
        .on("click", function () { window.location.assign("/cases/" + encodeURIComponent(p.code)); })
        .addTo(map);
    });
    L.circleMarker(spot, { radius: 7, color: "#c0392b", fillOpacity: 0.9 }).addTo(map);
    fetch("/api/grids?bbox=" + [lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01].join(","),
          { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (g) {
        if (!g) return;
        /* its own grid shaded, the others dashed; each named when pointed at (filled with
           nothing but still pointable; behind the cases' marks, which stay a tap away) */
        var own = document.getElementById("case-map").dataset.grid, ownDrawn = false;
        var grids = L.geoJSON(g, {
          coordsToLatLng: wangge.coordsToLatLng,
          style: function (f) {
            return f.properties.code === own
              ? { color: "#1f618d", weight: 2.5, fillColor: "#2c6fbb", fillOpacity: 0.12 }
              : { color: "#2c6fbb", weight: 1.5, dashArray: "4 4", fillOpacity: 0 };
          },
          onEachFeature: function (f, l) {
            if (f.properties.code === own) ownDrawn = true;
            l.bindTooltip(wangge.escapeHtml(f.properties.name || f.properties.code),
                          { sticky: true, className: "wg-grid-name" });
          }
        }).addTo(map);
        grids.bringToBack();
        wangge.caseGrids = grids;  // (for tests)
        var key = document.getElementById("case-map-own");
        if (key && ownDrawn) key.hidden = false;
        if (g.features && g.features.length) document.getElementById("case-map-grids").hidden = false;
      })
      .catch(function () { /* no network: the spot without its grids */ });
  }

  // 补充位置 (a case filed by its village, no point): the village outlined on a map; a tap, or
  // coordinates typed as a map app gave them, put the pin; 确认位置 sends the point as given (in
  // its datum: the server converts it) and the page comes back with the case's own map
  var locate = document.getElementById("case-locate");
  if (locate && window.L && window.wangge) {
    wangge.setTileDatum(body.dataset.datum || "wgs84");
    var lmap = L.map("locate-map", { attributionControl: !!body.dataset.tiles }).setView([23, 113.9], 12);
    wangge.locateMap = lmap;  // (for tests)
    if (body.dataset.tiles) {
      lmap.attributionControl.setPrefix(false);
      L.tileLayer(body.dataset.tiles, { maxZoom: 19, subdomains: body.dataset.subdomains || "abc",
                                        attribution: wangge.escapeHtml(body.dataset.attribution || "") }).addTo(lmap);
    }
    var regionCode = locate.dataset.region, chosen = null, pin = null;
    var save = document.getElementById("locate-save");
    var said = document.getElementById("locate-where");
    var locateError = document.getElementById("locate-error");
    fetch("/api/places?limit=10&q=" + encodeURIComponent(regionCode), {
      credentials: "same-origin", headers: { "Accept": "application/json", "Accept-Language": document.documentElement.lang === "en" ? "en" : "zh-CN" }
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (b) {
      var place = b && b.places.filter(function (p) { return p.code === regionCode; })[0];
      if (!place) return;
      var area = L.geoJSON(place.outline, {
        coordsToLatLng: wangge.coordsToLatLng, interactive: false,
        style: { color: "#d35400", weight: 3, fillOpacity: 0.05, dashArray: "8 5" }
      }).addTo(lmap);
      lmap.fitBounds(area.getBounds(), { animate: false });
      // its grids (the current layout), each named: a caller's "the third grid, by the school"
      // found on the map (drawn only: a tap on one puts the pin)
      var b = place.bbox;
      return fetch("/api/grids?bbox=" + [b[0], b[1], b[2], b[3]].join(","), {
        credentials: "same-origin", headers: { "Accept": "application/geo+json, application/json" }
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (fc) {
        if (!fc) return;
        var inside = fc.features.filter(function (f) {
          return regionCode.length === 12 ? f.properties.code.indexOf(regionCode) === 0 : true;
        });
        var grids = L.geoJSON({ type: "FeatureCollection", features: inside }, {
          coordsToLatLng: wangge.coordsToLatLng, interactive: false,
          style: { color: "#2c6fbb", weight: 1.5, fillOpacity: 0, dashArray: "4 4" },
          onEachFeature: function (f, l) {
            l.bindTooltip(wangge.escapeHtml(f.properties.name || f.properties.code),
                          { permanent: true, direction: "center", className: "wg-grid-name" });
          }
        }).addTo(lmap);
        wangge.locateGrids = grids;  // (for tests)
      });
    }).catch(function () { /* no network: the map without its outline */ });
    var placeBox = document.getElementById("locate-place");
    if (placeBox && window.wgPlaces) {
      wgPlaces(lmap, placeBox, document.getElementById("locate-place-list"), {
        none: placeBox.dataset.none, offline: placeBox.dataset.offline,
        lang: document.documentElement.lang === "en" ? "en" : "zh-CN", toMap: wangge.toMap
      });
    }
    var put = function (lon, lat, datum) {  // (lon, lat) in `datum`; drawn where it is
      chosen = { lon: lon, lat: lat, datum: datum };
      var at = wangge.toWgs84(lon, lat, datum), drawn = wangge.toMap(at[1], at[0]);
      if (pin) pin.setLatLng(drawn); else pin = L.marker(drawn).addTo(lmap);
      wangge.locatePin = pin;  // (for tests)
      said.textContent = lon.toFixed(6) + ", " + lat.toFixed(6) + " (" + datum + ")";
      save.disabled = false;
      locateError.textContent = "";
    };
    lmap.on("click", function (e) {
      var p = wangge.fromMap(e.latlng);
      put(p[0], p[1], "wgs84");
    });
    document.getElementById("locate-typed").addEventListener("click", function () {
      var typed = document.getElementById("locate-coords").value.trim();
      var parts = typed.split(/[\s,，;；]+/).filter(Boolean).map(Number);
      if (parts.length !== 2 || !parts.every(function (v) { return isFinite(v); })) {
        locateError.textContent = locate.dataset.bad;
        return;
      }
      var datum = document.getElementById("locate-datum").value;  // (asked, never assumed)
      if (!datum) { locateError.textContent = locate.dataset.datum; return; }
      put(parts[0], parts[1], datum);
      lmap.setView(pin.getLatLng(), Math.max(lmap.getZoom(), 16));
    });
    save.addEventListener("click", function () {
      if (!chosen) return;
      var note = document.getElementById("locate-note").value.trim();
      var payload = { location: chosen, version: version };
      if (note) payload.note = note;
      save.disabled = true;
      post("/api/cases/" + code + "/location", payload, locateError).then(function () {
        save.disabled = false;
      });
    });
  }

  var printButton = document.getElementById("case-print");
  if (printButton) printButton.addEventListener("click", function () { window.print(); });

  var english = document.documentElement.lang === "en"; // the page's language, not the browser's
  var LANG = english ? "en" : "zh-CN"; // the API answers (messages) in it

  // No answer at all (no signal, on the spot): nothing was sent, and what was typed stays
  var NO_NETWORK = english
    ? "No connection: nothing was sent. What you entered is still here; try again when the signal returns."
    : "网络不通，未能提交；填写的内容仍在本页，请在信号恢复后重试。";
  // The answer's message: the API's own (in the page's language), or the HTTP status of a page
  // that is not the API's (a proxy's error page)
  function answer(r) {
    return r.json().catch(function () { return {}; }).then(function (b) {
      wanggeSession.check(r);  // (the session ended: session.js)
      if (!r.ok) throw new Error(typeof b.detail === "string" ? b.detail : "HTTP " + r.status);
      return b;
    });
  }
  // `text` in `box`; for an ended session, with a link to log in beside this page
  var say = wanggeSession.say;
  function noNetwork() { throw new Error(NO_NETWORK); }
  var fill = wangge.fill; // the page's words filled in (1 case, not 1 cases)

  // (`box`: where a refusal is said; the actions' own by default)
  function post(url, payload, box) {
    box = box || errorBox;
    box.textContent = "";
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "Accept-Language": LANG },
      body: JSON.stringify(payload)
    }).then(answer, noNetwork)
      .then(function () { window.location.reload(); })
      .catch(function (e) { say(box, e.message, e); });
  }

  // 办理记录: a note in the case's history, the case not moved
  var noteForm = document.getElementById("note-form");
  if (noteForm) {
    noteForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var box = document.getElementById("note-error"), note = noteForm.note.value.trim();
      if (!note) { box.textContent = box.dataset.empty; return; }
      post("/api/cases/" + code + "/notes", { note: note }, box);
    });
  }

  // 补充现场照片: the photos chosen, made smaller first as the phone page does (one bar of
  // signal), then sent one a request (multipart, field "photos"): a weak link that drops the
  // fourth keeps the first three, and 上传 again sends the rest, not those already there.  The
  // server checks each (type from its content, size, the case's limit) and strips its EXIF.
  var photoForm = document.getElementById("photo-form");
  if (photoForm) {
    var unsent = null; // the photos made smaller and not sent yet (after a failure)
    photoForm.photos.addEventListener("change", function () { unsent = null; });
    photoForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var box = document.getElementById("photo-error"), files = photoForm.photos.files;
      if (!unsent && !files.length) { box.textContent = box.dataset.empty; return; }
      if (!unsent && files.length > parseInt(box.dataset.room, 10)) { box.textContent = box.dataset.tooMany; return; }
      var button = photoForm.querySelector("button"), d = photoForm.dataset, sent = 0;
      button.disabled = true;
      box.textContent = box.dataset.sending;
      var ready = unsent ? Promise.resolve(unsent) :
        Array.prototype.reduce.call(files, function (chain, file) {
          return chain.then(function (shrunk) {
            return wangge.shrinkPhoto(file, +d.maxPx, +d.keepBytes, +d.quality)
              .then(function (photo) { return shrunk.concat([photo]); });
          });
        }, Promise.resolve([]));
      ready.then(function (shrunk) {
        unsent = shrunk;
        var total = shrunk.length;
        function next() {
          if (!unsent.length) return null;
          box.textContent = fill(box.dataset.sendingOne, { i: total - unsent.length + 1, n: total });
          var data = new FormData();
          data.append("photos", unsent[0].blob, unsent[0].name);
          return fetch("/api/cases/" + code + "/photos", {
            method: "POST", credentials: "same-origin",
            headers: { "Accept": "application/json", "Accept-Language": LANG }, body: data
          }).then(function (r) {
            // refused (not an image, too large, the case full): not sent again; its reason said
            // (a session that ended refused nothing: sent again after the login)
            if (r.status >= 400 && r.status < 500 && r.status !== 401) unsent = unsent.slice(1);
            return answer(r);
          }, noNetwork).then(function () {
            sent += 1;
            unsent = unsent.slice(1);
            return next();
          });
        }
        return next();
      }).then(function () { window.location.reload(); })
        .catch(function (e) {
          // (those sent are the case's: 上传 again sends the rest; the page shows them after)
          say(box, (sent ? fill(box.dataset.partly, { n: sent, left: unsent.length }) : "") + e.message, e);
          button.disabled = false;
        });
    });
  }

  // 现场核查: put right (verified) or not (reopened: what was found is required)
  var verifyForm = document.getElementById("verify-form");
  if (verifyForm) {
    var picked = null; // the button pressed (for a browser whose submit event does not say)
    verifyForm.querySelectorAll("button[type=submit]").forEach(function (b) {
      b.addEventListener("click", function () { picked = b.value; });
    });
    verifyForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var box = document.getElementById("verify-error"), note = verifyForm.note.value.trim();
      var choice = (ev.submitter && ev.submitter.value) || picked;
      if (!choice) return; // (never taken for either)
      var resolved = choice === "true";
      if (!resolved && !note) { box.textContent = box.dataset.empty; return; }
      var payload = { resolved: resolved, version: version };
      if (note) payload.note = note;
      post("/api/cases/" + code + "/verify", payload, box);
    });
  }

  // 补充当事人: name, phone and ID number as typed (the server checks and normalises them)
  var partyForm = document.getElementById("party-form");
  if (partyForm) {
    partyForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var box = document.getElementById("party-error"), party = { role: partyForm.role.value };
      ["name", "phone", "id_card"].forEach(function (k) {
        var v = partyForm[k].value.trim();
        if (v) party[k] = v;
      });
      if (!party.name && !party.phone && !party.id_card) { box.textContent = box.dataset.empty; return; }
      post("/api/cases/" + code + "/parties", party, box);
    });
  }

  var form = document.getElementById("action-form");
  var current = null;
  document.querySelectorAll(".wg-action").forEach(function (button) {
    button.addEventListener("click", function () {
      current = button.dataset.action;
      document.getElementById("action-title").textContent = button.textContent;
      form.querySelectorAll("[data-for]").forEach(function (l) {
        l.hidden = l.dataset.for !== current;
      });
      form.hidden = false;
    });
  });
  document.getElementById("action-cancel").addEventListener("click", function () {
    form.hidden = true;
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var payload = { action: current, version: version };
    var note = form.elements.note.value.trim();
    if (note) payload.note = note;
    if (current === "dispatch" && form.elements.departments.value.trim()) {
      payload.departments = form.elements.departments.value.split(/[,，\s]+/).filter(Boolean);
    }
    if (current === "transfer") payload.to_region = form.elements.to_region.value.trim();
    if (current === "extend") payload.extra_hours = parseFloat(form.elements.extra_hours.value);
    if (current === "verify") {  // (chosen each time: nothing is recorded as the resident's word unpicked)
      var said = form.querySelector("input[name=resolved]:checked");
      if (!said) { errorBox.textContent = english ? "Choose what the resident said." : "请选择回访结果：群众是否认可已解决。"; return; }
      payload.resolved = said.value === "true";
    }
    if (current === "merge") payload.into = form.elements.into.value.trim();
    post("/api/cases/" + code + "/actions", payload);
  });

  document.querySelectorAll(".wg-respond").forEach(function (button) {
    button.addEventListener("click", function () {
      var payload = { response: button.dataset.response };
      if (payload.response === "cannot") {
        var why = window.prompt(english ? "Why can it not be handled?" : "无法办理的理由：");
        if (!why) return;
        payload.note = why;
      }
      post("/api/cases/" + code + "/dispatches/" + button.dataset.dispatch, payload);
    });
  });

  document.querySelectorAll(".wg-duplicate").forEach(function (button) {
    button.addEventListener("click", function () {
      post("/api/cases/" + code + "/duplicates/" + button.dataset.other,
           { decision: button.dataset.decision });
    });
  });

  // 并案: this case closed into the possible duplicate it is the same event as
  document.querySelectorAll(".wg-merge").forEach(function (button) {
    button.addEventListener("click", function () {
      if (!window.confirm(button.dataset.confirm)) return;
      post("/api/cases/" + code + "/actions",
           { action: "merge", into: button.dataset.into, version: version });
    });
  });

  // … or the duplicate (still open) closed into this case
  document.querySelectorAll(".wg-merge-here").forEach(function (button) {
    button.addEventListener("click", function () {
      if (!window.confirm(button.dataset.confirm)) return;
      post("/api/cases/" + encodeURIComponent(button.dataset.other) + "/actions",
           { action: "merge", into: code });
    });
  });

  var unmask = document.getElementById("unmask");
  if (unmask) {
    unmask.addEventListener("click", function () {
      // the case as stored (audited): its parties, and the numbers in its description
      fetch("/api/cases/" + code + "?unmask=true", { credentials: "same-origin", headers: { "Accept-Language": LANG } })
        .then(function (r) { return r.json(); })
        .then(function (whole) {
          var parties = whole.parties;
          document.getElementById("case-description").textContent = whole.description;
          // the notes of the history and the departments' answers with numbers masked in them
          document.querySelectorAll("[data-unmask-event]").forEach(function (el) {
            var e = whole.events[Number(el.dataset.unmaskEvent)];
            if (e && e.note) el.textContent = e.note;
          });
          document.querySelectorAll("[data-unmask-dispatch]").forEach(function (el) {
            var d = whole.dispatches[Number(el.dataset.unmaskDispatch)];
            if (d && d.note) el.textContent = d.note;
          });
          var table = document.getElementById("parties");
          var roles = JSON.parse(table.dataset.roles || "{}"); // English names, on a page in English
          table.textContent = "";
          parties.forEach(function (p) {
            var tr = table.insertRow();
            tr.insertCell().textContent = roles[p.role] || p.role_name || p.role;
            if (p.erased_at) { // its retention period over: nothing left to show
              var said = tr.insertCell();
              said.colSpan = 3;
              said.textContent = table.dataset.erased.replace("{day}", p.erased_at.slice(0, 10));
              tr.className = "wg-muted";
              return;
            }
            [p.name, p.phone, p.id_card].forEach(function (v) {
              tr.insertCell().textContent = v || "";
            });
          });
          unmask.hidden = true;
        });
    });
  }
})();
