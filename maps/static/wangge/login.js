/* The login form: POST /api/auth/login (JSON), the server sets the session cookie. */
(function () {
  "use strict";
  var form = document.getElementById("login");
  var error = document.getElementById("error");
  var english = document.documentElement.lang === "en"; // the page's language, not the browser's
  var T = english ? { failed: "Login failed; please try again.", offline: "Cannot reach the server; check the connection and try again." }
                  : { failed: "登录失败，请重试。", offline: "无法连接服务器，请检查网络后重试。" };
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.textContent = "";
    var data = { username: form.username.value, password: form.password.value };
    if (form.dataset.next) data.next = form.dataset.next; // the server says if it is theirs
    var otpField = document.getElementById("otp-field");
    if (!otpField.hidden) data.otp = form.otp.value; // (asked for by the answer below)
    fetch("/api/auth/login", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept-Language": english ? "en" : "zh-CN" },
      body: JSON.stringify(data)
    }).then(function (r) {
      return r.json().then(function (body) {
        if (r.ok) {
          var first = body.password_change_required || body.otp_setup_required; // 我的账号 first
          if (body.otp_recovery_left !== null && body.otp_recovery_left !== undefined) {
            first = true; // a recovery code instead of the app's: 我的账号 says what next
          }
          window.location.assign(
            first ? (body.otp_recovery_left != null ? "/account?via=recovery" : "/account")
                  : (body.next || body.home || "/")); // (a page not theirs: their own first)
          return;
        }
        // 动态口令: its code is asked for, to be checked with the password (right or not: not told)
        if (body && body.code === "otp_required") {
          otpField.hidden = false;
          form.otp.required = true;
          form.otp.focus();
        }
        var detail = body && body.detail;
        error.textContent = typeof detail === "string" ? detail : T.failed;
      });
    }).catch(function () { error.textContent = T.offline; });
  });
})();
