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
          ? "The list has changed: " + q.total + " cases now (" + (more > 0 ? more + " more" : -more + " fewer") + "). "
          : "列表已有变化：现共 " + q.total + " 件（" + (more > 0 ? "新增 " + more : "减少 " + -more) + " 件）。";
        document.title = (more > 0 ? "(+" + more + ") " : "") + title;
      })
      .catch(function () { /* offline for a moment: the next check */ })
      .then(function () { busy = false; });
  }
  setInterval(check, every);
  document.addEventListener("visibilitychange", check);
  window.wgQueueCheck = check;  /* (for tests) */
})();
