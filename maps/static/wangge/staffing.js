/* 网格员配备 on a grid's record: the ticked grid workers become the grid's (PUT
   /api/grids/{code}/workers), then the page is read again; a refusal is shown as the API words it.
   The page gives the words (data-*): no text here. */
(function () {
  "use strict";
  var box = document.getElementById("grid-staffing");
  if (!box) return;
  var save = document.getElementById("staffing-save");
  var result = document.getElementById("staffing-result");
  var lang = document.documentElement.lang === "en" ? "en" : "zh-CN";
  save.addEventListener("click", function () {
    var ticked = Array.prototype.slice.call(box.querySelectorAll("input[name=worker]:checked"))
      .map(function (i) { return i.value; });
    if (!ticked.length && !window.confirm(box.dataset.confirmEmpty)) return;
    save.disabled = true;
    result.textContent = "";
    fetch("/api/grids/" + encodeURIComponent(box.dataset.grid) + "/workers", {
      method: "PUT", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "Accept-Language": lang },
      body: JSON.stringify({ workers: ticked })
    }).then(function (r) {
      return r.json().then(function (b) {
        if (!r.ok) throw new Error(typeof b.detail === "string" ? b.detail : "HTTP " + r.status);
        result.textContent = box.dataset.saved;
        window.location.reload();
      });
    }).catch(function (e) {
      result.textContent = e.message;
      save.disabled = false;
    });
  });
})();
