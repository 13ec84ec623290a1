/* The administrator's page of user accounts: each change goes to /api/users… and the answer is
   shown.  A password set at random is shown once, here, and the page is not reloaded until the
   administrator has taken it down; other changes reload the list.  登录设备 lists an account's
   sessions in force, each of which can be ended alone. */
(function () {
  "use strict";
  var english = document.documentElement.lang === "en"; // the page's language
  var LANG = english ? "en" : "zh-CN"; // the API answers (messages) in it
  var message = document.getElementById("user-message");
  var errorBox = document.getElementById("user-error");

  function say(zh, en) { return english ? en : zh; }

  function send(url, payload, method) {
    errorBox.textContent = "";
    message.textContent = "";
    return fetch(url, {
      method: method || "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "Accept-Language": LANG },
      body: JSON.stringify(payload || {})
    }).then(function (r) {
      wanggeSession.check(r);
      return r.json().then(function (b) {
        if (!r.ok) {
          var detail = b.detail;
          if (Array.isArray(detail)) detail = detail.map(function (d) { return d.msg; }).join("; ");
          throw new Error(detail || ("HTTP " + r.status));
        }
        return b;
      });
    }).then(function (user) {
      if (user.initial_password) {
        message.textContent = "";
        var line = document.createElement("span");
        line.textContent = say("用户 " + user.username + " 的密码（只显示这一次）：",
                               "The password of " + user.username + " (shown this once): ");
        var code = document.createElement("code");
        code.id = "initial-password";
        code.textContent = user.initial_password;
        var again = document.createElement("a");
        again.href = window.location.href;
        again.textContent = say(" 已记下，刷新列表", " Noted: refresh the list");
        message.append(line, code, again);
        if (user.grids === 0) {  // (the list marks it 未配网格 too, once reloaded)
          var lone = document.createElement("span");
          lone.className = "wg-no-grids";
          lone.textContent = say(" 注意：该网格员还没有负责的网格，上报会被拒绝；请在网格档案的网格员配备中配置。",
                                 " Note: this grid worker has no grid yet, so their reports are refused; assign some on a grid's page.");
          message.append(lone);
        }
      } else {
        window.location.reload();
      }
    }).catch(function (e) { wanggeSession.say(errorBox, e.message, e); });
  }

  document.getElementById("user-add").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target.elements, payload = { username: f.username.value.trim(), role: f.role.value };
    ["display_name", "region", "worker", "password"].forEach(function (name) {
      var v = name === "password" ? f[name].value : f[name].value.trim();
      if (v) payload[name] = v;
    });
    send("/api/users", payload);
  });

  var edit = document.getElementById("user-edit");
  edit.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = edit.elements;
    var payload = { display_name: f.display_name.value.trim(), role: f.role.value,
                    worker: f.worker.value.trim() };
    if (f.region.value.trim()) payload.region = f.region.value.trim();
    send("/api/users/" + encodeURIComponent(edit.dataset.user), payload, "PATCH");
  });
  document.getElementById("user-edit-cancel").addEventListener("click", function () {
    edit.hidden = true;
  });

  // 登录设备: an account's sessions in force, each with a button that ends it alone
  var panel = document.getElementById("user-sessions");
  var panelRows = document.getElementById("user-sessions-rows");
  var panelNone = document.getElementById("user-sessions-none");
  var panelError = document.getElementById("user-sessions-error");
  var minute = new Intl.DateTimeFormat("sv-SE", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit"
  });
  function when(iso) { return iso ? minute.format(new Date(iso)) : "—"; }
  function failed(r) {
    wanggeSession.check(r);
    return r.json().then(function (b) { throw new Error(b.detail || ("HTTP " + r.status)); },
                         function () { throw new Error("HTTP " + r.status); });
  }
  function showSessions(user) {
    var url = "/api/users/" + encodeURIComponent(user) + "/sessions";
    var headers = { "Accept": "application/json", "Accept-Language": LANG };
    panel.dataset.user = user;
    document.getElementById("user-sessions-name").textContent = user;
    panelError.textContent = "";
    panel.hidden = false;
    return fetch(url, { credentials: "same-origin", headers: headers }).then(function (r) {
      return r.ok ? r.json() : failed(r);
    }).then(function (sessions) {
      panelRows.replaceChildren();
      panelNone.hidden = sessions.length > 0;
      sessions.forEach(function (s) {
        var row = document.createElement("tr");
        row.dataset.session = s.id;
        var device = document.createElement("td");
        device.textContent = s.device;
        device.title = s.user_agent || "";
        row.append(device);
        [when(s.created_at), when(s.last_seen_at), s.source_ip || "—", when(s.expires_at)]
          .forEach(function (text) {
            var cell = document.createElement("td");
            cell.textContent = text;
            row.append(cell);
          });
        var end = document.createElement("button");
        end.type = "button";
        end.textContent = say("结束此登录", "End this session");
        end.addEventListener("click", function () {
          end.disabled = true;
          panelError.textContent = "";
          fetch(url + "/" + encodeURIComponent(s.id), {
            method: "DELETE", credentials: "same-origin", headers: headers
          }).then(function (r) {
            // (404: it ended meanwhile) — either way, the list as it is now
            if (!r.ok && r.status !== 404) return failed(r);
          }).then(function () { return showSessions(user); })
            .catch(function (e) { wanggeSession.say(panelError, e.message, e); end.disabled = false; });
        });
        var actions = document.createElement("td");
        actions.append(end);
        row.append(actions);
        panelRows.append(row);
      });
      panel.scrollIntoView({ block: "nearest" });
    }).catch(function (e) { wanggeSession.say(panelError, e.message, e); });
  }
  document.getElementById("user-sessions-close").addEventListener("click", function () {
    panel.hidden = true;
  });

  document.querySelectorAll("button[data-act]").forEach(function (button) {
    button.addEventListener("click", function () {
      var user = button.dataset.user, act = button.dataset.act;
      var url = "/api/users/" + encodeURIComponent(user) + "/" + act;
      if (act === "edit") {
        var f = edit.elements;
        edit.dataset.user = user;
        document.getElementById("user-edit-name").textContent = user;
        f.display_name.value = button.dataset.displayName;
        f.role.value = button.dataset.role;
        f.region.value = button.dataset.region;
        f.worker.value = button.dataset.worker;
        edit.hidden = false;
        f.display_name.focus();
      } else if (act === "password") {
        var pw = window.prompt(say("为 " + user + " 设置新密码（留空则随机生成）：",
                                   "New password for " + user + " (empty: a random one):"), "");
        if (pw === null) return;
        send(url, pw ? { password: pw } : {});
      } else if (act === "sessions") {
        showSessions(user);
      } else if (act === "logout") {
        if (!window.confirm(say("让 " + user + " 在所有设备（手机、大屏等）上的登录立即失效？账号仍可重新登录。",
                                "End every session of " + user + " (phones, wall screens …) now? The account " +
                                "can log in again."))) return;
        send(url);
      } else if (act === "otp/reset") {
        if (!window.confirm(say("关闭 " + user + " 的动态口令（如手机丢失或更换）？其登录将立即失效，之后凭密码登录并可重新开启。",
                                "Turn off the one-time code of " + user + " (a lost or changed phone)? Their " +
                                "sessions end; they log in with the password and can set it up again."))) return;
        send(url);
      } else if (act === "disable") {
        if (!window.confirm(say("停用 " + user + "？其已登录的会话将立即失效。",
                                "Disable " + user + "? Their sessions end at once."))) return;
        send(url);
      } else {
        send(url);
      }
    });
  });
})();
