/* The administrator's page of user accounts: each change goes to /api/users… and the answer is
   shown.  A password set at random is shown once, here, and the page is not reloaded until the
   administrator has taken it down; other changes reload the list. */
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
      } else {
        window.location.reload();
      }
    }).catch(function (e) { errorBox.textContent = e.message; });
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
      } else if (act === "logout") {
        if (!window.confirm(say("让 " + user + " 在所有设备（手机、大屏等）上的登录立即失效？账号仍可重新登录。",
                                "End every session of " + user + " (phones, wall screens …) now? The account " +
                                "can log in again."))) return;
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
