/* 数据导入: the chosen file goes to POST /api/imports as a dry run, and its report is shown; the
   same file and options go again with commit=true when the administrator confirms.  The initial
   passwords of accounts a roster created are shown this once, with a CSV to save. */
(function () {
  "use strict";
  var english = document.documentElement.lang === "en";
  var LANG = english ? "en" : "zh-CN";
  var form = document.getElementById("import-form");
  var check = document.getElementById("import-check");
  var commit = document.getElementById("import-commit");
  var errorBox = document.getElementById("import-error");
  var busy = document.getElementById("import-busy");
  var result = document.getElementById("import-result");
  var SHOWN = 50; // rows of each list on the page (all of them are in the report)

  function say(zh, en) { return english ? en : zh; }
  /* how the cases were assigned, in words by the method's key (importers.core.ASSIGN_WORDS) */
  var ASSIGNED = JSON.parse(result.dataset.assigned || "{}");

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function send(write) {
    var data = new FormData(form);
    ["encoding", "crs", "datum", "part", "code_field", "name_field", "parent_field"].forEach(function (name) {
      var v = (data.get(name) || "").trim();
      if (v) data.set(name, v); else data.delete(name);
    });
    data.set("commit", write ? "true" : "false");
    errorBox.textContent = "";
    var doing = write ? say("正在写入", "Writing") : say("正在检查文件", "Checking the file");
    busy.textContent = doing + say("……", "…");
    check.disabled = commit.disabled = true;
    var watch = setInterval(function () { progress(doing); }, 1000);
    return fetch("/api/imports", {
      method: "POST", credentials: "same-origin", body: data,
      headers: { "Accept": "application/json", "Accept-Language": LANG }
    }).then(function (r) {
      wanggeSession.check(r);  // (the file stays chosen: the same button sends it again)
      return r.json().catch(function () { return {}; }).then(function (b) {
        if (!r.ok) {
          var detail = b.detail;
          if (Array.isArray(detail)) detail = detail.map(function (d) { return d.msg; }).join("; ");
          throw new Error(detail || ("HTTP " + r.status));
        }
        return b;
      });
    }).then(function (answer) {
      show(answer.report, answer.passwords);
      commit.hidden = answer.report.committed || !canWrite(answer.report);
    }).catch(function (e) {
      wanggeSession.say(errorBox, e.message, e);
      if (!write) { result.hidden = true; commit.hidden = true; }
    }).then(function () {
      clearInterval(watch);
      busy.textContent = "";
      check.disabled = commit.disabled = false;
    });
  }

  /* while an import runs: how far it has come and how long it has taken (a large file of cases
     takes minutes) */
  function progress(doing) {
    fetch("/api/imports/progress", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p || !p.running || !check.disabled) return;  /* finished meanwhile */
        var secs = Math.round(p.elapsed_s);
        var text = doing + say("，已用 " + secs + " 秒", ", " + secs + " s so far");
        if (p.percent !== null && p.percent !== undefined) {
          text += say("，约 " + p.percent + "%（共 " + p.rows.toLocaleString() + " 行）",
                      ", about " + p.percent + "% (" + p.rows.toLocaleString() + " rows)");
        }
        busy.textContent = text + say("……", "…");
      })
      .catch(function () { /* the answer will come, or its error */ });
  }

  // a dry run worth writing: something to add or change
  function canWrite(report) {
    return (report.created || []).length + (report.updated || []).length > 0;
  }

  function list(title, items, line) {
    if (!items || !items.length) return null;
    var section = el("div");
    section.append(el("h3", title + " (" + items.length + ")"));
    var ul = el("ul", null, "wg-import-list");
    items.slice(0, SHOWN).forEach(function (item) { ul.append(el("li", line(item))); });
    if (items.length > SHOWN) {
      ul.append(el("li", say("……另有 " + (items.length - SHOWN) + " 条",
                             "… and " + (items.length - SHOWN) + " more")));
    }
    section.append(ul);
    return section;
  }

  function issue(i) {
    var where = i.lon !== null && i.lon !== undefined ? " @ " + i.lon.toFixed(5) + ", " + i.lat.toFixed(5) : "";
    var area = i.area_m2 ? " (" + Math.round(i.area_m2).toLocaleString() + " m²)" : "";
    return (i.code ? i.code + say("：", ": ") : "") + (i[say("reason_zh", "reason_en")] || i.reason) + area + where;
  }

  function show(report, passwords) {
    result.replaceChildren();
    result.hidden = false;
    result.append(el("h2", report.committed ? say("已写入", "Written")
                                            : say("试运行结果：尚未写入", "Dry run: nothing written yet")));
    var about = say("文件 " + report.file + "，共 " + report.rows + " 行",
                    "File " + report.file + ", " + report.rows + (report.rows === 1 ? " row" : " rows"));
    var crs = report[say("crs_zh", "crs_en")] || report.crs;
    if (crs) about += say("，坐标系 " + crs, ", CRS " + crs);
    var mapping = Object.keys(report.mapping || {}).map(function (k) { return k + "←" + report.mapping[k]; });
    if (mapping.length) about += say("；字段 ", "; fields ") + mapping.join(", ");
    result.append(el("p", about));
    var table = el("table", null, "wg-list wg-import-counts");
    var head = el("tr"), row = el("tr");
    [["created", "新增", "new"], ["updated", "更新", "updated"], ["unchanged", "未变", "unchanged"],
     ["repaired", "修复", "repaired"], ["rejected", "拒绝", "rejected"], ["problems", "问题", "problems"]
    ].forEach(function (c) {
      head.append(el("th", say(c[1], c[2])));
      var td = el("td", String((report[c[0]] || []).length));
      td.id = "import-" + c[0];
      row.append(td);
    });
    table.append(head, row);
    result.append(table);
    var assigned = Object.keys(report.assigned || {});
    if (assigned.length) {
      result.append(el("p", say("分派方式：", "Assigned: ") + assigned.map(function (k) {
        var n = report.assigned[k].toLocaleString(LANG), name = ASSIGNED[k];
        return name ? say(name[0] + " " + n + " 件", name[1] + ": " + n) : k + " " + n;
      }).join(say("，", ", "))));
    }
    /* (each warning and reason in the page's language: importers.core.Both) */
    [list(say("提示", "Warnings"), report[say("warnings_zh", "warnings_en")] || report.warnings,
          function (w) { return w; }),
     list(say("拒绝的行", "Rejected rows"), report.rejected, issue),
     list(say("发现的问题", "Problems found"), report.problems, issue),
     list(say("已修复的几何", "Geometries repaired"), report.repaired, issue)
    ].forEach(function (s) { if (s) result.append(s); });
    if (passwords && passwords.length) shownOnce(passwords);
    if (!report.committed && !canWrite(report)) {
      result.append(el("p", say("没有要新增或更新的内容。", "Nothing to add or change."), "wg-note"));
    }
  }

  function shownOnce(passwords) {
    var box = el("div", null, "wg-warnings");
    box.id = "import-passwords";
    box.append(el("p", say("新账号的初始密码只显示这一次：请保存后当面或通过安全渠道交给本人。",
                           "The new accounts' initial passwords are shown this once: save them and "
                           + "hand them over in person or by a safe channel.")));
    var table = el("table", null, "wg-list");
    passwords.forEach(function (p) {
      var tr = el("tr");
      tr.append(el("td", p.username), el("td", p.password));
      table.append(tr);
    });
    var csv = "username,password\n" + passwords.map(function (p) { return p.username + "," + p.password; }).join("\n") + "\n";
    var save = el("a", say("保存为 CSV", "Save as CSV"));
    save.href = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
    save.download = "initial-passwords.csv";
    box.append(table, save);
    result.append(box);
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); send(false); });
  form.addEventListener("change", function () { commit.hidden = true; }); // another file: check it first
  commit.addEventListener("click", function () { send(true); });
})();
