/* A desk's form sent after its session ended (401: 30 idle minutes, and typing is no request):
   nothing was sent, what the page holds stays where it is, and the login opens in another tab,
   not over this page (which would lose it); the same button then sends it again.
   wanggeSession.check(r) throws for such a reply; wanggeSession.say(box, text, e) shows a
   message, with the link to log in when `e` is such a refusal.  In the page's language. */
(function () {
  "use strict";
  var english = document.documentElement.lang === "en";
  var EXPIRED = english
    ? "Your login has expired: nothing was sent, and what you entered is still here. Log in again in a new tab, then send it again from this page."
    : "登录已超时，未能提交；填写的内容仍在本页。请在新标签页重新登录后，回到本页再次提交。";
  var LOG_IN_AGAIN = english ? "Log in again (new tab)" : "重新登录（新标签页）";

  function ended() {
    var e = new Error(EXPIRED);
    e.login = true;
    return e;
  }
  function check(r) {
    if (r.status === 401) throw ended();
    return r;
  }
  function say(box, text, e) {
    box.textContent = text;
    if (!e || !e.login) return;
    var link = document.createElement("a");
    link.href = "/login"; link.target = "_blank"; link.rel = "noopener";
    link.className = "wg-login-again"; link.textContent = LOG_IN_AGAIN;
    box.appendChild(document.createTextNode(" "));
    box.appendChild(link);
  }
  window.wanggeSession = { check: check, ended: ended, say: say, EXPIRED: EXPIRED };
})();
