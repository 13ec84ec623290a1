/* The public tracking page: the resident's rating (once per case; ≤ 2 or "not solved" reopens). */
(function () {
  "use strict";
  var form = document.getElementById("rating");
  if (!form) return;
  var token = window.location.pathname.split("/").filter(Boolean).pop();
  var english = document.documentElement.lang === "en"; // the page's language, not the browser's
  var T = english ? { failed: "Could not send; please try again later.", offline: "No connection; please try again later.",
                      choose: "Please choose a score and whether the problem is solved." }
                  : { failed: "提交失败，请稍后再试。", offline: "网络不通，请稍后再试。",
                      choose: "请先选择评分，以及问题是否已经解决。" };
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var out = document.getElementById("rating-result");
    /* each chosen by the resident: nothing is sent in their name that they did not pick */
    var score = form.querySelector("input[name=score]:checked");
    var solved = form.querySelector("input[name=resolved]:checked");
    if (!score || !solved) { out.textContent = T.choose; return; }
    var payload = {
      score: parseInt(score.value, 10),
      resolved: solved.value === "true"
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
