/* The login form: POST /api/auth/login (JSON), the server sets the session cookie. */
(function () {
  "use strict";
  var form = document.getElementById("login");
  var error = document.getElementById("error");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.textContent = "";
    var data = { username: form.username.value, password: form.password.value };
    fetch("/api/auth/login", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(data)
    }).then(function (r) {
      return r.json().then(function (body) {
        if (r.ok) { window.location.assign(form.dataset.next || body.home || "/"); return; }
        var detail = body && body.detail;
        error.textContent = typeof detail === "string" ? detail : "登录失败，请重试。";
      });
    }).catch(function () { error.textContent = "无法连接服务器，请检查网络后重试。"; });
  });
})();
