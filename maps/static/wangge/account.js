/* A user's own page: the password change goes to /api/auth/password; the answer is shown.
   动态口令: set up, turned off, its 备用验证码 shown once (after setting up, or made anew).
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
      wanggeSession.check(r);
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
    }).catch(function (e) { wanggeSession.say(errorBox, e.message, e); });
  });

  // 动态口令: set up (the password → a QR code and key → a code of it confirms), or turn off
  var otpError = document.getElementById("otp-error");
  function otpPost(url, body) {
    otpError.textContent = "";
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "Accept-Language": english ? "en" : "zh-CN" },
      body: JSON.stringify(body)
    }).then(function (r) {
      wanggeSession.check(r);
      if (r.status === 204) return {};
      return r.json().then(function (b) {
        if (r.ok) return b;
        var detail = b.detail;
        if (Array.isArray(detail)) detail = detail.map(function (d) { return d.msg; }).join("; ");
        throw new Error(detail || ("HTTP " + r.status));
      });
    }).catch(function (e) { wanggeSession.say(otpError, e.message, e); return null; });
  }
  // 备用验证码: shown once, as the server gave them (the page's only sight of them)
  function showCodes(codes) {
    var list = document.getElementById("otp-code-list");
    list.textContent = "";
    codes.forEach(function (code) {
      var item = document.createElement("li");
      item.textContent = code;
      list.appendChild(item);
    });
    ["otp-setup", "otp-confirm", "otp-off-box", "otp-recovery", "otp-recovery-state",
     "otp-recovery-low"].forEach(function (id) {
      var part = document.getElementById(id);
      if (part) part.hidden = true;
    });
    var state = document.getElementById("otp-state"); // (on now, if it was being set up)
    state.textContent = "";
    state.appendChild(document.createElement("b")).textContent = english ? "On" : "已开启";
    var box = document.getElementById("otp-codes");
    box.hidden = false;
    box.scrollIntoView();
  }
  document.getElementById("otp-print").addEventListener("click", function () { window.print(); });
  var setup = document.getElementById("otp-setup");
  if (setup) {
    var confirmBox = document.getElementById("otp-confirm");
    setup.addEventListener("submit", function (ev) {
      ev.preventDefault();
      otpPost("/api/auth/otp/setup", { password: setup.elements.password.value }).then(function (b) {
        if (!b) return;
        setup.hidden = true;
        // (the server's own SVG of the otpauth:// address: no script in it, drawn as it is)
        document.getElementById("otp-qr").innerHTML = b.qr_svg;
        document.getElementById("otp-secret").textContent = b.secret.replace(/(.{4})/g, "$1 ").trim();
        confirmBox.hidden = false;
        document.getElementById("otp-enable").elements.code.focus();
      });
    });
    document.getElementById("otp-enable").addEventListener("submit", function (ev) {
      ev.preventDefault();
      otpPost("/api/auth/otp/enable", { code: this.elements.code.value }).then(function (b) {
        if (b) showCodes(b.recovery_codes);
      });
    });
  }
  var renew = document.getElementById("otp-recovery-form");
  if (renew) {
    renew.addEventListener("submit", function (ev) {
      ev.preventDefault();
      otpPost("/api/auth/otp/recovery-codes",
              { password: renew.elements.password.value, code: renew.elements.code.value })
        .then(function (b) { if (b) showCodes(b.recovery_codes); });
    });
  }
  var off = document.getElementById("otp-off");
  if (off) {
    off.addEventListener("submit", function (ev) {
      ev.preventDefault();
      otpPost("/api/auth/otp/disable", { password: off.elements.password.value, code: off.elements.code.value })
        .then(function (b) { if (b) window.location.assign("/account"); });
    });
  }

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
        wanggeSession.check(r);
        if (r.ok || r.status === 404) { window.location.reload(); return; } // (404: ended already)
        return r.json().then(function (b) {
          sessionError.textContent = b.detail || ("HTTP " + r.status);
          button.disabled = false;
        });
      }).catch(function (e) { wanggeSession.say(sessionError, e.message, e); button.disabled = false; });
    });
  });
})();
