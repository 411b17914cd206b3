// Overview: keeps the page's sections current from /api/v1/live/overview (server-sent
// events). Each event carries the sections' HTML rendered (and escaped) by the server from
// the same template as the page; the sections that changed are swapped in. The indicator
// #live-status says whether the stream is open; the stream reconnects by itself.
"use strict";
(function () {
  var MAX_BACKOFF_MS = 30000;

  document.addEventListener("DOMContentLoaded", function () {
    var status = document.getElementById("live-status");
    var root = document.getElementById("overview-sections");
    if (!status || !root || !window.EventSource) return;
    var url = status.dataset.url;
    var seen = {}; // section name -> the HTML last swapped in (the DOM's times are localised)
    var source = null;
    var backoff = 1000;
    var timer = null;

    function show(state, text) {
      status.dataset.state = state;
      status.textContent = text;
    }

    function swap(html) {
      var tpl = document.createElement("template");
      tpl.innerHTML = html;
      tpl.content.querySelectorAll("[data-section]").forEach(function (fresh) {
        var name = fresh.dataset.section;
        var markup = fresh.outerHTML;
        if (seen[name] === markup) return;
        var current = root.querySelector('[data-section="' + name + '"]');
        if (!current) return;
        var focused = document.activeElement && current.contains(document.activeElement)
          ? document.activeElement.getAttribute("href") : null;
        current.replaceWith(fresh);
        seen[name] = markup;
        if (ng.localTimes) ng.localTimes(fresh);
        if (focused) { // keep keyboard users where they were
          var again = fresh.querySelector('a[href="' + CSS.escape(focused) + '"]');
          if (again) again.focus();
        }
      });
      root.dataset.updated = String(Date.now());
    }

    function connect() {
      timer = null;
      source = new EventSource(url);
      source.addEventListener("open", function () {
        backoff = 1000;
        show("open", "live");
      });
      source.addEventListener("overview", function (e) { swap(e.data); });
      source.addEventListener("error", function () {
        if (source.readyState === EventSource.CONNECTING) {
          // the stream ended or the server went away: the browser retries by itself
          show("closed", "reconnecting…");
          return;
        }
        // refused for good (a 401 or 5xx answer): find out why, then try again later
        source.close();
        show("closed", "reconnecting…");
        retryLater();
      });
    }

    async function retryLater() {
      if (timer) return;
      var wait = backoff;
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      timer = setTimeout(async function () {
        try {
          var r = await fetch("/api/v1/auth/me", { credentials: "same-origin", headers: { Accept: "application/json" } });
          if (r.status === 401 && !(await ng.refresh())) {
            // the server is up and the session is over: log in again (and come back)
            ng.toLogin();
            return;
          }
        } catch (e) {
          // the server is not answering yet: the next attempt will tell
        }
        connect();
      }, wait);
    }

    window.addEventListener("pagehide", function () { if (source) source.close(); });
    connect();
  });
})();
