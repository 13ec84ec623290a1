/* wangge planner map: select grids, draw a line or polygon, send it as an operation of an edit
   set (/api/edits), see the findings and the preview on the map, commit or discard. */
(function () {
  "use strict";
  var esc = function (v) { return wangge.escapeHtml(v === null || v === undefined ? "" : v); };
  var STATE_STYLE = {
    untouched: { color: "#3a6f99", weight: 1, fillColor: "#9ecae1", fillOpacity: 0.3 },
    unchanged: { color: "#3a6f99", weight: 1, fillColor: "#9ecae1", fillOpacity: 0.3 },
    changed: { color: "#e66101", weight: 2, fillColor: "#fdb863", fillOpacity: 0.35 },
    added: { color: "#1a9641", weight: 2, fillColor: "#a6d96a", fillOpacity: 0.4 },
    retired: { color: "#888", weight: 1, dashArray: "4 4", fillColor: "#ccc", fillOpacity: 0.3 },
    /* a grid of a neighbouring village: context only (edits go village by village) */
    other: { color: "#aaa", weight: 1, fillColor: "#ddd", fillOpacity: 0.05 }
  };
  var T = {}; // the page's words (maps/planner.py PLANNER_TEXT), set by planner()
  var fill = wangge.fill; // the page's words filled in (1 case, not 1 cases)
  var FINDING_COLOR = { blocking: "#d7191c", warning: "#fdae61", declared_gap: "#878787" };

  /* Leaflet.draw's words on a Chinese page: its buttons (完成, 删除最后一点, 取消), their hover
     tips and the hints beside the pointer (点击开始画线 …) were English (Finish, Click to start
     drawing line.).  Read when the map makes its tools (after this file) and as each is used. */
  if (window.L && L.drawLocal && !/^en/i.test(document.documentElement.lang)) {
    var d = L.drawLocal.draw, e = L.drawLocal.edit;
    d.toolbar.actions = { title: "取消绘制", text: "取消" };
    d.toolbar.finish = { title: "完成绘制", text: "完成" };
    d.toolbar.undo = { title: "删除最后画的一个点", text: "删除最后一点" };
    d.toolbar.buttons.polyline = "画线（拆分网格）";
    d.toolbar.buttons.polygon = "画多边形（新增、划出或重绘网格）";
    d.handlers.polyline.error = "<strong>错误：</strong>线不能自相交！";
    d.handlers.polyline.tooltip = { start: "点击地图开始画线", cont: "点击继续画线",
                                    end: "点击最后一个点结束" };
    d.handlers.polygon.tooltip = { start: "点击地图开始画多边形", cont: "点击继续画",
                                   end: "点击第一个点闭合多边形" };
    d.handlers.simpleshape.tooltip.end = "松开鼠标完成绘制";
    e.toolbar.actions.save = { title: "保存修改", text: "保存" };
    e.toolbar.actions.cancel = { title: "取消编辑，放弃全部修改", text: "取消" };
    e.toolbar.actions.clearAll = { title: "清除全部图形", text: "全部清除" };
    e.toolbar.buttons = { edit: "编辑图形", editDisabled: "没有可编辑的图形",
                          remove: "删除所画图形", removeDisabled: "没有可删除的图形" };
    e.handlers.edit.tooltip = { text: "拖动控制点修改图形", subtext: "点击“取消”撤销修改" };
    e.handlers.remove.tooltip = { text: "点击要删除的图形" };
  }

  function pointInRing(x, y, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }
  function contains(geometry, x, y) {
    var polys = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    return polys.some(function (p) {
      return pointInRing(x, y, p[0]) && !p.slice(1).some(function (h) { return pointInRing(x, y, h); });
    });
  }

  function planner(map, o) {
    T = o.text;
    var state = { editId: null, selected: [], drawn: null, status: "ready", lastResult: null,
                  lastError: null, preview: null, features: [], staffing: null, editing: null };
    /* a grid of another village (the current grids carry their village; a draft's are this one's) */
    function elsewhere(f) {
      return !!f.properties.village_code && f.properties.village_code !== o.village;
    }
    /* the grids and findings are WGS 84, drawn where the base tiles show them (wangge.js); a
       drawn line or polygon goes back to WGS 84 before it is sent */
    var grids = L.geoJSON(null, {
      coordsToLatLng: wangge.coordsToLatLng,
      style: function (f) {
        if (elsewhere(f)) return STATE_STYLE.other;
        var s = STATE_STYLE[f.properties.state || "untouched"] || STATE_STYLE.untouched;
        var sel = state.selected.indexOf(f.properties.code) >= 0;
        return L.extend({}, s, sel ? { color: "#2c7bb6", weight: 4 } : {});
      },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(esc(f.properties.code) + "<br>" + esc(f.properties.name || "") +
          (elsewhere(f) ? "<br>" + esc(fill(T.other_village, { village: f.properties.village_name || f.properties.village_code })) : "") +
          (T.states[f.properties.state] ? "<br><b>" + T.states[f.properties.state] + "</b>" : ""));
        layer.on("click", function () {
          if (f.properties.state === "retired" || elsewhere(f)) return;
          var i = state.selected.indexOf(f.properties.code);
          if (i >= 0) state.selected.splice(i, 1); else state.selected.push(f.properties.code);
          grids.setStyle(grids.options.style);
          render();
        });
      }
    }).addTo(map);
    var findings = L.geoJSON(null, {
      coordsToLatLng: wangge.coordsToLatLng,
      /* a finding of a whole grid (households missing) is a point in it: a ring that lets the
         clicks through to the grid beneath */
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 9, interactive: false }); },
      style: function (f) {
        var c = f.properties.kind === "declared_gap" ? FINDING_COLOR.declared_gap
          : (f.properties.blocking ? FINDING_COLOR.blocking : FINDING_COLOR.warning);
        return { color: c, weight: 2, fillColor: c, fillOpacity: 0.5 };
      },
      onEachFeature: function (f, layer) { layer.bindTooltip(esc(f.properties.message)); }
    }).addTo(map);
    var drawnItems = L.featureGroup().addTo(map);

    var panel = L.control({ position: "topright" });
    var div;
    panel.onAdd = function () {
      div = L.DomUtil.create("div", "wg-title wg-planner");
      div.style.maxWidth = "360px"; div.style.maxHeight = "80vh"; div.style.overflow = "auto";
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      div.addEventListener("click", onClick);
      div.addEventListener("change", onChange);
      div.addEventListener("input", function (ev) {  /* what is typed survives a render */
        var t = ev.target;
        if (state.editing && t.name && t.closest && t.closest(".wg-planner-attrs")) state.editing.typed[t.name] = t.value;
      });
      return div;
    };
    panel.addTo(map);

    function getJson(url, options) {
      var asked = L.extend({ credentials: "same-origin" }, options || {});
      asked.headers = L.extend({ "Accept-Language": T.lang }, asked.headers || {}); // the API answers in it
      return fetch(url, asked).then(function (r) {
        /* the session ended (30 idle minutes: drawing is no request): the page stays as it is,
           with what was drawn and typed, and offers the login in another tab (a login over this
           page would lose them); the same button then sends it again */
        if (r.status === 401) { var ended = new Error(T.expired); ended.login = true; throw ended; }
        return r.json().then(function (body) {
          if (!r.ok) { var e = new Error(body.detail || ("HTTP " + r.status)); e.body = body; e.status = r.status; throw e; }
          return body;
        });
      });
    }
    function post(url, body) {
      return getJson(url, { method: "POST", headers: { "Content-Type": "application/json" },
                            body: JSON.stringify(body || {}) });
    }

    /* the current grids around the view (with no edit set open); `loadedBox`: the box they were
       fetched for, so a pan inside it fetches nothing, and only the newest view's answer is shown */
    var loadedBox = null, loadSeq = 0;
    function loadCurrent() {
      var b = map.getBounds().pad(0.2), mine = ++loadSeq, bbox = wangge.boundsBbox(b);
      return getJson("/api/grids?bbox=" + bbox).then(function (fc) {
        if (mine !== loadSeq || state.editId) return;  /* a newer view, or an edit set opened */
        fc.features.forEach(function (f) { f.properties.state = "untouched"; });
        loadedBox = b;
        show(fc);
      });
    }
    var moved = null;
    map.on("moveend", function () {
      clearTimeout(moved);
      moved = setTimeout(function () {
        /* an open edit set shows its draft (refresh), not the current grids */
        if (state.editId || state.status === "busy") return;
        /* zoomed out beyond the village's own view and grid zoom: too many grids to draw */
        if (map.getZoom() < Math.min(o.minZoom || 13, openZoom)) return;
        if (loadedBox && loadedBox.contains(map.getBounds())) return;
        loadCurrent().then(render).catch(failed);
      }, 150);
    });
    function show(fc) {
      state.features = fc.features;
      grids.clearLayers(); grids.addData(fc);
      grids.eachLayer(function (l) { if (elsewhere(l.feature)) l.bringToBack(); });  /* the village's edges on top */
      state.selected = state.selected.filter(function (c) {
        return fc.features.some(function (f) { return f.properties.code === c && f.properties.state !== "retired"; });
      });
    }
    function refresh() {
      if (!state.editId) return loadCurrent().then(render);
      return Promise.all([getJson("/api/edits/" + state.editId + "/draft"),
                          getJson("/api/edits/" + state.editId + "/preview")])
        .then(function (res) {
          show(res[0]);
          state.preview = res[1];
          findings.clearLayers();
          res[1].validation.findings.forEach(function (f) {
            findings.addData({ type: "Feature", geometry: f.geometry, properties: f });
          });
          render();
        });
    }
    function ensureEdit() {
      if (state.editId) return Promise.resolve(state.editId);
      return post("/api/edits", { title: fill(T.edit_title, { village: o.villageName }) }).then(function (e) {
        state.editId = e.id; state.operations = []; return e.id;
      });
    }
    /* `taken`: what to do once the set has the operation (a form closes then, not before: a
       refused one keeps what was typed) */
    function operate(body, taken) {
      state.status = "busy"; state.lastError = null; state.loginAgain = false; state.resumed = false;
      render();
      return ensureEdit()
        .then(function (id) { return post("/api/edits/" + id + "/operations", body); })
        .then(function (r) {
          if (taken) taken();
          state.operations = (state.operations || []).concat([r]);
          drawnItems.clearLayers(); state.drawn = null;
          return refresh();
        })
        .then(function () { state.status = "ready"; render(); })
        .catch(function (e) {
          /* a set opened for this operation, which it refused: given up, not left open and
             empty for nobody (a page opened anew takes up only a set with work in it) */
          var id = state.editId;
          if (id && !(state.operations || []).length && e.status >= 400 && e.status < 500) {
            state.editId = null; state.preview = null;
            post("/api/edits/" + id + "/discard").catch(function () {});
          }
          failed(e);
        });
    }
    function failed(e) {
      state.status = "ready"; state.lastError = e.message; state.loginAgain = !!e.login;
      if (e.body && e.body.findings) {
        findings.clearLayers();
        e.body.findings.forEach(function (f) { findings.addData({ type: "Feature", geometry: f.geometry, properties: f }); });
      }
      render();
    }
    function gridUnder(geometry) {
      /* the grid a split line cuts: the selected one, else the one under the line's middle */
      if (state.selected.length === 1) return state.selected[0];
      var c = geometry.coordinates, mid = c[Math.floor((c.length - 1) / 2)], nxt = c[Math.floor((c.length - 1) / 2) + 1];
      var x = (mid[0] + nxt[0]) / 2, y = (mid[1] + nxt[1]) / 2;
      var hit = state.features.filter(function (f) { return f.properties.state !== "retired" && contains(f.geometry, x, y); });
      return hit.length ? hit[0].properties.code : null;
    }

    var ACTIONS = {
      split: function () {
        var grid = gridUnder(state.drawn.geometry);
        if (!grid) { state.lastError = T.pick_first; return render(); }
        operate({ op: "split", grid: grid, line: state.drawn.geometry });
      },
      carve: function () { operate({ op: "split", grid: state.selected[0], parts: [state.drawn.geometry] }); },
      redraw: function () { operate({ op: "redraw", grid: state.selected[0], geometry: state.drawn.geometry }); },
      create: function () { operate({ op: "create", geometry: state.drawn.geometry }); },
      merge: function () { operate({ op: "merge", grids: state.selected.slice() }); },
      retire: function () { operate({ op: "retire", grid: state.selected[0], to: "neighbours" }); },
      uncover: function () { operate({ op: "retire", grid: state.selected[0], to: "uncovered" }); },
      /* 名称与户数: the grid's name, households and people as the set has them, to change */
      rename: function () {
        var code = state.selected[0];
        var f = state.features.filter(function (x) { return x.properties.code === code; })[0];
        var p = f ? f.properties : {};
        var was = { name: p.name || "", households: p.households, population: p.population };
        state.editing = { grid: code, was: was, typed: {} };
        render();
      },
      attrs_save: function () {
        var e = state.editing, body = { op: "recode", grid: e.grid };
        var name = (e.typed.name === undefined ? e.was.name : e.typed.name).trim();
        if (name && name !== e.was.name) body.name = name;
        ["households", "population"].forEach(function (k) {
          var v = e.typed[k] === undefined ? "" : String(e.typed[k]).trim();
          if (v !== "" && +v !== e.was[k]) body[k] = +v;
        });
        if (Object.keys(body).length > 2) operate(body, function () { state.editing = null; });
        else { state.editing = null; render(); }
      },
      attrs_cancel: function () { state.editing = null; render(); },
      /* 配置网格员: the grid's workers as the set has them (its own list, else the links now),
         ticked; the part of each left automatic unless the set gave one */
      staff: function () {
        var code = state.selected[0], ticks = {};
        var f = state.features.filter(function (x) { return x.properties.code === code; })[0];
        if (f && f.properties.assigned) {
          f.properties.assigned.forEach(function (w) { ticks[w] = (f.properties.assigned_roles || {})[w] || ""; });
        } else {
          (o.workers || []).forEach(function (w) { if (code in w.grids) ticks[w.code] = ""; });
        }
        state.staffing = { grid: code, ticks: ticks };
        render();
      },
      staff_save: function () {
        var s = state.staffing, workers = Object.keys(s.ticks).sort(), roles = {};
        if (!workers.length && !window.confirm(T.staff_confirm_empty)) return;
        workers.forEach(function (w) { if (s.ticks[w]) roles[w] = s.ticks[w]; });
        operate({ op: "assign", grid: s.grid, workers: workers, roles: roles },
                function () { state.staffing = null; });
      },
      staff_cancel: function () { state.staffing = null; render(); },
      commit: function () {
        state.status = "busy"; render();
        post("/api/edits/" + state.editId + "/commit").then(function (r) {
          state.lastResult = r; state.editId = null; state.preview = null; state.operations = [];
          state.status = "committed"; findings.clearLayers();
          return loadCurrent();
        }).then(render).catch(failed);
      },
      discard: function () {
        post("/api/edits/" + state.editId + "/discard").then(function () {
          state.editId = null; state.preview = null; state.operations = []; state.status = "ready";
          findings.clearLayers(); return loadCurrent();
        }).then(render).catch(failed);
      },
      clear: function () { drawnItems.clearLayers(); state.drawn = null; render(); }
    };
    /* the staffing form's ticks and parts, kept as they change (a render draws them again) */
    function onChange(ev) {
      var t = ev.target, s = state.staffing;
      if (!s || !t.getAttribute) return;
      var w = t.getAttribute("data-worker");
      if (!w) return;
      if (t.type === "checkbox") {
        if (t.checked) s.ticks[w] = s.ticks[w] || ""; else delete s.ticks[w];
        render();
      } else if (w in s.ticks) {
        s.ticks[w] = t.value;
      }
    }
    function attrsForm() {
      var e = state.editing, busy = state.status === "busy";
      function field(name, label, type) {
        var value = name in e.typed ? e.typed[name] : e.was[name];
        return '<label style="display:block;margin:2px 0">' + esc(label) + ' <input name="' + name + '"' +
          (type ? ' type="number" min="0" step="1" style="width:7em"' : ' style="width:12em"') +
          ' value="' + esc(value === null || value === undefined ? "" : value) + '"></label>';
      }
      return '<div class="wg-planner-attrs"><hr><b>' + esc(fill(T.attrs_title, { grid: e.grid })) + "</b>" +
        field("name", T.attr_name) + field("households", T.attr_households, true) +
        field("population", T.attr_population, true) +
        "<div>" + button("attrs_save", T.staff_save, !busy) + button("attrs_cancel", T.staff_cancel, true) + "</div></div>";
    }
    function staffForm() {
      var s = state.staffing, busy = state.status === "busy";
      var h = '<div class="wg-planner-staff"><hr><b>' + esc(fill(T.staff_title, { grid: s.grid })) + "</b>" +
        '<div style="font-size:12px;color:#555">' + esc(T.staff_help) + "</div>";
      if (!(o.workers || []).length) h += "<div>" + esc(T.staff_none) + "</div>";
      (o.workers || []).forEach(function (w) {
        var on = w.code in s.ticks, others = Object.keys(w.grids).filter(function (g) { return g !== s.grid; });
        var now = w.grids[s.grid] ? (o.roles.filter(function (r) { return r[0] === w.grids[s.grid]; })[0] || [])[1] : "";
        h += '<div style="margin:2px 0;display:flex;flex-wrap:wrap;gap:4px;justify-content:space-between"><label><input type="checkbox" data-worker="' + esc(w.code) + '"' +
          (on ? " checked" : "") + "> " + esc(w.name) + " <small>" + esc(w.code) +
          (now ? " · " + esc(now) : "") +
          (others.length ? " · " + esc(fill(T.staff_other_grids, { n: others.length })) : "") +
          "</small></label> " +
          '<select data-worker="' + esc(w.code) + '" aria-label="' + esc(T.role_auto) + '"' + (on ? "" : " disabled") + ">" +
          '<option value="">' + esc(T.role_auto) + "</option>" +
          o.roles.map(function (r) {
            return '<option value="' + esc(r[0]) + '"' + (s.ticks[w.code] === r[0] ? " selected" : "") + ">" + esc(r[1]) + "</option>";
          }).join("") + "</select></div>";
      });
      return h + "<div>" + button("staff_save", T.staff_save, !busy) + button("staff_cancel", T.staff_cancel, true) + "</div></div>";
    }
    function onClick(ev) {
      var a = ev.target.getAttribute && ev.target.getAttribute("data-action");
      if (a && ACTIONS[a] && !ev.target.disabled) ACTIONS[a]();
      var f = ev.target.getAttribute && ev.target.getAttribute("data-finding");
      if (f !== null && f !== undefined && state.preview) {
        var x = state.preview.validation.findings[+f];
        if (x) map.setView(wangge.toMap(x.lat, x.lon), Math.max(map.getZoom(), 16));
      }
    }
    function opText(op) { /* in English: its English message, or the operation and the grids it touched */
      if (T.lang !== "en") return op.message;
      if (op.message_en) return op.message_en;
      var grids = op.grids && op.grids.length !== undefined ? op.grids : [];
      return (T.ops[op.op] || op.op) + (grids.length ? ": " + grids.join(", ") : "");
    }
    function button(action, label, enabled) {
      return '<button type="button" data-action="' + action + '"' + (enabled ? "" : " disabled") +
        ' style="margin:2px">' + label + "</button>";
    }
    function render() {
      if (!div) return;
      var sel = state.selected, drawn = state.drawn, busy = state.status === "busy";
      var line = drawn && drawn.geometry.type === "LineString", poly = drawn && drawn.geometry.type === "Polygon";
      var h = "<b>" + esc(fill(T.edit_title, { village: o.villageName })) + "</b>";
      h += '<div class="wg-planner-help" style="font-size:12px;color:#555">' + fill(T.help, { m: o.toleranceM }) + "</div>";
      (o.others || []).forEach(function (e) {  /* another planner's set not yet committed, here */
        var by = e.by_name && e.by_name !== e.by ? fill(T.person, { name: e.by_name, account: e.by }) : e.by;
        h += '<div class="wg-planner-others">' + esc(fill(T.others, { by: by, id: e.id, n: e.operations, at: e.at })) + "</div>";
      });
      h += "<div>" + T.selected + (sel.length ? esc(sel.join(T.list_sep)) : T.none) + "</div>";
      h += "<div>" +
        button("split", T.split, line && !busy) +
        button("carve", T.carve, poly && sel.length === 1 && !busy) +
        button("redraw", T.redraw, poly && sel.length === 1 && !busy) +
        button("create", T.create, poly && !busy) +
        button("merge", T.merge, sel.length >= 2 && !busy) +
        button("retire", T.retire, sel.length === 1 && !busy) +
        button("uncover", T.uncover, sel.length === 1 && !busy) +
        button("rename", T.rename, sel.length === 1 && !busy) +
        button("staff", T.staff, sel.length === 1 && !busy) +
        (drawn ? button("clear", T.clear, true) : "") + "</div>";
      if (state.staffing && (sel.length !== 1 || sel[0] !== state.staffing.grid)) state.staffing = null;
      if (state.staffing) h += staffForm();
      if (state.editing && (sel.length !== 1 || sel[0] !== state.editing.grid)) state.editing = null;
      if (state.editing) h += attrsForm();
      if (state.lastError) {
        h += '<div class="wg-error wg-planner-error">' + esc(state.lastError) + (state.loginAgain
          ? ' <a class="wg-login-again" href="/login" target="_blank" rel="noopener">' + esc(T.log_in_again) + "</a>"
          : "") + "</div>";
      }
      if (state.editId) {
        if (state.resumed) {
          h += '<div class="wg-planner-resumed">' + esc(fill(T.resumed, { id: state.editId, n: (state.operations || []).length })) + "</div>";
        }
        h += "<hr><div>" + T.edit_set + state.editId + "</div><ol class=\"wg-planner-ops\" style=\"padding-left:18px;margin:4px 0\">";
        (state.operations || []).forEach(function (op) { h += "<li>" + esc(opText(op)) + "</li>"; });
        h += "</ol>";
        var p = state.preview;
        if (p) {
          var v = p.validation, c = p.counts;
          h += '<div class="wg-planner-validation wg-ico wg-ico-' + (v.ok ? "ok" : "stop") + '">' +
            (v.ok ? T.valid : fill(T.blocking, { n: v.blocking })) + "</div>";
          h += "<ul style=\"padding-left:18px;margin:4px 0;font-size:12px\">";
          v.findings.forEach(function (f, i) {
            h += '<li><a data-finding="' + i + '" style="cursor:pointer;color:' +
              (f.blocking ? "#d7191c" : "#666") + '">' + esc(T.lang === "en" ? f.message_en || f.message : f.message) + "</a></li>";
          });
          h += "</ul>";
          h += '<div class="wg-planner-preview">' +
            fill(T.preview, { added: c.added || 0, changed: c.changed || 0, retired: c.retired || 0, cases: p.cases.count }) +
            (p.cases.center_changed ? fill(T.center_changed, { n: p.cases.center_changed }) : "") +
            fill(T.workers_moved, { n: p.workers.length }) + "</div>";
          if (p.cases.list.length) {
            h += "<details><summary>" + T.cases_moved + "</summary><ul style=\"font-size:12px;padding-left:18px\">";
            p.cases.list.slice(0, 50).forEach(function (k) {
              h += "<li>" + esc(k.code) + T.colon + esc(k.old_grid || T.nothing) + " → " + esc(k.new_grid || T.nothing) + "</li>";
            });
            h += "</ul></details>";
          }
          var hh = (p.households && p.households.grids) || [];
          if (hh.length) {  /* 户数: what the grids' household counts become */
            h += "<details><summary>" + esc(T.households_changed) + "</summary><ul style=\"font-size:12px;padding-left:18px\">";
            hh.forEach(function (g) {
              h += "<li>" + esc(g.code) + T.colon + esc(g.before === null ? T.nothing : g.before) + " → " +
                esc(g.after === null ? T.nothing : g.after) + "</li>";
            });
            h += "</ul></details>";
          }
          if (p.workers.length) {
            h += "<details><summary>" + T.workers_changed + "</summary><ul style=\"font-size:12px;padding-left:18px\">";
            p.workers.forEach(function (w) {
              h += "<li>" + esc(w.name) + T.colon + esc(w.before.join(T.list_sep) || T.nothing) + " → " + esc(w.after.join(T.list_sep) || T.nothing) + "</li>";
            });
            h += "</ul></details>";
          }
          h += "<div>" + button("commit", T.commit, v.ok && !busy) + button("discard", T.discard, !busy) + "</div>";
        }
      }
      if (state.lastResult) {
        var r = state.lastResult;
        h += '<div class="wg-planner-result" style="color:#1a9641">' + fill(T.committed, { id: r.id,
          added: r.grids.added.length, changed: r.grids.changed.length, retired: r.grids.retired.length,
          cases: r.cases_reassigned });
        var codes = r.grids.added.concat(r.grids.changed, r.grids.retired);  /* each opens its record */
        if (codes.length) h += '<div class="wg-planner-records">' + T.records + " " + codes.map(function (c) {
          return '<a href="/grids/' + encodeURIComponent(c) + '">' + esc(c) + "</a>";
        }).join(T.list_sep) + "</div>";
        h += "</div>";
      }
      div.innerHTML = h;
    }

    map.on("draw:created", function (e) {
      drawnItems.clearLayers();
      drawnItems.addLayer(e.layer);
      state.drawn = e.layer.toGeoJSON();  /* in the tiles' datum: sent in WGS 84 */
      state.drawn.geometry = wangge.geometryFromMap(state.drawn.geometry);
      render();
    });
    var api = { state: state, refresh: refresh, grids: grids, findings: findings, map: map };
    wangge.plannerState = state;
    wangge.plannerMap = map;
    var openZoom = 0;
    if (o.openEdit) {  /* the planner's own set not yet committed: taken up again where it was */
      state.editId = o.openEdit.id; state.operations = o.openEdit.operations; state.resumed = true;
    }
    map.whenReady(function () { openZoom = map.getZoom(); refresh().then(render).catch(failed); });
    render();
    return api;
  }
  wangge.planner = planner;
})();
