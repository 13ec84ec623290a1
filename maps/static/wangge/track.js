/* The public tracking page: the resident's rating (once per case; ≤ 2 or "not solved" reopens). */
(function () {
  "use strict";
  var form = document.getElementById("rating");
  if (!form) return;
  var token = window.location.pathname.split("/").filter(Boolean).pop();
  var english = document.documentElement.lang === "en"; // the page's language, not the browser's
  var T = english ? { failed: "Could not send; please try again later.", offline: "No connection; please try again later." }
                  : { failed: "提交失败，请稍后再试。", offline: "网络不通，请稍后再试。" };
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var out = document.getElementById("rating-result");
    var score = form.querySelector("input[name=score]:checked");
    var payload = {
      score: parseInt(score ? score.value : "5", 10),
      resolved: form.elements.resolved.checked
    };
    var comment = form.elements.comment.value.trim();
    if (comment) payload.comment = comment;
    fetch("/api/track/" + token + "/rating", {
      method: "POST", headers: { "Content-Type": "application/json", "Accept-Language": english ? "en" : "zh-CN" },
      body: JSON.stringify(payload)
    }).then(function (r) {
      return r.json().then(function (b) {
        out.textContent = r.ok ? b.message : (b.detail || T.failed);
        if (r.ok) form.querySelector("button").disabled = true;
      });
    }).catch(function () { out.textContent = T.offline; });
  });
})();
