/* 网格员手机页：我的网格、我的位置、上报表单、我的上报、离线队列。
 *
 * Every report is saved on the device first (IndexedDB, with its photos and its own UUID as
 * Idempotency-Key), then sent.  Without signal it stays queued; when the connection returns the
 * queue goes out through POST /api/reports/batch.  A report whose answer was lost is sent again
 * under the same key and the server answers with the original case ("replayed"): nothing is lost
 * and nothing is created twice.  Photos follow through POST /api/cases/{code}/photos, one photo
 * a request, once the queued reports have gone (the server keeps one copy of a photo sent twice).
 * They are made smaller before they are queued (config.photo_max_px, JPEG): on one bar of signal
 * a camera's 5 MB would never arrive.
 *
 * Each queued report keeps the account it was made under: on a phone that two workers share, a
 * report goes out only while its own account is logged in, never under another's name.
 *
 * A long queue goes out oldest first, config.batch_max reports a request, one request after the
 * other.  A request that gets no answer within config.send_timeout_ms is given up (on one bar
 * of signal the browser may wait for minutes) and tried again at the next sync; a photo gets
 * more time by its size (config.slow_link_bytes_per_s).
 *
 * 巡查打卡 (a grid worker, config.patrol): a check-in takes the phone's own position at that
 * moment (never a tap on the map: it says where the worker was) and the device's time, and joins
 * the same queue (type "patrol") under its own UUID; at each sync the queued check-ins go first,
 * through POST /api/patrols/batch (they are small, and must not wait behind photos).  Photos of
 * what was seen (up to config.patrol_max_photos) are queued with the check-in, made smaller like
 * a report's, and follow through POST /api/patrols/{id}/photos once it has gone.
 *
 * 现场核查 (a grid worker): a resolved case of my grids, in 我的网格待办, is verified on the spot —
 * put right or not, and what was found — and joins the queue too (type "verify"), sent through
 * POST /api/cases/{code}/verify after the check-ins.  Sent again after a lost answer, the server
 * answers as the first time (a replay); refused (the desk reopened or closed it meanwhile), it
 * stays with the server's reason until the worker deletes it.  Photos of how the place is now
 * (整改后, up to config.verify_max_photos) are queued with it and follow to the case, as a
 * report's do.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("config").textContent);
  var form = document.getElementById("report");
  var message = document.getElementById("message");
  var net = document.getElementById("net");
  var where = document.getElementById("where");
  var queueList = document.getElementById("queue");
  var mineList = document.getElementById("mine");
  var T = config.text; // the page's words in its language (maps/phone.py)
  var STATUS = config.states; // state → name, as the centers' pages name them
  var LANG = config.lang; // the API answers (messages, categories) in the page's language
  var COLON = LANG === "en" ? ": " : "："; // (an English page has no Chinese punctuation)
  var BATCH_MAX = config.batch_max || 500;
  var SEND_TIMEOUT_MS = config.send_timeout_ms || 60000;
  var SLOW_BYTES_PER_MS = (config.slow_link_bytes_per_s || 2000) / 1000;
  var SYNC_INTERVAL_MS = config.sync_interval_ms || 15000;
  var MINE_REFRESH_MS = config.mine_refresh_ms || 300000;
  var fill = wangge.fill; // the page's words filled in (1 case, not 1 cases)
  // {lon, lat, datum, accuracy_m} (and datum_name when typed); or, a desk's report of a place
  // no one could show, {region, region_name}: filed by its village or street
  var position = null;
  var marker = null;
  var syncing = false;
  var moved = false; // a sync sent something: my reports have changed
  var patrolsMoved = false; // a sync sent check-ins: today's list has changed
  var PATROL_BATCH_MAX = config.patrol_batch_max || 500;
  var mineAt = 0; // when my reports were read last

  // ---------- small helpers ----------
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }
  function isoNow() { // device time with its offset, e.g. 2026-11-21T09:30:00+08:00
    var d = new Date(), off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-";
    function p(n) { return (n < 10 ? "0" : "") + n; }
    off = Math.abs(off);
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" +
      p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()) +
      sign + p(Math.floor(off / 60)) + ":" + p(off % 60);
  }
  function say(text, isError) {
    message.textContent = text;
    message.className = "m-message" + (isError ? " error" : "");
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // The session ended while the page was open (an answer was 401): to the login page — unless a
  // report is being written, which would be thrown away.  Then the page stays and says so, with
  // a link to the login page; the report submitted meanwhile waits on the phone.
  var LOGIN_URL = "/login?next=" + encodeURIComponent("/m/");
  var loggedOut = false;
  function login() {
    if (loggedOut) return;
    loggedOut = true;
    var writing = form.description.value.trim() || chosen.length || partyList.children.length;
    if (!writing) { window.location.assign(LOGIN_URL); return; }
    var notice = el("p", "m-expired", T.session_expired + " ");
    notice.setAttribute("role", "alert");
    var again = el("a", "", T.login_again);
    again.href = LOGIN_URL;
    notice.appendChild(again);
    form.parentNode.insertBefore(notice, form);
  }

  // ---------- the queue and the draft's photos (IndexedDB) ----------
  var dbPromise = new Promise(function (resolve, reject) {
    var req = indexedDB.open("wangge-phone", 2);
    req.onupgradeneeded = function () { // 1: the queue; 2: the photos of the draft, by account
      var names = req.result.objectStoreNames;
      if (!names.contains("queue")) req.result.createObjectStore("queue", { keyPath: "key" });
      if (!names.contains("draft")) req.result.createObjectStore("draft", { keyPath: "account" });
    };
    req.onsuccess = function () {
      // (a newer page in another tab needs the database upgraded: let it, and reload this one)
      req.result.onversionchange = function () { req.result.close(); window.location.reload(); };
      resolve(req.result);
    };
    req.onerror = function () { reject(req.error); };
  });
  function store(mode, fn, name) {
    name = name || "queue";
    return dbPromise.then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(name, mode);
        var result = fn(tx.objectStore(name));
        tx.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }
  function everyQueued() { return store("readonly", function (s) { return s.getAll(); }); }
  // (a report queued before reports kept their account counts as the logged-in account's)
  function mine(item) { return !item.account || item.account === config.account; }
  function myQueued() { return everyQueued().then(function (items) { return items.filter(mine); }); }
  function put(item) { return store("readwrite", function (s) { s.put(item); }); }
  function drop(key) { return store("readwrite", function (s) { s.delete(key); }); }

  var verifyQueued = {}; // case code → true: its 现场核查 waits in the queue
  var locateQueued = {}; // case code → true: its 补充位置 waits in the queue
  function renderQueue() {
    return everyQueued().then(function (every) {
      var items = every.filter(mine);
      var waiting = {}, placing = {};
      items.forEach(function (i) {
        if (i.type === "verify" && i.state === "queued") waiting[i.code] = true;
        if (i.type === "locate" && i.state === "queued") placing[i.code] = true;
      });
      var changed = Object.keys(waiting).join() !== Object.keys(verifyQueued).join();
      var placed = Object.keys(placing).join() !== Object.keys(locateQueued).join();
      verifyQueued = waiting;
      locateQueued = placing;
      if (changed && gridOpenLast) renderGridOpen(gridOpenLast);
      if (placed && unplacedLast) renderUnplaced(unplacedLast);
      queueList.textContent = "";
      items.sort(function (a, b) { return a.created - b.created; });
      items.forEach(function (item) {
        var refused = item.state === "rejected" || item.state === "photos_refused";
        var li = el("li", refused ? "rejected" : "");
        li.dataset.key = item.key;
        li.appendChild(el("span", "st", item.state === "rejected" ? T.rejected :
          item.state === "photos_refused" ? T.photos_refused :
          item.state === "photos" ? T.photos_pending : T.queued));
        if (item.type === "patrol") {
          li.appendChild(el("span", "", T.patrol_item + (item.body.note ? COLON + item.body.note.slice(0, 30) : "")));
          li.appendChild(el("small", "", item.detail || item.body.checked_at));
        } else if (item.type === "note") {
          li.appendChild(el("span", "", T.note_item + " " + item.code));
          li.appendChild(el("small", "", item.detail || item.body.note.slice(0, 40)));
        } else if (item.type === "locate") {
          li.appendChild(el("span", "", T.locate_item + " " + item.code));
          li.appendChild(el("small", "", item.detail || ""));
        } else if (item.type === "verify") {
          li.appendChild(el("span", "", T.verify_item + " " + item.code + " · " +
                                        (item.body.resolved ? T.verify_yes : T.verify_no)));
          li.appendChild(el("small", "", item.detail || item.body.note || ""));
        } else {
          li.appendChild(el("span", "", item.body.description.slice(0, 40)));
          li.appendChild(el("small", "", item.detail || item.body.reported_at));
        }
        if (refused) { // kept until the worker has read why, and deletes it
          var del = el("button", "", T.delete);
          del.type = "button";
          del.addEventListener("click", function () { drop(item.key).then(renderQueue); });
          li.appendChild(del);
        }
        queueList.appendChild(li);
      });
      if (!items.length) queueList.appendChild(el("li", "", T.none));
      var others = every.length - items.length;
      if (others) queueList.appendChild(el("li", "others", fill(T.others_waiting, { n: others })));
    });
  }

  // ---------- sending ----------
  function send(url, options, ms) { // fetch, given up after ms (SEND_TIMEOUT_MS) without an answer
    if (!window.AbortController) return fetch(url, options);
    var abort = new AbortController();
    var timer = setTimeout(function () { abort.abort(); }, ms || SEND_TIMEOUT_MS);
    return fetch(url, Object.assign({ signal: abort.signal }, options)).then(function (r) {
      clearTimeout(timer); return r;
    }, function (e) { clearTimeout(timer); throw e; });
  }

  // A registered report's photos, one a request, oldest first.  Each one sent leaves the item;
  // refused (a 4xx: too large, not an image …), its reason is kept; not sent (no answer, 5xx,
  // logged out), it stays, and so do the photos after it, to be sent at the next sync.  With
  // none left the item leaves the queue, unless some were refused: then it stays with the
  // server's reasons until the worker deletes it.  Resolves false when sending should stop.
  function sendPhotos(item) {
    var photos = item.photos || [];
    if (!photos.length) return finishPhotos(item).then(function () { return true; });
    var photo = photos[0], data = new FormData();
    data.append("photos", photo.blob, photo.name);
    // (a check-in's photos go to the check-in: photo_url, set when it was sent)
    var url = item.photo_url || "/api/cases/" + encodeURIComponent(item.code) + "/photos";
    return send(url, {
      method: "POST", credentials: "same-origin", body: data, headers: { "Accept-Language": LANG }
    }, SEND_TIMEOUT_MS + Math.ceil((photo.blob.size || 0) / SLOW_BYTES_PER_MS)).then(function (r) {
      if (r.ok) return null;
      if (r.status === 401) { login(); return false; }
      if (r.status < 400 || r.status >= 500) return false;
      return r.json().catch(function () { return {}; }).then(function (e) {
        return typeof e.detail === "string" ? e.detail : "HTTP " + r.status;
      });
    }, function () { return false; }).then(function (refused) {
      if (refused === false) return false;
      moved = moved || !refused;
      if (!refused && item.type === "patrol") patrolsMoved = true; // (its thumbnails to show)
      if (refused) item.refused = (item.refused || []).concat([refused]);
      item.photos = photos.slice(1);
      return put(item).then(function () { return sendPhotos(item); });
    });
  }
  function finishPhotos(item) {
    if (!item.refused || !item.refused.length) return drop(item.key);
    item.state = "photos_refused";
    item.detail = fill(T.photos_refused_detail, { code: item.code, reason: item.refused.join(LANG === "en" ? "; " : "；") });
    return put(item);
  }
  function sendAllPhotos() {
    return myQueued().then(function (items) {
      var waiting = items.filter(function (i) { return i.state === "photos"; });
      waiting.sort(function (a, b) { return a.created - b.created; });
      return waiting.reduce(function (chain, item) {
        return chain.then(function (go) { return go === false ? false : sendPhotos(item); });
      }, Promise.resolve(true));
    });
  }

  // The queued check-ins, config.patrol_batch_max a request, oldest first.  Created or replayed,
  // one leaves the queue; rejected (or its key taken by other content), it stays with the
  // server's reason until the worker deletes it.  Resolves "away" when logged out, "more" when
  // a longer queue than one batch moved.
  function sendPatrols() {
    return myQueued().then(function (items) {
      var pending = items.filter(function (i) { return i.state === "queued" && i.type === "patrol"; });
      if (!pending.length) return null;
      pending.sort(function (a, b) { return a.created - b.created; });
      var more = pending.length > PATROL_BATCH_MAX;
      pending = pending.slice(0, PATROL_BATCH_MAX);
      var body = JSON.stringify({ patrols: pending.map(function (i) { return Object.assign({ idempotency_key: i.key }, i.body); }) });
      // (check-ins with their routes may weigh a few hundred KB: the time allowed grows with
      // them, as a photo's does, so that a slow link still gets them through)
      return send("/api/patrols/batch", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "Accept-Language": LANG },
        body: body
      }, SEND_TIMEOUT_MS + Math.ceil(body.length / SLOW_BYTES_PER_MS)).then(function (r) {
        if (r.status === 401) { login(); return "away"; }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json().then(function (out) {
          return Promise.all(out.results.map(function (res) {
            var item = pending[res.index];
            if (res.status === "created" || res.status === "replayed") {
              if (item.photos && item.photos.length) { // (sent after the reports, as theirs)
                item.state = "photos"; item.photo_url = "/api/patrols/" + res.patrol.id + "/photos";
                item.code = T.patrol_item + " " + clock(item.body.checked_at);
                return put(item);
              }
              return drop(item.key);
            }
            item.state = "rejected"; item.detail = res.detail;
            return put(item);
          })).then(function () {
            var sent = out.created + out.replayed;
            if (sent) { patrolsMoved = true; sayPatrol(fill(T.patrols_sent, { n: sent })); }
            return more && sent + out.rejected + out.conflict > 0 ? "more" : null;
          });
        });
      });
    });
  }

  // The queued items of `type` (a verification, a place), one a request, oldest first: POSTed
  // to url(item) with the item's body.  Answered (made, or the same one replayed), done(item,
  // answer) takes it off the queue (a promise); refused (4xx: the case moved on meanwhile …),
  // it stays with the server's reason until the worker deletes it; no answer or a 5xx: it
  // stays, and so do those after it, for the next sync.  Resolves "away" when logged out, else
  // how many were answered.
  function sendEach(type, url, done) {
    return myQueued().then(function (items) {
      var pending = items.filter(function (i) { return i.state === "queued" && i.type === type; });
      pending.sort(function (a, b) { return a.created - b.created; });
      var sent = 0;
      return pending.reduce(function (chain, item) {
        return chain.then(function (go) {
          if (go !== true) return go;
          return send(url(item), {
            method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", "Accept": "application/json", "Accept-Language": LANG },
            body: JSON.stringify(item.body)
          }).then(function (r) {
            if (r.status === 401) { login(); return "away"; }
            if (r.status >= 500) return false;
            return r.json().catch(function () { return {}; }).then(function (b) {
              if (r.ok) {
                sent += 1; moved = true;
                return done(item, b).then(function () { return true; });
              }
              item.state = "rejected";
              item.detail = item.code + COLON + (typeof b.detail === "string" ? b.detail : "HTTP " + r.status);
              return put(item).then(function () { return true; });
            });
          }, function () { return false; });
        });
      }, Promise.resolve(true)).then(function (go) { return go === "away" ? "away" : sent; });
    });
  }
  function caseUrl(action) {
    return function (item) { return "/api/cases/" + encodeURIComponent(item.code) + "/" + action; };
  }

  // The queued verifications (现场核查): their photos follow, as a report's
  function sendVerifies() {
    return sendEach("verify", caseUrl("verify"), function (item) {
      if (!item.photos || !item.photos.length) return drop(item.key);
      item.state = "photos";
      return put(item);
    }).then(function (sent) {
      if (sent === "away") return "away";
      if (sent) say(fill(T.verify_sent, { n: sent }));
      return null;
    });
  }

  // The queued places of cases filed by their village (补充位置); the same point sent again (its
  // answer lost) is answered as the first.  (Once answered, the case is one of my grids' open
  // cases: `moved` reads them again.)
  function sendLocates() {
    return sendEach("locate", caseUrl("location"), function (item, b) {
      say(fill(T.unplaced_done, { code: item.code, grid: (config.grid_names || {})[b.grid_code] || b.grid_code }));
      return drop(item.key);
    }).then(function (sent) { return sent === "away" ? "away" : null; });
  }

  // The queued 现场记录 (notes); the same note sent again (its answer lost) is not written twice
  function sendNotes() {
    return sendEach("note", caseUrl("notes"), function (item) { return drop(item.key); })
      .then(function (sent) {
        if (sent === "away") return "away";
        if (sent) say(fill(T.notes_sent, { n: sent }));
        return null;
      });
  }

  // The queued check-ins go first (sendPatrols), then the reports, config.batch_max a request
  // (each one's photos wait in the queue with its case code), then the photos: a slow photo
  // never holds up a report.
  function sync() {
    if (syncing || loggedOut || !navigator.onLine) return Promise.resolve();
    syncing = true;
    var more = false; // a longer queue than one batch: the next batch follows at once
    var away = false; // logged out: the login page is on its way
    return sendPatrols().then(function (step) {
      if (step === "away") { away = true; return null; }
      if (step === "more") more = true;
      return sendVerifies();
    }).then(function (step) {
      if (step === "away") away = true;
      return away ? null : sendLocates();
    }).then(function (step) {
      if (step === "away") away = true;
      return away ? null : sendNotes();
    }).then(function (step) {
      if (step === "away") away = true;
      return away ? [] : myQueued();
    }).then(function (items) {
      var pending = items.filter(function (i) { return i.state === "queued" && !i.type; });
      pending.sort(function (a, b) { return a.created - b.created; });
      more = more || pending.length > BATCH_MAX;
      pending = pending.slice(0, BATCH_MAX);
      if (!pending.length || away) return;
      var body = { reports: pending.map(function (i) { return Object.assign({ idempotency_key: i.key }, i.body); }) };
      return send("/api/reports/batch", {
        method: "POST", credentials: "same-origin",
        // each case brief (code, state, grid, deadline, link): a tenth of the whole answer
        headers: { "Content-Type": "application/json", "Accept": "application/json", "Accept-Language": LANG,
                   "Prefer": "return=minimal" },
        body: JSON.stringify(body)
      }).then(function (r) {
        if (r.status === 401) { more = false; away = true; login(); return; }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json().then(function (out) {
          var steps = out.results.map(function (res) {
            var item = pending[res.index];
            if (res.status === "created" || res.status === "replayed") {
              if (item.photos && item.photos.length) {
                item.state = "photos"; item.code = res.case.code;
                return put(item);
              }
              return drop(item.key);
            }
            if (res.status === "rejected") {
              item.state = "rejected"; item.detail = res.detail;
              return put(item);
            }
            return null; // conflict: in flight elsewhere, try again later
          });
          // (the next batch only if this one moved the queue: conflicts alone wait for later)
          more = more && out.created + out.replayed + out.rejected > 0;
          moved = moved || out.created + out.replayed > 0;
          return Promise.all(steps).then(function () {
            say(fill(T.sent, { n: out.created + out.replayed }));
          });
        });
      });
    }).then(function () {
      if (!more && !away) return renderQueue().then(sendAllPhotos);
    }).catch(function () {
      // no connection or the answer was lost: everything stays queued, sent again later
      more = false;
    }).then(function () {
      syncing = false;
      if (more) return renderQueue().then(sync);
      // my reports: read again when this sync sent something, else every MINE_REFRESH_MS (the
      // sync runs every SYNC_INTERVAL_MS: thousands of phones must not read them that often)
      var stale = moved || (!mineReading && Date.now() - mineAt >= MINE_REFRESH_MS);
      var patrolled = patrolsMoved;
      moved = false; patrolsMoved = false;
      return Promise.all([renderQueue(), stale ? loadMine() : null,
                          patrolled || stale ? loadPatrols() : null]);
    });
  }

  // ---------- my reports ----------
  var mineReading = false; // (a sync that ends meanwhile does not ask again)
  function loadMine() {
    // (not kept on the phone: without an answer, the list shown stays, or says why it is empty)
    if (!navigator.onLine) { mineUnknown(); showGridOpenKept(); showUnplacedKept(); return Promise.resolve(); }
    mineReading = true;
    return fetch("/api/cases?mine=true&limit=20", {
      credentials: "same-origin", headers: { "Accept": "application/json", "Accept-Language": LANG }
    }).then(function (r) {
      if (r.status === 401) { login(); return; }
      if (!r.ok) { mineUnknown(); return; }
      return r.json().then(function (fc) { mineAt = Date.now(); renderMine(fc); });
    }).catch(mineUnknown).then(loadGridOpen).then(loadUnplaced)
      .then(function () { mineReading = false; });
  }
  // A grid worker's own grids' open cases (the hotline's and the desks' too), read with my
  // reports: the worker goes to look at them on the spot.  The resolved ones first (待核查: the
  // worker verifies them on the spot, here or on the case's page), then the overdue ones.
  var gridOpenList = document.getElementById("grid-open");
  var gridOpenShown = false;
  var gridOpenLast = null; // the last answer, drawn again when a verification is queued or sent
  // The last answer is kept on the phone, by account: opened where there is no signal, the page
  // still lists my grids' cases as last read (the resolved ones to verify on the spot), and says
  // when that was.  (Codes, states, categories, grids and times only: no one's name or words.)
  var GRID_OPEN_KEPT = "wangge-grid-open " + config.account;
  var KEPT_PROPERTIES = ["code", "status", "overdue", "category", "category_name", "grid_code", "received_at",
                         "verify_due", "version", "repeat", "possible_duplicate"];
  var gridOpenKeptAt = null; // shown from the phone: when it was read
  // A list as read, kept on the phone under `key` (its cases' KEPT_PROPERTIES only, and when)
  function keepList(key, fc) {
    var kept = { type: "FeatureCollection", features: fc.features.map(function (f) {
      var keep = {};
      KEPT_PROPERTIES.forEach(function (k) { keep[k] = f.properties[k]; });
      return { type: "Feature", geometry: null, properties: keep };
    }) };
    try {
      localStorage.setItem(key, JSON.stringify({ at: Date.now(), fc: kept }));
    } catch (e) { /* storage full or refused: shown all the same */ }
    return kept;
  }
  function keptList(key) { // { at, fc }, or null
    var kept = null;
    try { kept = JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { kept = null; }
    return kept && kept.fc ? kept : null;
  }
  function showGridOpenKept() {
    if (gridOpenShown || !gridOpenList) return false;
    var kept = keptList(GRID_OPEN_KEPT);
    if (!kept) return false;
    gridOpenKeptAt = kept.at;
    renderGridOpen(kept.fc);
    return true;
  }
  function loadGridOpen() {
    if (!gridOpenList || !config.grids || !config.grids.length) return null;
    var query = config.grids.map(function (g) { return "grid=" + encodeURIComponent(g); });
    return fetch("/api/cases?status=open&status=to_verify&limit=50&" + query.join("&"), {
      credentials: "same-origin", headers: { "Accept": "application/json", "Accept-Language": LANG }
    }).then(function (r) {
      if (!r.ok) return null;
      return r.json().then(function (fc) {
        gridOpenKeptAt = null;
        keepList(GRID_OPEN_KEPT, fc);
        renderGridOpen(fc);
      });
    }).catch(function () {
      if (gridOpenShown || showGridOpenKept()) return;
      gridOpenList.textContent = "";
      gridOpenList.appendChild(el("li", "unknown", T.mine_offline));
    });
  }
  // 待查明位置: the open cases of my village filed by its name (a caller who could not say
  // where); standing at the place, the worker gives it from the phone's position.  Where there
  // is no signal the position waits in the queue (sendLocates), and the list as last read is
  // kept on the phone, by account, as my grids' cases are (codes, states, categories, times).
  var unplacedList = document.getElementById("unplaced");
  var UNPLACED_KEPT = "wangge-unplaced " + config.account;
  var unplacedLast = null; // the last list drawn, drawn again when a position is queued or sent
  function loadUnplaced() {
    if (!unplacedList) return null;
    return fetch("/api/cases?status=open&unplaced=true&limit=20", {
      credentials: "same-origin", headers: { "Accept": "application/json", "Accept-Language": LANG }
    }).then(function (r) {
      if (!r.ok) return null;
      return r.json().then(function (fc) {
        var kept = keepList(UNPLACED_KEPT, fc);
        renderUnplaced(kept);
      });
    }).catch(showUnplacedKept);
  }
  function showUnplacedKept() {
    if (unplacedLast || !unplacedList) return;
    var kept = keptList(UNPLACED_KEPT);
    if (kept) renderUnplaced(kept.fc);
  }
  function renderUnplaced(fc) {
    unplacedLast = fc;
    unplacedList.textContent = "";
    fc.features.forEach(function (f) {
      var p = f.properties;
      var li = caseLine(el("li"), p, el("span", "st", STATUS[p.status] || p.status), "");
      li.appendChild(el("small", "", p.received_at.slice(0, 16).replace("T", " ")));
      var said = el("small", "m-unplaced-said");
      if (locateQueued[p.code]) {
        said.textContent = T.unplaced_queued;
      } else {
        var here = el("button", "m-unplaced-here m-ico m-ico-pin", T.unplaced_here);
        here.type = "button";
        here.addEventListener("click", function () { giveHere(p, here, said); });
        li.appendChild(here);
        if (map) { // (or on the map: the worker who can see the place from where they stand)
          var onMap = el("button", "m-unplaced-tap m-ico m-ico-map", T.unplaced_tap);
          onMap.type = "button";
          onMap.addEventListener("click", function () { tapFor(p, said); });
          li.appendChild(onMap);
        }
      }
      li.appendChild(said);
      unplacedList.appendChild(li);
    });
    if (!fc.features.length) unplacedList.appendChild(el("li", "", T.no_reports));
  }
  // The phone's position, kept in the queue and sent with it (no version: where the case
  // happened does not depend on how far it has been handled meanwhile)
  function giveHere(p, button, said) {
    if (!navigator.geolocation) { said.textContent = T.unplaced_no_fix; return; }
    button.disabled = true;
    said.textContent = T.locating;
    placing = null;
    navigator.geolocation.getCurrentPosition(function (fix) {
      queuePlace(p, { lon: fix.coords.longitude, lat: fix.coords.latitude, datum: "wgs84",
                      accuracy_m: fix.coords.accuracy }, said, button);
    }, function () {
      button.disabled = false;
      said.textContent = T.unplaced_no_fix;
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 });
  }
  function queuePlace(p, location, said, button) {
    var item = { key: uuid(), created: Date.now(), state: "queued", account: config.account,
                 type: "locate", code: p.code, body: { location: location } };
    put(item).then(function () {
      say(navigator.onLine && !loggedOut ? T.unplaced_saved : T.unplaced_saved_offline);
      return renderQueue().then(sync);
    }, function () { if (button) button.disabled = false; said.textContent = T.save_failed; });
  }
  // 在地图上点选: the next tap on the map is the case's place, not the report's (asked again:
  // the tap goes back to the report)
  var placing = null; // { p, said }: the case whose place the next tap gives
  function tapFor(p, said) {
    if (placing && placing.p.code === p.code) {
      placing = null; said.textContent = ""; say("");
      return;
    }
    if (placing) placing.said.textContent = "";
    placing = { p: p, said: said };
    said.textContent = fill(T.unplaced_tap_now, { code: p.code });
    say(said.textContent);
    map.getContainer().scrollIntoView({ block: "center" });
  }

  function renderGridOpen(fc) {
    gridOpenShown = true;
    gridOpenLast = fc;
    // (drawn again after a sync: a verification form being filled in stays open, as typed)
    var typing = {};
    gridOpenList.querySelectorAll("li[data-code] .m-verify").forEach(function (panel) {
      typing[panel.parentNode.dataset.code] = { open: !panel.hidden, note: panel.querySelector("textarea").value };
    });
    var noting = {}; // (and a 现场记录 being written)
    gridOpenList.querySelectorAll("li[data-code] .m-note").forEach(function (panel) {
      noting[panel.parentNode.dataset.code] = { open: !panel.hidden, note: panel.querySelector("textarea").value };
    });
    gridOpenList.textContent = "";
    if (gridOpenKeptAt) {
      var at = new Date(gridOpenKeptAt);
      var when = ("0" + (at.getMonth() + 1)).slice(-2) + "-" + ("0" + at.getDate()).slice(-2) + " " +
        clock(at.toISOString());
      gridOpenList.appendChild(el("li", "unknown", fill(T.grid_open_kept, { time: when })));
    }
    // (a verification's due time is judged here, by the phone's clock: a list kept since
    // yesterday tells what is late today)
    function verifyLate(p) { return p.status === "resolved" && !!p.verify_due && Date.parse(p.verify_due) < Date.now(); }
    function rank(p) { return p.status === "resolved" ? (verifyLate(p) ? 3 : 2) : p.overdue ? 1 : 0; }
    var features = fc.features.slice().sort(function (a, b) {
      return rank(b.properties) - rank(a.properties);
    });
    features.forEach(function (f) {
      var p = f.properties, verify = p.status === "resolved";
      var li = caseLine(el("li", verify ? "verify" + (verifyLate(p) ? " late" : "") : p.overdue ? "rejected" : ""), p,
        el("span", "st", verify ? T.to_verify + (verifyLate(p) ? " · " + T.verify_late : "")
          : (STATUS[p.status] || p.status) + (p.overdue ? " · " + T.overdue : "")), "");
      // the in-tray's marks: the same trouble again at a place or from a resident (高频), and a
      // report the desk may yet find to be this one's duplicate (疑似重复) — worth knowing on the spot
      [["repeat", T.repeat_mark, T.repeat_title], ["possible_duplicate", T.duplicate_mark, T.duplicate_title]]
        .forEach(function (m) {
          if (!p[m[0]]) return;
          var badge = el("span", "m-badge m-" + m[0].replace("_", "-"), m[1]);
          badge.title = m[2];
          li.appendChild(badge);
        });
      var grid = (config.grid_names || {})[p.grid_code] || p.grid_code || "";
      li.appendChild(el("small", "", grid + " " + p.received_at.slice(0, 16).replace("T", " ")));
      if (verify && p.verify_due) {
        li.appendChild(el("small", "m-verify-due", fill(T.verify_due, {
          time: p.verify_due.slice(5, 16).replace("T", " ") })));
      }
      if (verify && config.can_verify) {
        if (verifyQueued[p.code]) li.appendChild(el("small", "m-verify-queued", T.verify_queued));
        else verifyPanel(li, p.code, p.version, typing[p.code]);
      }
      // (a resolved one's findings go with its verification)
      if (config.can_note && !verify) notePanel(li, p.code, noting[p.code]);
      gridOpenList.appendChild(li);
    });
    if (!features.length) gridOpenList.appendChild(el("li", "", T.no_reports));
    var late = features.filter(function (f) { return f.properties.overdue; }).length;
    var toVerify = features.filter(function (f) { return f.properties.status === "resolved"; }).length;
    var verifyLateN = features.filter(function (f) { return verifyLate(f.properties); }).length;
    var count = document.getElementById("grid-open-count");
    if (count) count.textContent = fill(late ? T.grid_open_late : T.grid_open_count,
                                        { n: features.length - toVerify, late: late })
      + (toVerify ? fill(verifyLateN ? T.grid_open_verify_late : T.grid_open_verify,
                         { n: toVerify, late: verifyLateN }) : "");
  }
  // 现场核查 of one resolved case: put right, or not (then what was found is required); queued
  // like a report, so that it is kept where there is no signal.  It is sent with the case's
  // version as listed: the desk reopened and resolved it again meanwhile, it is refused (and
  // kept, with the reason) rather than taken for the new round, which the worker has not seen
  var VERIFY_MAX_PHOTOS = config.verify_max_photos || 3;
  var verifyChosen = {}; // case code → the photos chosen for its verification, until queued
  function verifyPanel(li, code, version, was) {
    var parts = panelOf(li, "m-verify", T.verify_open, "verify_note", T.verify_hint, was);
    var panel = parts.panel, note = parts.note, error = parts.error;
    // 整改后: photos of how it is now (optional), kept while the list is drawn again
    var files = verifyChosen[code] = verifyChosen[code] || [];
    var add = el("label", "m-add-photo", T.verify_add_photo);
    var input = el("input");
    input.type = "file"; input.name = "verify_photos"; input.multiple = true;
    input.accept = "image/jpeg,image/png,image/webp";
    add.appendChild(input);
    var chosenHere = el("ul", "m-chosen");
    function showChosen() { renderPhotoList(chosenHere, files, showChosen, false); }
    input.addEventListener("change", function () {
      var more = Array.prototype.slice.call(input.files || []);
      input.value = "";
      if (files.length + more.length > VERIFY_MAX_PHOTOS) error.textContent = T.too_many_verify_photos;
      Array.prototype.push.apply(files, more.slice(0, VERIFY_MAX_PHOTOS - files.length));
      showChosen();
    });
    panel.appendChild(add);
    panel.appendChild(chosenHere);
    showChosen();
    [[true, T.verify_yes], [false, T.verify_no]].forEach(function (choice) {
      var b = el("button", choice[0] ? "m-verify-yes" : "m-verify-no", choice[1]);
      b.type = "button";
      b.addEventListener("click", function () {
        var said = note.value.trim();
        if (!choice[0] && !said) { error.textContent = T.verify_need_note; return; }
        var item = { key: uuid(), created: Date.now(), state: "queued", account: config.account,
                     type: "verify", code: code, body: { resolved: choice[0] } };
        if (typeof version === "number") item.body.version = version;
        if (said) item.body.note = said;
        var buttons = panel.querySelectorAll("button");
        function enable(on) { Array.prototype.forEach.call(buttons, function (x) { x.disabled = !on; }); }
        enable(false); // (one verification a case: not both answers on a double tap)
        shrinkAll(files.slice()).then(function (photos) {
          if (photos.length) item.photos = photos;
          return put(item);
        }).then(function () {
          delete verifyChosen[code];
          say(navigator.onLine && !loggedOut ? T.verify_saved : T.verify_saved_offline);
          return renderQueue().then(sync);
        }, function () { enable(true); error.textContent = T.save_failed; });
      });
      panel.appendChild(b);
    });
    panel.appendChild(error);
  }

  // A list item's panel: its button (opens and closes it), a text box (as typed before the list
  // was drawn again: `was`) and a line for what is wrong; the caller adds the rest
  function panelOf(li, cls, openText, name, hint, was, icon) {
    var open = el("button", cls + "-open" + (icon ? " " + icon : ""), openText);
    open.type = "button";
    var panel = el("div", cls);
    panel.hidden = !(was && was.open);
    var note = el("textarea");
    note.name = name; note.rows = 2; note.maxLength = 2000; note.placeholder = hint;
    if (was) note.value = was.note;
    var error = el("p", "m-error");
    error.setAttribute("role", "alert");
    panel.appendChild(note);
    open.addEventListener("click", function () { panel.hidden = !panel.hidden; });
    li.appendChild(open);
    li.appendChild(panel);
    return { panel: panel, note: note, error: error };
  }

  // 现场记录: what the worker found at a case of their grids (a visit, what the parties said),
  // into its history as a note (办理记录) — queued, as a verification is, and sent with the rest
  function notePanel(li, code, was) {
    var parts = panelOf(li, "m-note", T.note_open, "site_note", T.note_hint, was, "m-ico m-ico-note");
    var panel = parts.panel, note = parts.note, error = parts.error;
    var save = el("button", "m-note-save", T.note_save);
    save.type = "button";
    save.addEventListener("click", function () {
      var said = note.value.trim();
      if (!said) { error.textContent = T.note_need; return; }
      save.disabled = true; // (one note a tap: not two on a double tap)
      put({ key: uuid(), created: Date.now(), state: "queued", account: config.account,
            type: "note", code: code, body: { note: said } }).then(function () {
        note.value = ""; panel.hidden = true; save.disabled = false; error.textContent = "";
        say(navigator.onLine && !loggedOut ? T.note_saved : T.note_saved_offline);
        return renderQueue().then(sync);
      }, function () { save.disabled = false; error.textContent = T.save_failed; });
    });
    panel.appendChild(save);
    panel.appendChild(error);
  }
  function mineUnknown() {
    if (mineShown) return;
    mineList.textContent = "";
    mineList.appendChild(el("li", "unknown", T.mine_offline));
  }
  // A case's line in the phone's lists: `li` (of the case's code) with its state `st`, its
  // category and its code, a link to the case's page (`page` appended: its receipt …)
  function caseLine(li, p, st, page) {
    li.dataset.code = p.code;
    li.appendChild(st);
    li.appendChild(el("span", "", categoryName(p.category, p.category_name) + " · "));
    var link = el("a", "", p.code);
    link.href = "/cases/" + encodeURIComponent(p.code) + page;
    li.appendChild(link);
    return li;
  }
  var mineShown = null; // the last answer, drawn again when the category names arrive
  function renderMine(fc) {
    mineShown = fc;
    mineList.textContent = "";
    fc.features.forEach(function (f) {
      var p = f.properties;
      var st = el("span", "st", p.merged_into ? T.merged : STATUS[p.status] || p.status);
      if (p.merged_into) st.title = T.merged_into.replace("{code}", p.merged_into);
      // (its link: the receipt with the case's QR code, for the resident)
      var li = caseLine(el("li"), p, st, "/receipt");
      li.appendChild(el("small", "", (p.description || "") + " " + p.received_at.slice(0, 16).replace("T", " ")));
      if (p.merged_into) li.appendChild(el("small", "", T.merged_into.replace("{code}", p.merged_into)));
      mineList.appendChild(li);
    });
    if (!fc.features.length) mineList.appendChild(el("li", "", T.no_reports));
  }

  // ---------- form ----------
  var categories = [];
  function categoryName(code, fallback) {
    var c = categories.filter(function (x) { return x.code === code; })[0];
    return c ? (LANG === "en" ? c.name_en : c.name_zh) : fallback;
  }
  function fillCategories() { // (the category chosen stays, when the list is read again)
    var kind = form.kind.value, select = form.category, chosen = draftCategory || select.value;
    select.textContent = "";
    categories.filter(function (c) { return c.kind === kind; }).forEach(function (c) {
      var o = el("option", "", LANG === "en" ? c.name_en : c.name_zh); o.value = c.code; select.appendChild(o);
      if (c.code === chosen) { o.selected = true; draftCategory = null; }
    });
    if (form.on_site) showOnSite();
  }
  function loadCategories() {
    var cached = localStorage.getItem("wangge-categories");
    if (cached) { categories = JSON.parse(cached); fillCategories(); }
    return fetch("/api/categories", { credentials: "same-origin", headers: { "Accept": "application/json", "Accept-Language": LANG } })
      .then(function (r) { if (r.status === 401) { login(); return; } return r.ok ? r.json() : null; })
      .then(function (list) {
        if (!list) return;
        categories = list;
        localStorage.setItem("wangge-categories", JSON.stringify(list));
        fillCategories();
        if (mineShown) renderMine(mineShown);
      }).catch(function () { /* offline: the cached catalogue serves */ });
  }
  form.kind.addEventListener("change", function () { draftCategory = null; fillCategories(); });

  // 就地化解: a minor or normal matter the reporter settled there and then (the server's rule:
  // a category graver by default is the center's, and a report queued offline must not be
  // refused for it later)
  var ON_SITE_SEVERITIES = config.on_site_severities;
  function onSiteAllowed() {
    var code = form.category.value;
    var c = categories.filter(function (x) { return x.code === code; })[0];
    return !c || ON_SITE_SEVERITIES.indexOf(c.default_severity) >= 0;
  }
  function showOnSite() {
    var allowed = onSiteAllowed();
    if (!allowed) form.on_site.checked = false;
    form.on_site.disabled = !allowed;
    document.getElementById("on-site-grave").hidden = allowed;
    form.on_site_resolution.hidden = !form.on_site.checked;
  }
  form.on_site.addEventListener("change", showOnSite);
  form.category.addEventListener("change", showOnSite);
  form.kind.addEventListener("change", showOnSite);

  // ---------- draft ----------
  // What is being written is kept on the phone as it is typed, under the account (the browser
  // may drop the page while the camera is open, on a phone short of memory), and put back when
  // the page opens again within DRAFT_MAX_AGE_MS.  Submitted, it is forgotten.  The words, kind,
  // category, source (a desk's) and position are kept in localStorage; the photos chosen, too
  // big for it, in IndexedDB ("draft", as they were chosen: made smaller only when the report is
  // saved).
  var DRAFT = "wangge-draft:" + config.account;
  var DRAFT_MAX_AGE_MS = 24 * 3600 * 1000;
  var draftCategory = null; // a restored draft's category, until the catalogue has it
  function saveDraft() {
    try {
      var text = form.description.value;
      if (!text.trim()) { localStorage.removeItem(DRAFT); return; }
      localStorage.setItem(DRAFT, JSON.stringify({
        kind: form.kind.value, category: form.category.value || draftCategory,
        source: form.source ? form.source.value : null,
        source_ref: form.source_ref ? form.source_ref.value : null,
        on_site: form.on_site.checked, on_site_resolution: form.on_site_resolution.value,
        parties: partyRows().map(function (r) {
          return { role: r.role, name: r.name, phone: r.phone, id_card: r.id_card };
        }),
        description: text, position: position, at: Date.now()
      }));
    } catch (e) { /* storage full or refused: the form works without */ }
  }
  function restoreDraft() {
    var draft = null;
    try { draft = JSON.parse(localStorage.getItem(DRAFT) || "null"); } catch (e) { draft = null; }
    restoreDraftPhotos(!!(draft && draft.description));
    if (!draft || !draft.description || !(Date.now() - draft.at < DRAFT_MAX_AGE_MS)) {
      try { localStorage.removeItem(DRAFT); } catch (e) { /* none kept */ }
      return;
    }
    if (draft.kind) form.kind.value = draft.kind;
    if (draft.source && form.source) form.source.value = draft.source;
    if (draft.source_ref && form.source_ref) form.source_ref.value = draft.source_ref;
    form.on_site.checked = !!draft.on_site;
    form.on_site_resolution.value = draft.on_site_resolution || "";
    partyList.textContent = "";
    (draft.parties || []).forEach(addParty);
    draftCategory = draft.category || null;
    fillCategories();
    form.description.value = draft.description;
    if (draft.position) {
      var kept = draft.position;
      if (kept.region) setRegion(kept.region, kept.region_name);
      else setPosition(kept.lon, kept.lat, kept.accuracy_m, kept.datum, kept.datum_name);
    }
    say(T.draft_restored);
  }
  function dropDraft() {
    try { localStorage.removeItem(DRAFT); } catch (e) { /* none kept */ }
    saveDraftPhotos([]);
  }
  function saveDraftPhotos(files) {
    return store("readwrite", function (s) {
      if (files.length) s.put({ account: config.account, files: files, at: Date.now() });
      else s.delete(config.account);
    }, "draft").catch(function () { /* storage full or refused: the form works without */ });
  }
  // (`told`: the words were put back and said so already)
  function restoreDraftPhotos(told) {
    store("readonly", function (s) { return s.get(config.account); }, "draft").then(function (kept) {
      if (!kept || !kept.files || !kept.files.length) return;
      if (!(Date.now() - kept.at < DRAFT_MAX_AGE_MS)) { saveDraftPhotos([]); return; }
      // (before any photo chosen meanwhile)
      chosen = kept.files.concat(chosen).slice(0, MAX_PHOTOS);
      renderChosen();
      if (!told) say(T.draft_restored);
    }).catch(function () { /* none kept */ });
  }
  form.addEventListener("input", saveDraft);
  form.addEventListener("change", saveDraft);

  // `datum`: the point's (a desk types what a map app showed it: GCJ-02, BD-09); it is sent as
  // it was given and converted by the server, and drawn here where it is in WGS 84
  function setPosition(lon, lat, accuracy, datum, datumName) {
    datum = datum || "wgs84";
    position = { lon: lon, lat: lat, datum: datum, accuracy_m: accuracy };
    if (datumName) position.datum_name = datumName;
    where.textContent = fill(T.position, { lon: lon.toFixed(6), lat: lat.toFixed(6) }) +
      (accuracy != null ? fill(T.accuracy, { m: Math.round(accuracy) })
        : datum !== "wgs84" || datumName ? fill(T.typed, { datum: datumName || datum }) : T.picked);
    var at = wangge.toWgs84(lon, lat, datum);
    if (map) {  // (drawn where the base tiles show it: GCJ-02 tiles, shifted)
      var drawn = wangge.toMap(at[1], at[0]);
      if (marker) marker.setLatLng(drawn); else marker = L.marker(drawn).addTo(map);
      wangge.phoneMarker = marker;  // (for tests)
      if (datumName) map.setView(drawn, Math.max(map.getZoom(), 15));
    }
    saveDraft();
  }
  // A desk's caller, or a resident at the desk, who cannot show the place: the village or street
  // found with 地名查找 is offered (config: a desk's page only), and the case is filed by it —
  // no point, no marker (the server files it by the region's chain and center)
  var useRegion = document.getElementById("use-region");
  var foundPlace = null;
  function offerRegion(place) {
    if (!useRegion) return;
    foundPlace = place && (place.kind === "village" || place.kind === "township") ? place : null;
    useRegion.parentNode.hidden = !foundPlace;
    if (foundPlace) useRegion.textContent = fill(T.by_region, { name: foundPlace.name });
  }
  function setRegion(code, name) {
    position = { region: code, region_name: name };
    where.textContent = fill(T.by_region_set, { name: name });
    if (marker && map) { map.removeLayer(marker); }
    marker = null; wangge.phoneMarker = null;
    saveDraft();
  }
  if (useRegion) {
    useRegion.addEventListener("click", function () {
      if (foundPlace) setRegion(foundPlace.code, foundPlace.name);
    });
  }
  var useCoords = document.getElementById("use-coords");
  if (useCoords) {  // (a center's desk)
    useCoords.addEventListener("click", function () {
      var parts = form.coords.value.trim().split(/[\s,，;；]+/).filter(Boolean).map(Number);
      var ok = parts.length === 2 && parts.every(function (v) { return isFinite(v); });
      if (!ok) { say(T.bad_coords, true); return; }
      var choice = form.coords_datum.options[form.coords_datum.selectedIndex];
      if (!choice || !choice.value) { say(T.choose_datum, true); form.coords_datum.focus(); return; }
      // (the server says so if they look swapped or lie outside the area)
      setPosition(parts[0], parts[1], null, choice.value, choice.text);
    });
  }
  document.getElementById("locate").addEventListener("click", function () {
    if (!navigator.geolocation) { say(T.no_geolocation, true); return; }
    where.textContent = T.locating;
    navigator.geolocation.getCurrentPosition(function (p) {
      setPosition(p.coords.longitude, p.coords.latitude, p.coords.accuracy);
    }, function () {
      where.textContent = T.locate_failed;
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
  });

  // ---------- the people involved (当事人) ----------
  // Rows of role, name, phone and ID-card number; a row left empty is not sent.  The phone and
  // the ID number are checked here by the server's rules (gis/pii.py): a report sent offline
  // and refused for a mistyped number would have to be written again.
  var MAX_PARTIES = config.max_parties || 20;
  var partyList = document.getElementById("parties");
  function addParty(kept) {
    kept = kept || {};
    if (partyList.children.length >= MAX_PARTIES) {
      say(fill(T.too_many_parties, { n: MAX_PARTIES }), true);
      return null;
    }
    var li = el("li", "m-party");
    var role = el("select");
    role.name = "party_role"; role.setAttribute("aria-label", T.party_role);
    config.party_roles.forEach(function (r) {
      var option = el("option", "", r[1]); option.value = r[0]; role.appendChild(option);
    });
    role.value = kept.role || config.party_roles[0][0];
    function field(name, label, value, type, max) {
      var input = el("input");
      input.name = name; input.type = type; input.maxLength = max; input.autocomplete = "off";
      input.placeholder = label; input.setAttribute("aria-label", label);
      input.value = value || "";
      return input;
    }
    var name = field("party_name", T.party_name, kept.name, "text", 50);
    var phone = field("party_phone", T.party_phone, kept.phone, "tel", 20);
    phone.inputMode = "tel";
    var idCard = field("party_id_card", T.party_id_card, kept.id_card, "text", 18);
    var out = el("button", "m-party-out", T.remove_party);
    out.type = "button";
    out.addEventListener("click", function () { li.remove(); saveDraft(); });
    [role, name, phone, idCard, out].forEach(function (e) { li.appendChild(e); });
    partyList.appendChild(li);
    return li;
  }
  document.getElementById("add-party").addEventListener("click", function () {
    var li = addParty();
    if (li) li.querySelector("[name=party_name]").focus();
  });
  function partyRows() {
    return Array.prototype.map.call(partyList.children, function (li) {
      function v(n) { return li.querySelector("[name=" + n + "]").value.trim(); }
      return { role: v("party_role"), name: v("party_name"), phone: v("party_phone"),
               id_card: v("party_id_card"), li: li };
    });
  }
  function normalPhone(value) { // as gis.pii.normalize_phone: full-width, spaces, +86 …
    var d = (value.normalize ? value.normalize("NFKC") : value).replace(/[\s\-–—()]/g, "");
    ["+86", "0086"].forEach(function (p) { if (d.indexOf(p) === 0) d = d.slice(p.length); });
    if (d.length === 13 && d.indexOf("861") === 0) d = d.slice(2);
    return d;
  }
  function goodPhone(value) {
    var d = normalPhone(value);
    return /^1[3-9]\d{9}$/.test(d) || /^0\d{2,3}\d{7,8}$/.test(d);
  }
  function goodIdCard(value) { // GB 11643: 17 digits and a check character
    var v = value.toUpperCase();
    if (!/^\d{17}[\dX]$/.test(v)) return false;
    var weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], sum = 0;
    for (var i = 0; i < 17; i++) sum += Number(v[i]) * weights[i];
    return "10X98765432"[sum % 11] === v[17];
  }
  // The rows to send ({role, name, phone, id_card}, empty fields left out), or null when one is
  // wrong (said, and its field in focus).
  function partiesToSend() {
    var out = [], rows = partyRows().filter(function (r) { return r.name || r.phone || r.id_card; });
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i], bad = null;
      if (r.phone && !goodPhone(r.phone)) bad = ["party_phone", T.bad_party_phone];
      else if (r.id_card && !goodIdCard(r.id_card)) bad = ["party_id_card", T.bad_party_id_card];
      if (bad) {
        var input = r.li.querySelector("[name=" + bad[0] + "]");
        input.setAttribute("aria-invalid", "true");
        input.focus();
        say(fill(bad[1], { n: i + 1 }), true);
        return null;
      }
      var party = { role: r.role };
      ["name", "phone", "id_card"].forEach(function (k) { if (r[k]) party[k] = r[k]; });
      out.push(party);
    }
    return out;
  }
  partyList.addEventListener("input", function (event) {
    event.target.removeAttribute("aria-invalid");
  });

  // Each choice adds to the photos chosen (a camera gives one photo a choice), up to
  // config.max_photos, each shown with a button that takes it out again.
  var MAX_PHOTOS = config.max_photos || 6;
  var chosen = []; // the files chosen, in order
  var chosenList = document.getElementById("chosen");
  // The photos chosen (a report's, a check-in's) in ``list``: each shown, with a button that takes
  // it out of ``files`` again and then calls ``removed``.
  function renderPhotoList(list, files, removed, named) {
    Array.prototype.forEach.call(list.querySelectorAll("img"), function (img) {
      URL.revokeObjectURL(img.src);
    });
    list.textContent = "";
    files.forEach(function (file, i) {
      var li = el("li");
      if (window.URL && URL.createObjectURL) {
        var img = el("img");
        img.src = URL.createObjectURL(file); img.alt = file.name;
        li.appendChild(img);
      }
      if (named) li.appendChild(el("span", "", file.name));
      var out = el("button", "", T.remove_photo);
      out.type = "button";
      out.addEventListener("click", function () { files.splice(i, 1); removed(); });
      li.appendChild(out);
      list.appendChild(li);
    });
  }
  function renderChosen() {
    renderPhotoList(chosenList, chosen, function () { renderChosen(); saveDraftPhotos(chosen); }, true);
  }
  // The photos as they are queued ({name, blob} each, made smaller: shrink), one after the
  // other: a phone short of memory might drop the page decoding six at once.
  function shrinkAll(files) {
    return files.reduce(function (chain, file) {
      return chain.then(function (photos) {
        return shrink(file).then(function (photo) { return photos.concat([photo]); });
      });
    }, Promise.resolve([]));
  }
  form.photos.addEventListener("change", function () {
    var files = Array.prototype.slice.call(form.photos.files || []);
    form.photos.value = ""; // (so that a photo taken out may be chosen again)
    if (chosen.length + files.length > MAX_PHOTOS) say(T.too_many_photos, true);
    chosen = chosen.concat(files).slice(0, MAX_PHOTOS);
    renderChosen();
    saveDraftPhotos(chosen);
  });

  // (one report a tap: while its photos are made smaller, a second tap would make a second report)
  var submitButton = form.querySelector("button[type=submit]");
  var saving = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (saving) return;
    if (!position) { say(T.need_position, true); return; }
    var description = form.description.value.trim();
    if (!description) { say(T.need_description, true); return; }
    // a center's desk says where each case came from (a grid worker's reports are their own)
    if (form.source && !form.source.value) { say(T.need_source, true); return; }
    var settled = form.on_site.checked && onSiteAllowed();
    var resolution = form.on_site_resolution.value.trim();
    if (settled && !resolution) { say(T.need_on_site, true); form.on_site_resolution.focus(); return; }
    var parties = partiesToSend();
    if (!parties) return;
    var files = chosen.slice(0, MAX_PHOTOS);
    var item = {
      key: uuid(), created: Date.now(), state: "queued", account: config.account,
      body: {
        kind: form.kind.value, category: form.category.value, description: description,
        reported_at: isoNow()
      }
    };
    if (position.region) item.body.region = position.region;  // (a desk's: no point known)
    else item.body.location = { lon: position.lon, lat: position.lat, datum: position.datum,
                                accuracy_m: position.accuracy_m };
    if (form.source) item.body.source = form.source.value;
    if (parties.length) item.body.parties = parties;
    if (settled) item.body.on_site_resolution = resolution;
    if (form.source_ref && form.source_ref.value.trim()) {
      item.body.source_ref = form.source_ref.value.trim();
    }
    saving = true; submitButton.disabled = true;
    if (files.length) say(T.saving);
    shrinkAll(files).then(function (photos) {
      item.photos = photos;
      return put(item);
    }).then(function () {
      form.description.value = ""; chosen = []; renderChosen();
      if (form.source) form.source.value = ""; // each case its own: asked again
      if (form.source_ref) form.source_ref.value = "";
      form.on_site.checked = false; form.on_site_resolution.value = ""; showOnSite();
      if (form.coords) {  // (the next call's place is its own, and so is its map app)
        form.coords.value = "";
        form.coords_datum.value = "";
      }
      partyList.textContent = "";
      dropDraft();
      saving = false; submitButton.disabled = false;
      say(loggedOut ? T.saved_logged_out : navigator.onLine ? T.saved_sending : T.saved_offline);
      return renderQueue().then(sync);
    }, function () {
      saving = false; submitButton.disabled = false;
      say(T.save_failed, true);
    });
  });

  // A photo as it will be queued: {name, blob}, made smaller (wangge.shrinkPhoto) when longer
  // than config.photo_max_px or larger than config.photo_keep_bytes
  function shrink(file) {
    return wangge.shrinkPhoto(file, config.photo_max_px || 1920, config.photo_keep_bytes,
                              config.photo_quality || 0.85);
  }

  // ---------- 巡查打卡 ----------
  var patrolMessage = document.getElementById("patrol-message");
  var patrolList = document.getElementById("patrols");
  var patrolCount = document.getElementById("patrol-count");
  var checkIn = document.getElementById("check-in");
  var patrolLayer = null; // today's check-ins on the map
  var walkedToday = {}; // my grids with a check-in of mine today (green on the map)
  function gridStyle(f) {
    var own = (config.grids || []).indexOf(f.properties.code) >= 0;
    var walked = own && walkedToday[f.properties.code];
    return { color: walked ? "#1e8449" : own ? "#b03a2e" : "#7f8c8d", weight: own ? 3 : 1,
             fillColor: walked ? "#1e8449" : own ? "#b03a2e" : "#7f8c8d",
             fillOpacity: walked ? 0.25 : own ? 0.12 : 0.03 };
  }
  function sayPatrol(text, isError) {
    if (!patrolMessage) return;
    patrolMessage.textContent = text;
    patrolMessage.className = "m-message" + (isError ? " error" : "");
  }
  function clock(iso) { // HH:MM of an ISO time, in this phone's time zone
    var d = new Date(iso);
    return (d.getHours() < 10 ? "0" : "") + d.getHours() + ":" + (d.getMinutes() < 10 ? "0" : "") + d.getMinutes();
  }
  function loadPatrols() {
    if (!config.patrol || !navigator.onLine) return Promise.resolve();
    return fetch("/api/patrols", {
      credentials: "same-origin", headers: { "Accept": "application/geo+json", "Accept-Language": LANG }
    }).then(function (r) {
      if (r.status === 401) { login(); return null; }
      return r.ok ? r.json() : null;
    }).then(function (fc) { if (fc) renderPatrols(fc); }).catch(function () { /* offline */ });
  }
  function renderPatrols(fc) {
    patrolList.textContent = "";
    var features = fc.features.slice().reverse(); // the latest first
    var mine = config.grids || [];
    walkedToday = {};
    fc.features.forEach(function (f) {
      if (mine.indexOf(f.properties.grid_code) >= 0) walkedToday[f.properties.grid_code] = true;
    });
    var patrolGrids = document.getElementById("patrol-grids");
    if (patrolGrids) {
      patrolGrids.textContent = mine.length ? fill(T.patrol_grids, {
        n: mine.filter(function (g) { return walkedToday[g]; }).length, all: mine.length }) : "";
    }
    if (wangge.phoneGrids) wangge.phoneGrids.setStyle(gridStyle);
    patrolCount.textContent = features.length ? fill(T.patrols_count, { n: features.length }) : "";
    if (!features.length) patrolList.appendChild(el("li", "", T.patrols_none));
    features.forEach(function (f) {
      var p = f.properties, li = el("li");
      li.appendChild(el("b", "", clock(p.checked_at)));
      li.appendChild(document.createTextNode(" " + (p.grid_name || p.grid_code || "")));
      if (p.own_grid === false) {
        li.appendChild(el("span", "m-away", p.grid_code ? T.patrol_outside : T.patrol_no_grid));
      }
      if (p.note) li.appendChild(el("small", "", p.note));
      if (p.photos && p.photos.length) {
        var thumbs = el("span", "m-thumbs");
        p.photos.forEach(function (ph) {
          var a = el("a"), img = el("img");
          a.href = ph.url; a.target = "_blank"; img.src = ph.thumb_url; img.alt = T.patrol_photo;
          img.loading = "lazy"; a.appendChild(img); thumbs.appendChild(a);
        });
        li.appendChild(thumbs);
      }
      patrolList.appendChild(li);
    });
    if (map && window.L) {
      if (patrolLayer) map.removeLayer(patrolLayer);
      var drawn = fc.features.map(function (f) {
        var c = f.geometry.coordinates;
        return L.circleMarker(wangge.toMap(c[1], c[0]), {
          radius: 5, color: "#1e8449", weight: 2, fillOpacity: 0.7
        }).bindTooltip(clock(f.properties.checked_at));
      });
      fc.features.forEach(function (f) { // the ways walked to them (巡查轨迹)
        if (!f.properties.track) return;
        var line = f.properties.track.map(function (c) { return wangge.toMap(c[1], c[0]); });
        drawn.push(L.polyline(line, { color: "#1e8449", weight: 3, opacity: 0.6 }));
        // the stretches not counted as patrolled (faster than an e-bike: a ride, a jump)
        (f.properties.track_fast || []).forEach(function (i) {
          drawn.push(L.polyline([line[i], line[i + 1]], { color: "#fff", weight: 5, opacity: 1 }));
          drawn.push(L.polyline([line[i], line[i + 1]], { color: "#7f8c8d", weight: 3, dashArray: "4 6" })
            .bindTooltip(T.track_fast));
        });
      });
      patrolLayer = L.layerGroup(drawn).addTo(map);
      wangge.patrolLayer = patrolLayer; // (for tests)
    }
  }
  // The photos of what was seen, chosen before the check-in (config.patrol_max_photos); made
  // smaller and queued with it, sent to it once it has gone (as a report's are).  Until the
  // check-in is made they are kept on the phone with its note, as a report's draft is (the
  // browser may drop the page while the camera is open, or the fix may not come): in IndexedDB
  // ("draft", under the account's key and " patrol"), put back when the page opens again within
  // DRAFT_MAX_AGE_MS, forgotten once the check-in is queued.
  var PATROL_MAX_PHOTOS = config.patrol_max_photos || 3;
  var PATROL_DRAFT = config.account + " patrol";
  var patrolChosen = [];
  var patrolChosenList = document.getElementById("patrol-chosen");
  var patrolPhotos = document.querySelector("[name=patrol_photos]");
  var patrolNote = document.querySelector("[name=patrol_note]");
  function savePatrolDraft() {
    var note = patrolNote ? patrolNote.value : "";
    return store("readwrite", function (s) {
      if (patrolChosen.length || note.trim()) {
        s.put({ account: PATROL_DRAFT, files: patrolChosen.slice(), note: note, at: Date.now() });
      } else s.delete(PATROL_DRAFT);
    }, "draft").catch(function () { /* storage full or refused: the check-in works without */ });
  }
  function renderPatrolChosen() {
    renderPhotoList(patrolChosenList, patrolChosen, renderPatrolChosen, false);
    savePatrolDraft();
  }
  if (patrolPhotos) {
    patrolPhotos.addEventListener("change", function () {
      var files = Array.prototype.slice.call(patrolPhotos.files || []);
      patrolPhotos.value = "";
      if (patrolChosen.length + files.length > PATROL_MAX_PHOTOS) sayPatrol(T.too_many_patrol_photos, true);
      patrolChosen = patrolChosen.concat(files).slice(0, PATROL_MAX_PHOTOS);
      renderPatrolChosen();
    });
    patrolNote.addEventListener("input", savePatrolDraft);
    store("readonly", function (s) { return s.get(PATROL_DRAFT); }, "draft").then(function (kept) {
      if (!kept) return;
      if (!(Date.now() - kept.at < DRAFT_MAX_AGE_MS)) { patrolChosen = []; savePatrolDraft(); return; }
      // (before any photo chosen or word typed meanwhile)
      patrolChosen = (kept.files || []).concat(patrolChosen).slice(0, PATROL_MAX_PHOTOS);
      if (kept.note && !patrolNote.value) patrolNote.value = kept.note;
      renderPatrolChosen();
      sayPatrol(T.patrol_draft_restored);
    }).catch(function () { /* none kept */ });
  }
  // 巡查轨迹: with "record my route" ticked (remembered on this phone, per account), the phone's
  // positions while this page is open: a point once it has moved config.track_step_m, from a fix
  // of config.track_min_accuracy_m or better.  Kept in IndexedDB ("draft", under the account's
  // key and " track": a page the browser drops loses none of it) and sent with the next check-in
  // (the last config.track_max_hours, at most config.track_max_points), after which the route
  // starts again.
  var TRACK_KEY = config.account + " track";
  var trackBox = document.getElementById("track-record");
  var trackStatus = document.getElementById("track-status");
  var track = []; // [lon, lat, unix seconds], oldest first
  var trackWatch = null;
  var trackLine = null; // the route being recorded, on the map
  function metres(a, b) { // between two [lon, lat], near enough for steps of a few metres
    var k = Math.PI / 180;
    var x = (b[0] - a[0]) * k * Math.cos((a[1] + b[1]) / 2 * k), y = (b[1] - a[1]) * k;
    return 6371008.8 * Math.sqrt(x * x + y * y);
  }
  function routeLength(points) { // as 巡查里程 counts it: not the stretches ridden (or jumped)
    var m = 0;
    for (var i = 1; i < points.length; i++) {
      var d = metres(points[i - 1], points[i]);
      if (d <= config.track_max_mps * Math.max(points[i][2] - points[i - 1][2], 1)) m += d;
    }
    return m;
  }
  function recent(points) { // the points a check-in may carry
    var since = Date.now() / 1000 - config.track_max_hours * 3600;
    return points.filter(function (p) { return p[2] >= since; }).slice(-config.track_max_points);
  }
  function showTrack() {
    if (trackStatus) {
      trackStatus.textContent = track.length
        ? fill(T.track_status, { n: track.length, m: Math.round(routeLength(track)) }) : "";
    }
    if (map && window.L) {
      var points = track.map(function (p) { return wangge.toMap(p[1], p[0]); });
      if (trackLine) trackLine.setLatLngs(points);
      else trackLine = L.polyline(points, { color: "#2874a6", weight: 3, dashArray: "6 6" }).addTo(map);
      wangge.trackLine = trackLine; // (for tests)
    }
  }
  function saveTrack() {
    return store("readwrite", function (s) {
      if (track.length) s.put({ account: TRACK_KEY, points: track.slice(), at: Date.now() });
      else s.delete(TRACK_KEY);
    }, "draft").catch(function () { /* storage refused: the route is kept in the page only */ });
  }
  function keepPoint(c, at) {
    if (!(c.accuracy <= config.track_min_accuracy_m)) return;
    var p = [c.longitude, c.latitude, Math.round(at / 1000)];
    var last = track[track.length - 1];
    if (last && (p[2] < last[2] || metres(last, p) < config.track_step_m)) return;
    track = recent(track.concat([p]));
    saveTrack(); showTrack();
  }
  function recordTrack(on) {
    try { localStorage.setItem(TRACK_KEY, on ? "1" : ""); } catch (e) { /* private mode */ }
    if (on && trackWatch === null && navigator.geolocation) {
      trackWatch = navigator.geolocation.watchPosition(function (pos) {
        keepPoint(pos.coords, pos.timestamp || Date.now());
      }, function () { sayPatrol(T.track_paused, true); },
      { enableHighAccuracy: true, maximumAge: 5000, timeout: 60000 });
    } else if (!on && trackWatch !== null) {
      navigator.geolocation.clearWatch(trackWatch);
      trackWatch = null;
    }
  }
  if (trackBox) {
    try { trackBox.checked = localStorage.getItem(TRACK_KEY) === "1"; } catch (e) { /* none */ }
    // the route kept first, then the positions to come (a first fix must not replace it)
    store("readonly", function (s) { return s.get(TRACK_KEY); }, "draft").then(function (kept) {
      if (kept && kept.points) { track = recent(kept.points.concat(track)); showTrack(); }
    }).catch(function () { /* none kept */ }).then(function () {
      if (trackBox.checked) recordTrack(true);
    });
    trackBox.addEventListener("change", function () { recordTrack(trackBox.checked); });
  }
  var checkingIn = false;
  function queueCheckIn(fix) {
    var item = {
      key: uuid(), created: Date.now(), state: "queued", account: config.account, type: "patrol",
      body: {
        location: { lon: fix.longitude, lat: fix.latitude, datum: "wgs84", accuracy_m: fix.accuracy },
        checked_at: isoNow()
      }
    };
    var note = patrolNote;
    if (note.value.trim()) item.body.note = note.value.trim();
    var route = recent(track);
    if (route.length >= 2) item.body.track = route; // (the way walked to here)
    return shrinkAll(patrolChosen.slice(0, PATROL_MAX_PHOTOS)).then(function (photos) {
      if (photos.length) item.photos = photos;
      return put(item);
    }).then(function () {
      note.value = ""; patrolChosen = []; renderPatrolChosen();
      if (route.length >= 2) { track = []; saveTrack(); showTrack(); } // (a new route from here)
      var time = clock(item.body.checked_at);
      sayPatrol(fill(navigator.onLine && !loggedOut ? T.patrol_saved : T.patrol_saved_offline, { time: time }));
      return renderQueue().then(sync);
    });
  }
  if (checkIn) {
    checkIn.addEventListener("click", function () {
      if (checkingIn) return; // (one check-in a tap)
      if (!navigator.geolocation) { sayPatrol(T.patrol_need_fix, true); return; }
      checkingIn = true; checkIn.disabled = true;
      sayPatrol(T.patrol_locating);
      function done() { checkingIn = false; checkIn.disabled = false; }
      navigator.geolocation.getCurrentPosition(function (p) {
        queueCheckIn(p.coords).then(done, function () { done(); sayPatrol(T.save_failed, true); });
      }, function () {
        done(); sayPatrol(T.patrol_need_fix, true);
      }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 10000 });
    });
  }

  // ---------- logging out ----------
  // The session ends on the server, and the copy of this page that the service worker keeps
  // (with this user's name and grids) is forgotten; its scripts and styles stay.  Reports still
  // queued stay on the phone, sent when their account logs in again.
  function forgetKeptPages() {
    if (!window.caches) return Promise.resolve();
    return caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n.indexOf("wangge-phone-") === 0; })
        .map(function (n) {
          return caches.open(n).then(function (cache) {
            return cache.keys().then(function (kept) {
              return Promise.all(kept.filter(function (r) {
                return new URL(r.url).pathname.indexOf("/static/") !== 0;
              }).map(function (r) { return cache.delete(r); }));
            });
          });
        }));
    });
  }
  document.getElementById("logout").addEventListener("click", function (event) {
    event.preventDefault();
    if (!navigator.onLine) { say(T.logout_offline, true); return; }
    // (keep_offline: the browser is not told to clear its cache, which some count the service
    // worker's store in: the page must still open without signal for the next login)
    send("/api/auth/logout?keep_offline=true", { method: "POST", credentials: "same-origin" }).then(function () {
      return forgetKeptPages().catch(function () {}).then(function () {
        window.location.assign(LOGIN_URL);
      });
    }, function () { say(T.logout_offline, true); }); // no answer: the session may still be on
  });

  // ---------- connection ----------
  function showNet() {
    net.textContent = navigator.onLine ? T.online : T.offline;
    net.className = "m-net" + (navigator.onLine ? "" : " offline");
  }
  window.addEventListener("online", function () {
    if (!mineShown) mineAt = 0; // the list said it shows once the network is back
    showNet(); sync();
  });
  window.addEventListener("offline", showNet);
  setInterval(function () { if (navigator.onLine) sync(); }, SYNC_INTERVAL_MS);
  // back to the page after 30 s or more away (the phone out of the pocket): my reports as they
  // are now
  var hiddenAt = null;
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible") { hiddenAt = Date.now(); return; }
    if (hiddenAt === null) return;
    if (Date.now() - hiddenAt >= 30000) mineAt = 0;
    hiddenAt = null;
    showNet(); sync();
  });

  // ---------- map ----------
  // The deployment's base map, if it has one (config.tiles): streets to tap one's position on
  // while there is signal (without, the tiles are not there and the grids still are).  Grids,
  // the marker and places are drawn where those tiles show them (GCJ-02 tiles: shifted); a tap
  // is taken back to WGS 84.
  var map = null;
  function tapped(latlng) {
    var p = wangge.fromMap(latlng);
    if (placing) { // 待查明位置: the place of a case, into the queue
      var u = placing;
      placing = null;
      queuePlace(u.p, { lon: p[0], lat: p[1], datum: "wgs84" }, u.said);
      return;
    }
    setPosition(p[0], p[1], null);
  }
  if (window.L) {
    var tiles = config.tiles;
    wangge.setTileDatum(tiles ? tiles.datum : "wgs84");
    map = L.map("map", { zoomControl: true });
    wangge.phoneMap = map;  // (for tests)
    if (tiles) {
      L.tileLayer(tiles.url, { maxZoom: 19, subdomains: tiles.subdomains || "abc",
                               attribution: wangge.escapeHtml(tiles.attribution) }).addTo(map);
    }
    var b = config.bounds;
    if (b) map.fitBounds(L.latLngBounds(wangge.toMap(b[1], b[0]), wangge.toMap(b[3], b[2])));
    else map.setView([23, 113.9], 12);
    L.control.scale({ metric: true, imperial: false }).addTo(map);
    map.on("click", function (e) { tapped(e.latlng); });
    if (window.wgPlaces) {  // 地名查找: a desk taking a call finds the caller's village
      wgPlaces(map, document.getElementById("place"), document.getElementById("place-list"),
        { none: T.place_none, offline: T.place_offline, lang: LANG, toMap: wangge.toMap,
          onChoose: offerRegion });
    }
    if (b) { // (offline, the service worker answers with the grids kept last time)
      fetch("/api/grids?bbox=" + b.join(","), { credentials: "same-origin", headers: { "Accept": "application/json", "Accept-Language": LANG } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (fc) {
          if (!fc) return;
          wangge.phoneGrids = L.geoJSON(fc, {
            coordsToLatLng: wangge.coordsToLatLng,
            style: gridStyle,  // (my grids walked today: green, once today's check-ins are in)
            onEachFeature: function (f, layer) { // (a tooltip's text is markup: the name escaped)
              layer.bindTooltip(wangge.escapeHtml(f.properties.name || f.properties.code));
            }
          }).addTo(map).on("click", function (e) {
            L.DomEvent.stopPropagation(e); // (once: not the map's own click as well)
            tapped(e.latlng);
          });
        }).catch(function () { /* offline */ });
    }
  }

  showNet();
  loadCategories();
  restoreDraft();
  renderQueue().then(function () { return navigator.onLine ? sync() : loadMine(); });
  // the page opens without a network next time (phone-sw.js); on plain http outside localhost
  // the browser refuses service workers, and the page works as before while it is open
  if ("serviceWorker" in navigator && config.service_worker) {
    navigator.serviceWorker.register(config.service_worker, { scope: "/m/" }).catch(function () {});
  }
})();
