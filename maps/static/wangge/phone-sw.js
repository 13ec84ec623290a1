/* 网格员手机页的 service worker：没有信号时也能打开手机页。
 *
 * Served as /m/sw.js (scope /m/) after the lines the server writes ("use strict", the cache's
 * VERSION: a checksum of the files below, and ASSETS: the page's script, styles and Leaflet).
 *
 * - ASSETS: kept at install, served from the cache (a new version of any of them is a new
 *   service worker, which keeps the new files and deletes the old cache).  Their URLs name
 *   their version (?v=…), and are matched with it.
 * - The page /m/ and the catalogue and grids it reads: from the network when there is one (and
 *   kept), else the copy kept last time.  A redirect (to the login page) or an error is never
 *   kept.
 * - Everything else (reports, cases, photos, logins) goes to the network as usual: nothing
 *   personal is kept here.  Reports made offline wait in the page's own queue (IndexedDB).
 */
/* global VERSION, ASSETS */

var CACHE = "wangge-phone-" + VERSION;
var PAGE = "/m/";
var KEPT = ["/api/categories", "/api/grids"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(ASSETS);
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) {
      return k.indexOf("wangge-phone-") === 0 && k !== CACHE;
    }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

// the network's answer, kept under `key`; without a network, the answer kept last (or `fallback`'s)
function networkFirst(request, key, fallback) {
  return fetch(request).then(function (response) {
    if (response.ok && response.type === "basic" && !response.redirected) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { return cache.put(key, copy); });
    }
    return response;
  }, function (failure) {
    return caches.open(CACHE).then(function (cache) {
      return cache.match(key).then(function (kept) {
        return kept || (fallback ? cache.match(fallback) : undefined);
      });
    }).then(function (kept) {
      if (kept) return kept;
      throw failure;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(networkFirst(request, PAGE + url.search, PAGE));
  } else if (ASSETS.indexOf(url.pathname + url.search) >= 0) { // (by URL and version: ?v=…)
    event.respondWith(caches.match(url.pathname + url.search).then(function (kept) {
      return kept || networkFirst(request, url.pathname + url.search);
    }));
  } else if (KEPT.indexOf(url.pathname) >= 0) {
    event.respondWith(networkFirst(request, url.pathname + url.search));
  }
});
