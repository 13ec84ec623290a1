/* 网格员配备 on a grid's record: the ticked grid workers become the grid's, each with the part
   chosen beside them (PUT /api/grids/{code}/workers with workers and roles; a part left
   automatic is not sent: the server keeps the one they had, or gives a newcomer one), then the
   page is read again; a refusal is shown as the API words it.  The page gives the words (data-*):
   no text here. */
(function () {
  "use strict";
  var box = document.getElementById("grid-staffing");
  if (!box) return;
  var save = document.getElementById("staffing-save");
  var result = document.getElementById("staffing-result");
  var lang = document.documentElement.lang === "en" ? "en" : "zh-CN";
  function roleOf(code) {
    return box.querySelector('select[name=role][data-worker="' + code + '"]');
  }
  /* a part is chosen for a ticked worker only */
  box.addEventListener("change", function (e) {
    if (e.target.name !== "worker") return;
    var select = roleOf(e.target.value);
    if (select) select.disabled = !e.target.checked;
  });
  save.addEventListener("click", function () {
    var ticked = Array.prototype.slice.call(box.querySelectorAll("input[name=worker]:checked"))
      .map(function (i) { return i.value; });
    if (!ticked.length && !window.confirm(box.dataset.confirmEmpty)) return;
    var roles = {};
    ticked.forEach(function (code) {
      var select = roleOf(code);
      if (select && select.value) roles[code] = select.value;
    });
    save.disabled = true;
    result.textContent = "";
    fetch("/api/grids/" + encodeURIComponent(box.dataset.grid) + "/workers", {
      method: "PUT", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "Accept-Language": lang },
      body: JSON.stringify({ workers: ticked, roles: roles })
    }).then(function (r) {
      wanggeSession.check(r);
      return r.json().then(function (b) {
        if (!r.ok) throw new Error(typeof b.detail === "string" ? b.detail : "HTTP " + r.status);
        result.textContent = box.dataset.saved;
        window.location.reload();
      });
    }).catch(function (e) {
      wanggeSession.say(result, e.message, e);
      save.disabled = false;
    });
  });
})();
