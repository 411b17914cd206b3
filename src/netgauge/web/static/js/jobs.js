// netgauge console: jobs. The job form (JSON body, the chosen kind's settings, the time-window editor and
// the server-computed "next run at"), and "run now" on a job's page, which waits for the run
// it started to finish and shows its outcome.
"use strict";
(function () {
  var DAY_SETS = {
    weekdays: ["mon", "tue", "wed", "thu", "fri"],
    weekend: ["sat", "sun"],
    daily: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
  };
  var POLL_MS = 1000;
  var POLL_LIMIT = 120; // two minutes: a run longer than that is still shown as started

  function value(form, name) {
    var el = form.querySelector('[name="' + name + '"]');
    return el ? el.value.trim() : "";
  }

  function list(text) {
    return text.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  // an invalid form value, reported like the API's 422 so ng.showErrors places it
  function invalid(field, msg) {
    var error = new Error(msg);
    error.status = 422;
    error.body = { detail: field + ": " + msg, errors: [{ field: field, msg: msg }] };
    return error;
  }

  function windowOf(form) {
    if (!form.querySelector("#use-window").checked) return null;
    var days = Array.from(form.querySelectorAll('[name="window.days"]:checked')).map(function (c) { return c.value; });
    return {
      start_time: value(form, "window.start_time") || null,
      end_time: value(form, "window.end_time") || null,
      days: days,
      timezone: value(form, "window.timezone") || "UTC",
    };
  }

  function selectorOf(form) {
    var tags = list(value(form, "selector.tags"));
    var site = value(form, "selector.site");
    var type = value(form, "selector.type");
    if (!tags.length && !site && !type) return null;
    return { tags: tags, site: site || null, type: type || null };
  }

  // the chosen kind's settings (ng.paramsOf: only what differs from the defaults)
  function paramsOf(form) {
    var set = form.querySelector('.params-kind[data-kind="' + value(form, "kind") + '"]');
    return set ? ng.paramsOf(set, "params.") : {};
  }

  function showKind(form) {
    var kind = value(form, "kind");
    form.querySelectorAll(".params-kind").forEach(function (set) {
      set.hidden = set.dataset.kind !== kind;
      set.disabled = set.hidden;
    });
    var none = document.getElementById("params-none");
    if (none) none.hidden = Boolean(kind);
  }

  // the API body of the job form
  function jobBody(form) {
    var params = paramsOf(form);
    var concurrency = value(form, "concurrency");
    var body = {
      name: value(form, "name"),
      kind: value(form, "kind"),
      params: params,
      targets: list(value(form, "targets")),
      selector: selectorOf(form),
      interval: value(form, "interval"),
      timeout: value(form, "timeout") || null,
      window: windowOf(form),
      enabled: form.querySelector('[name="enabled"]').checked,
      run_when: value(form, "run_when") || "always",
      maintenance: value(form, "maintenance") || "mute",
      vantage: list(value(form, "vantage")).length ? list(value(form, "vantage")) : null,
      quorum: value(form, "quorum") === "" ? null : Number(value(form, "quorum")),
    };
    if (concurrency !== "") body.concurrency = Number(concurrency);
    return body;
  }

  function zoneTime(iso, zone) {
    try {
      return new Date(iso).toLocaleString(undefined, { timeZone: zone, timeZoneName: "short" });
    } catch (e) {
      return "";
    }
  }

  // "Next run at …" from the server, for what the form says now
  function setupPreview(form) {
    var out = document.getElementById("next-run");
    var more = document.getElementById("next-runs");
    var timer = null;
    var asked = 0;

    async function preview() {
      var ticket = ++asked;
      var w = windowOf(form);
      var body = {
        name: value(form, "name") || "preview",
        interval: value(form, "interval") || "60s",
        window: w,
        enabled: form.querySelector('[name="enabled"]').checked,
        count: 5,
      };
      try {
        var result = await ng.api("POST", "/api/v1/jobs/preview", body);
        if (ticket !== asked) return; // an older answer after a newer question
        more.textContent = "";
        out.dataset.state = "ok";
        if (!result.next_runs.length) {
          out.textContent = result.note || "never";
          out.dataset.count = "0";
          return;
        }
        var first = result.next_runs[0];
        var local = ng.zone(); // the user's zone (common.js); the window's own beside it
        var there = w && w.timezone !== local ? " (" + zoneTime(first, w.timezone) + " in " + w.timezone + ")" : "";
        out.textContent = ng.time(first) + there;
        out.dataset.at = first;
        out.dataset.count = String(result.next_runs.length);
        result.next_runs.slice(1).forEach(function (t) {
          var li = document.createElement("li");
          li.textContent = "then " + ng.time(t);
          more.appendChild(li);
        });
      } catch (error) {
        if (ticket !== asked) return;
        if (error.status === undefined) throw error;
        out.dataset.state = "error";
        delete out.dataset.at;
        more.textContent = "";
        out.textContent = "cannot tell: " + (error.body && error.body.detail || error.message).replace(/^body\./, "");
      }
    }

    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(preview, 300);
    });
    form.addEventListener("change", function () {
      clearTimeout(timer);
      timer = setTimeout(preview, 100);
    });
    preview();
  }

  function setupWindow(form) {
    var use = form.querySelector("#use-window");
    var fields = form.querySelector("#window-fields");
    var zone = form.querySelector('[name="window.timezone"]');
    if (zone && !zone.value) {
      try { zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { zone.value = "UTC"; }
    }
    function sync() {
      fields.hidden = !use.checked;
      fields.querySelectorAll("input").forEach(function (el) { el.disabled = !use.checked; });
    }
    use.addEventListener("change", sync);
    sync();
    form.querySelectorAll("[data-days]").forEach(function (button) {
      button.addEventListener("click", function () {
        var wanted = DAY_SETS[button.dataset.days];
        form.querySelectorAll('[name="window.days"]').forEach(function (box) {
          box.checked = wanted.indexOf(box.value) >= 0;
        });
        form.dispatchEvent(new Event("change"));
      });
    });
  }

  function setupForm(form) {
    var editing = form.dataset.mode === "edit";
    setupWindow(form);
    form.querySelector('[name="kind"]').addEventListener("change", function () { showKind(form); });
    showKind(form);
    ng.bindForm(form, {
      method: editing ? "PUT" : "POST",
      url: function () {
        return editing ? "/api/v1/jobs/" + encodeURIComponent(form.dataset.name) : "/api/v1/jobs";
      },
      body: jobBody,
      action: editing ? "job.edit" : "job.create",
      done: function (job) {
        ng.toast("Saved job " + job.name);
        location.assign("/jobs/" + encodeURIComponent(job.name));
      },
    });
    setupPreview(form);
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  async function newestRuns(name) {
    var page = await ng.api("GET", "/api/v1/jobs/" + encodeURIComponent(name) + "/runs?limit=10");
    return page.items;
  }

  function describe(run) {
    var text = "Run " + run.status + ": " + run.targets_ok + " target(s) ok, " + run.targets_failed + " failed";
    return run.error ? text + " — " + run.error : text;
  }

  // the server's newest rendering of the runs and per-target outcomes, without a reload
  async function refreshCards() {
    try {
      var response = await fetch(location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      var fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      ["runs-card", "outcomes-card"].forEach(function (id) {
        var now = document.getElementById(id);
        var next = fresh.getElementById(id);
        if (now && next) { now.replaceWith(next); ng.localTimes(next); }
      });
    } catch (e) { /* the outcome is shown above; the tables catch up on the next load */ }
  }

  // run now, then wait for that run (a newer id than the newest before) to finish
  function setupRunNow(button) {
    var box = document.getElementById("run-result");
    var name = button.dataset.job;
    button.addEventListener("click", async function () {
      button.setAttribute("aria-busy", "true");
      button.disabled = true;
      box.hidden = false;
      box.dataset.state = "running";
      box.textContent = "Starting…";
      try {
        var before = await newestRuns(name);
        var lastId = before.length ? before[0].id : 0;
        await ng.api("POST", "/api/v1/jobs/" + encodeURIComponent(name) + "/run");
        ng.track("action", "job.run_now");
        box.textContent = "Running…";
        for (var i = 0; i < POLL_LIMIT; i++) {
          await sleep(POLL_MS);
          // the manual run this button started (a scheduled run or a skip may come between)
          var run = (await newestRuns(name)).find(function (r) {
            return r.id > lastId && r.trigger === "manual";
          });
          if (run && run.finished_at) {
            box.dataset.state = run.status;
            box.textContent = describe(run);
            await refreshCards();
            return;
          }
        }
        box.textContent = "The run is still going; refresh later to see it.";
      } catch (error) {
        box.dataset.state = "failed";
        box.textContent = "Could not run: " + error.message;
      } finally {
        button.removeAttribute("aria-busy");
        button.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("job-form");
    if (form) setupForm(form);
    var run = document.getElementById("run-now");
    if (run) setupRunNow(run);
  });
})();
