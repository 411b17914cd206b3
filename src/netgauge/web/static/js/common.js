// netgauge console: what every page shares. `ng.api` talks to the JSON API with the session
// cookie and its CSRF token; `ng.bindForm` shows the API's validation messages next to the
// field they name; page views are reported to /api/v1/activity (first party, no tracker).
"use strict";
(function () {
  var ng = (window.ng = window.ng || {});

  function cookie(name) {
    var found = document.cookie.split("; ").find(function (c) { return c.indexOf(name + "=") === 0; });
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  var refreshing = null;
  // the session's access token is short-lived: renew it from the refresh cookie
  ng.refresh = function () {
    if (!refreshing) {
      refreshing = fetch("/api/v1/auth/refresh", { method: "POST", credentials: "same-origin" })
        .then(function (r) { return r.ok; })
        .catch(function () { return false; })
        .finally(function () { setTimeout(function () { refreshing = null; }, 1000); });
    }
    return refreshing;
  };

  ng.toLogin = function () {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  };

  // fetch JSON from the API; throws an Error carrying .status and .body (the ErrorBody)
  // options.type: send `body` as it is with that Content-Type (a CSV file), not as JSON
  ng.api = async function (method, url, body, options) {
    var opts = options || {};
    var headers = { Accept: "application/json" };
    var raw = Boolean(opts.type);
    if (body !== undefined) headers["Content-Type"] = raw ? opts.type : "application/json";
    if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = cookie("ng_csrf");
    var response = await fetch(url, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
    });
    if (response.status === 401 && !opts.retried && url.indexOf("/api/v1/auth/") !== 0) {
      if (await ng.refresh()) return ng.api(method, url, body, Object.assign({}, opts, { retried: true }));
      ng.toLogin();
    }
    var text = await response.text();
    var data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
    if (!response.ok) {
      var error = new Error((data && data.detail) || response.statusText);
      error.status = response.status;
      error.body = data || {};
      throw error;
    }
    return data;
  };

  ng.toast = function (message) {
    var box = document.querySelector(".toast");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    clearTimeout(ng._toastTimer);
    ng._toastTimer = setTimeout(function () { box.hidden = true; }, 4000);
  };

  // a form's field for an API field name: "address", "window.start_time", "body.address"
  function fieldFor(form, name) {
    var parts = String(name || "").split(".");
    if (parts[0] === "body") parts.shift();
    while (parts.length) {
      // the same name can be in several parts of a form (each check kind's settings):
      // the one that is shown, not a disabled one
      var all = Array.from(form.querySelectorAll('[name="' + parts.join(".") + '"]'));
      var el = all.find(function (e) { return !e.closest("fieldset[disabled]"); }) || all[0];
      if (el) return el;
      parts.pop();
    }
    return null;
  }

  ng.clearErrors = function (form) {
    form.querySelectorAll(".field-error").forEach(function (p) { p.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    });
    var general = form.querySelector(".form-error");
    if (general) { general.hidden = true; general.textContent = ""; }
  };

  // the server's messages (422 errors[], or detail/field) next to their fields
  ng.showErrors = function (form, error) {
    ng.clearErrors(form);
    var body = error.body || {};
    // a 4xx without a list says "field: message" in detail: the field is shown by place
    var detail = String(body.detail || error.message);
    if (body.field && detail.indexOf(body.field + ": ") === 0) detail = detail.slice(body.field.length + 2);
    var list = body.errors && body.errors.length ? body.errors
      : [{ field: body.field || "", msg: detail }];
    var unplaced = [];
    var first = null;
    list.forEach(function (e, i) {
      var el = fieldFor(form, e.field);
      if (!el || el.getAttribute("aria-invalid") === "true") { if (!el) unplaced.push(e.msg); return; }
      var p = document.createElement("p");
      p.className = "field-error";
      p.id = (el.id || el.name) + "-error-" + i;
      p.textContent = e.msg;
      el.setAttribute("aria-invalid", "true");
      el.setAttribute("aria-describedby", p.id);
      (el.closest(".field") || el.parentNode).appendChild(p);
      first = first || el;
    });
    var general = form.querySelector(".form-error");
    if (unplaced.length && general) { general.textContent = unplaced.join("; "); general.hidden = false; }
    if (first) first.focus();
  };

  // a check kind's settings inside `container` (web/params_form.py's inputs): what the
  // user set, typed; a field left empty or at its default is left out (the default applies);
  // a JSON field that is not JSON throws a 422-like error naming `prefix` + the field.
  // A dotted name is a nested model's field: interfaces.exclude -> {interfaces: {exclude}}
  ng.paramsOf = function (container, prefix) {
    var params = {};
    function put(name, value) {
      var parts = name.split("."), at = params;
      parts.slice(0, -1).forEach(function (part) {
        if (typeof at[part] !== "object" || at[part] === null) at[part] = {};
        at = at[part];
      });
      at[parts[parts.length - 1]] = value;
    }
    container.querySelectorAll("[data-param]").forEach(function (el) {
      var name = el.dataset.param;
      var type = el.dataset.input;
      if (type === "checkbox") {
        if (String(el.checked) !== el.dataset.default) put(name, el.checked);
        return;
      }
      var text = el.value.trim();
      if (type === "select") {
        if (text !== el.dataset.default) put(name, text);
        return;
      }
      if (text === "") return;
      if (type === "number" || type === "integer") put(name, Number(text));
      else if (type === "list") put(name, text.split(",").map(function (t) { return t.trim(); }).filter(Boolean));
      // one item per line: a regular expression may hold a comma (^eth{1,2})
      else if (type === "lines") put(name, text.split("\n").map(function (t) { return t.trim(); }).filter(Boolean));
      else if (type === "json") {
        try { put(name, JSON.parse(text)); } catch (e) {
          var error = new Error("not valid JSON: " + e.message);
          error.status = 422;
          error.body = { detail: prefix + name + ": " + error.message, field: prefix + name,
            errors: [{ field: prefix + name, msg: error.message }] };
          throw error;
        }
      } else put(name, text);
    });
    return params;
  };

  // submit `form` as JSON: options.method, options.url (or functions), options.body(form)
  // builds the payload; options.done(result) runs after a 2xx
  ng.bindForm = function (form, options) {
    // a field the user corrects loses its error at once (not at the next submit)
    form.addEventListener("input", function (event) {
      var el = event.target;
      if (el.getAttribute && el.getAttribute("aria-invalid") === "true") {
        var holder = el.closest(".field") || el.parentNode;
        holder.querySelectorAll(".field-error").forEach(function (p) { p.remove(); });
        el.removeAttribute("aria-invalid");
        el.removeAttribute("aria-describedby");
      }
    });
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var button = form.querySelector('[type="submit"]');
      if (button) button.setAttribute("aria-busy", "true");
      ng.clearErrors(form);
      try {
        var url = typeof options.url === "function" ? options.url(form) : options.url;
        var method = typeof options.method === "function" ? options.method(form) : options.method;
        var result = await ng.api(method, url, options.body(form));
        ng.track("action", options.action || method + " " + url);
        if (options.done) options.done(result);
      } catch (error) {
        if (error.status === undefined) throw error;
        if (options.fieldOf && error.body) { // the API's field path as the form names it
          var body = error.body;
          if (body.field) {
            var was = body.field;
            body.field = options.fieldOf(was);
            if (typeof body.detail === "string") body.detail = body.detail.replace(was, body.field);
          }
          (body.errors || []).forEach(function (e) { e.field = options.fieldOf(e.field); });
        }
        ng.showErrors(form, error);
      } finally {
        if (button) button.removeAttribute("aria-busy");
      }
    });
  };

  // the console's own usage statistics (page views, actions): POST /api/v1/activity
  ng.track = function (kind, action) {
    if (!document.body.dataset.role) return;
    var body = { kind: kind, page: location.pathname.slice(0, 256) };
    if (action) body.action = String(action).slice(0, 128);
    ng.api("POST", "/api/v1/activity", body).catch(function () { /* best effort */ });
  };

  // numbers and times as the console shows them
  ng.num = function (value, digits) {
    if (value === null || value === undefined || isNaN(value)) return "—";
    return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits === undefined ? 2 : digits });
  };
  // One rule for times: every time is shown in the user's zone (chosen with the Times
  // button in the header and kept in the user's account, so every browser they use agrees;
  // the browser's own zone until then), and says which zone it is in. Tables, summaries,
  // range inputs and chart axes all use it.
  ng.browserZone = function () {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { return "UTC"; }
  };
  ng.zone = function () {
    var chosen = document.documentElement.dataset.userTz || null;  // the account's (server)
    if (!chosen) {
      try { chosen = localStorage.getItem("ng-tz"); } catch (e) { /* storage off */ }
    }
    if (chosen) {
      try { new Intl.DateTimeFormat(undefined, { timeZone: chosen }); return chosen; } catch (e) { /* gone */ }
    }
    return ng.browserZone();
  };
  // keeps the zone in the user's account (and this browser, for pages without a login);
  // the browser's own zone is kept as "none chosen"
  ng.setZone = async function (zone) {
    var keep = !zone || zone === ng.browserZone() ? null : zone;
    try {
      if (keep) localStorage.setItem("ng-tz", keep);
      else localStorage.removeItem("ng-tz");
    } catch (e) { /* storage off */ }
    document.documentElement.dataset.userTz = keep || "";
    try { await ng.api("PATCH", "/api/v1/auth/me", { timezone: keep }); } catch (e) {
      if (e.status !== 401) throw e;  // signed out: this browser keeps it
    }
  };
  ng.time = function (value, zone) {
    if (!value) return "—";
    var d = value instanceof Date ? value : new Date(value);
    return d.toLocaleString(undefined, { timeZone: zone || ng.zone(), timeZoneName: "short" });
  };
  // the wall time of `date` in `zone` as a datetime-local input's value (YYYY-MM-DDTHH:MM)
  ng.wallTime = function (date, zone) {
    var parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: zone || ng.zone(), hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit",
    }).formatToParts(date).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + "T" + parts.hour + ":" + parts.minute;
  };
  // a datetime-local value read as a wall time of `zone`: the instant (the offset found by
  // asking what wall time a guess gives, twice: exact across DST changes)
  ng.fromWallTime = function (text, zone) {
    var want = Date.parse(text + ":00Z");
    if (isNaN(want)) return null;
    var guess = want;
    for (var i = 0; i < 2; i++) {
      var shown = Date.parse(ng.wallTime(new Date(guess), zone) + ":00Z");
      guess += want - shown;
    }
    return new Date(guess);
  };
  // <time datetime> elements rendered by the server in UTC, shown in the user's zone
  ng.localTimes = function (root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (t) {
      if (!t.dataset.utc) t.dataset.utc = t.textContent;
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) { t.title = t.dataset.utc; t.textContent = ng.time(d); t.dataset.local = "1"; }
    });
    (root || document).querySelectorAll("[data-zone-label]").forEach(function (el) {
      el.textContent = ng.zone();
    });
  };

  // the Times button in the header: which zone times are shown in
  function setupZoneChooser() {
    var button = document.getElementById("tz-button");
    var dialog = document.getElementById("tz-dialog");
    if (!button || !dialog) return;
    var input = dialog.querySelector("input");
    var list = document.getElementById("tz-zones");
    button.textContent = "Times: " + ng.zone();
    button.addEventListener("click", function () {
      if (!list.children.length && Intl.supportedValuesOf) {
        Intl.supportedValuesOf("timeZone").concat(["UTC"]).forEach(function (z) {
          var o = document.createElement("option");
          o.value = z;
          list.appendChild(o);
        });
      }
      input.value = ng.zone();
      dialog.hidden = !dialog.hidden;
      if (!dialog.hidden) input.select();
    });
    var error = dialog.querySelector(".tz-error");
    async function choose(zone) {
      try { await ng.setZone(zone); } catch (e) { error.textContent = e.message; return; }
      location.reload(); // every time on the page, the charts' axes and inputs with it
    }
    dialog.addEventListener("submit", function (event) {
      event.preventDefault();
      var zone = input.value.trim() || ng.browserZone();
      try { new Intl.DateTimeFormat(undefined, { timeZone: zone }); } catch (e) {
        error.textContent = zone + " is not a time zone (e.g. Europe/Berlin, UTC)";
        return;
      }
      choose(zone);
    });
    dialog.querySelector("[data-browser-zone]").addEventListener("click", function () {
      choose(null);
    });
  }

  function setTheme(theme) {
    document.documentElement.dataset.theme = theme;
    try { localStorage.setItem("ng-theme", theme); } catch (e) { /* storage off */ }
    document.dispatchEvent(new CustomEvent("ng:theme", { detail: theme }));
  }

  // loss colours: the server's one scale (status/measures.py LOSS_SCALE, the page's
  // <html data-loss-scale>) painted on every [data-loss-band] (through the CSSOM: the CSP
  // forbids style="" and inline scripts)
  ng.lossScale = function () {
    try { return JSON.parse(document.documentElement.dataset.lossScale || "[]"); } catch (e) { return []; }
  };
  ng.paintLoss = function (root) {
    var scale = ng.lossScale();
    (root || document).querySelectorAll("[data-loss-band]").forEach(function (el) {
      var band = scale[Number(el.dataset.lossBand)];
      if (band) el.style.backgroundColor = band.colour;
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    ng.paintLoss();
    document.querySelectorAll(".theme-toggle").forEach(function (b) {
      b.addEventListener("click", function () {
        setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark");
      });
    });
    var toggle = document.querySelector(".nav-toggle");
    if (toggle) toggle.addEventListener("click", function () {
      var nav = document.getElementById("mainnav");
      var open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
    document.querySelectorAll("[data-logout]").forEach(function (b) {
      b.addEventListener("click", async function () {
        try { await ng.api("POST", "/api/v1/auth/logout"); } catch (e) { /* gone anyway */ }
        location.assign("/login");
      });
    });
    // confirm-then-call buttons: data-call="METHOD URL", data-confirm, data-then (a URL)
    document.querySelectorAll("[data-call]").forEach(function (b) {
      b.addEventListener("click", async function () {
        if (b.dataset.confirm && !confirm(b.dataset.confirm)) return;
        var parts = b.dataset.call.split(" ");
        b.setAttribute("aria-busy", "true");
        try {
          await ng.api(parts[0], parts[1]);
          ng.track("action", b.dataset.call);
          if (b.dataset.then) location.assign(b.dataset.then); else location.reload();
        } catch (error) {
          ng.toast(error.message);
        } finally {
          b.removeAttribute("aria-busy");
        }
      });
    });
    ng.localTimes();
    setupZoneChooser();
    // keep the session while the page is open (the access cookie lives 15 min by default)
    if (document.body.dataset.role) setInterval(ng.refresh, 5 * 60 * 1000);
    ng.track("page_view");
  });
})();
