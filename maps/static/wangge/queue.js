/* The desk's in-tray: while it stays open, the list is checked every minute (and whenever the
   page comes back into view) against GET /api/queue with the page's filters; when it has
   changed, a line above the list says so, with a link to show it again, and the tab's title
   counts the new cases (a desk works in other tabs meanwhile).  Nothing reloads by itself: an
   operator reading a row keeps it where it is. */
(function () {
  "use strict";
  var main = document.querySelector("main[data-poll]");
  if (!main) return;
  var english = document.documentElement.lang === "en";
  var url = main.dataset.poll, shown = parseInt(main.dataset.total, 10);
  var every = parseInt(main.dataset.pollMs, 10) || 60000;
  var notice = document.getElementById("queue-changed");
  var title = document.title, busy = false;

  function check() {
    if (busy || document.hidden) return;
    busy = true;
    /* (a check of the page's own, not the operator's doing: it keeps no session alive) */
    fetch(url, { credentials: "same-origin",
                 headers: { "Accept": "application/json", "X-Wangge-Background": "1" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (q) {
        if (!q || q.total === shown) return;
        var more = q.total - shown;
        notice.hidden = false;
        notice.querySelector("span").textContent = english
          ? "The list has changed: " + q.total + (q.total === 1 ? " case" : " cases") + " now (" + (more > 0 ? more + " more" : -more + " fewer") + "). "
          : "列表已有变化：现共 " + q.total + " 件（" + (more > 0 ? "新增 " + more : "减少 " + -more) + " 件）。";
        document.title = (more > 0 ? "(+" + more + ") " : "") + title;
      })
      .catch(function () { /* offline for a moment: the next check */ })
      .then(function () { busy = false; });
  }
  setInterval(check, every);
  document.addEventListener("visibilitychange", check);
  window.wgQueueCheck = check;  /* (for tests) */

  /* 批量受理 / 批量派遣 / 批量结案: the cases ticked are accepted, dispatched to their category's
     own department, or closed once verified, one after the other, each through its own action
     (its own checks, its own history and audit entry); what was refused says why, by case.  A
     button counts the ticked cases it applies to (data-actions on each box). */
  var all = document.getElementById("pick-all");
  var buttons = Array.prototype.slice.call(document.querySelectorAll(".wg-bulk-move"));
  if (!all || !buttons.length) return;
  var result = document.getElementById("bulk-result");
  var DONE = { accept: english ? "Accepted" : "已受理", dispatch: english ? "Dispatched" : "已派遣",
               close: english ? "Closed" : "已结案" };
  var DOING = { accept: english ? "Accepting" : "正在受理", dispatch: english ? "Dispatching" : "正在派遣",
                close: english ? "Closing" : "正在结案" };
  function boxes() { return Array.prototype.slice.call(document.querySelectorAll(".wg-pick")); }
  function picked(action) {
    return boxes().filter(function (b) {
      return b.checked && (!action || b.dataset.actions.split(" ").indexOf(action) >= 0);
    });
  }
  function update() {
    buttons.forEach(function (button) {
      var n = picked(button.dataset.action).length;
      button.disabled = n === 0;
      button.querySelector(".wg-picked").textContent = n ? "(" + n + ")" : "";
    });
    all.checked = picked().length > 0 && picked().length === boxes().length;
  }
  all.addEventListener("change", function () {
    boxes().forEach(function (b) { b.checked = all.checked; });
    update();
  });
  boxes().forEach(function (b) { b.addEventListener("change", update); });
  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      var action = button.dataset.action;
      var codes = picked(action).map(function (b) { return b.value; });
      var done = 0, refused = [];
      buttons.forEach(function (b) { b.disabled = true; });
      codes.reduce(function (chain, code, i) {
        return chain.then(function () {
          result.textContent = english ? DOING[action] + " " + (i + 1) + " of " + codes.length + " …"
                                       : DOING[action] + "第 " + (i + 1) + "/" + codes.length + " 件……";
          return fetch("/api/cases/" + code + "/actions", {
            method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", "Accept": "application/json",
                       "Accept-Language": english ? "en" : "zh-CN" },
            body: JSON.stringify({ action: action })
          }).then(function (r) {
            wanggeSession.check(r);  /* (the session ended: the rest are not sent) */
            if (r.ok) {  /* (unpicked: a second press after a login sends only the rest) */
              done += 1;
              boxes().forEach(function (b) { if (b.value === code) b.checked = false; });
              return r.text();
            }  /* (read: a reload would abort it) */
            return r.json().then(function (b) { refused.push(code + (english ? ": " : "：") + (b.detail || r.status)); },
                                 function () { refused.push(code + ": HTTP " + r.status); });
          }, function () { refused.push(code + (english ? ": no network" : "：网络不通")); });
        });
      }, Promise.resolve()).then(function () {
        if (!refused.length) { window.location.reload(); return; }
        result.textContent = (english ? DONE[action] + " " + done + "; refused: " : DONE[action] + " " + done + " 件；未办成：")
          + refused.join(english ? "; " : "；");
        notice.hidden = false;  /* (the list to show again, as it stands now) */
        notice.querySelector("span").textContent = "";
      }).catch(function (e) {  /* the session ended: those done are said, the rest stay picked */
        wanggeSession.say(result, (english ? DONE[action] + " " + done + ". " : DONE[action] + " " + done + " 件。") + e.message, e);
        update();
      });
    });
  });
  update();
})();
