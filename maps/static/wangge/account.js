/* A user's own page: the password change goes to /api/auth/password; the answer is shown.
   我的登录: a session of mine elsewhere is ended through DELETE /api/auth/sessions/{id}. */
(function () {
  "use strict";
  var english = document.documentElement.lang === "en"; // the page's language
  var form = document.getElementById("password-form");
  var errorBox = document.getElementById("password-error");
  var done = document.getElementById("password-done");

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = form.elements;
    errorBox.textContent = "";
    done.hidden = true;
    if (f.new_password.value !== f.repeat.value) {
      errorBox.textContent = english ? "The two new passwords differ." : "两次输入的新密码不一致。";
      return;
    }
    fetch("/api/auth/password", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "Accept-Language": english ? "en" : "zh-CN" },
      body: JSON.stringify({ current_password: f.current_password.value,
                             new_password: f.new_password.value })
    }).then(function (r) {
      if (r.ok) {
        form.reset();
        done.hidden = false;
        return;
      }
      return r.json().then(function (b) {
        var detail = b.detail;
        if (Array.isArray(detail)) detail = detail.map(function (d) { return d.msg; }).join("; ");
        errorBox.textContent = detail || ("HTTP " + r.status);
      });
    }).catch(function (e) { errorBox.textContent = e.message; });
  });

  // 我的登录: end a session of mine elsewhere (a wall screen, a phone); the list is read again
  var sessionError = document.getElementById("session-error");
  document.querySelectorAll(".wg-end-session").forEach(function (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      sessionError.textContent = "";
      fetch("/api/auth/sessions/" + encodeURIComponent(button.dataset.session), {
        method: "DELETE", credentials: "same-origin",
        headers: { "Accept": "application/json", "Accept-Language": english ? "en" : "zh-CN" }
      }).then(function (r) {
        if (r.ok || r.status === 404) { window.location.reload(); return; } // (404: ended already)
        return r.json().then(function (b) {
          sessionError.textContent = b.detail || ("HTTP " + r.status);
          button.disabled = false;
        });
      }).catch(function (e) { sessionError.textContent = e.message; button.disabled = false; });
    });
  });
})();
