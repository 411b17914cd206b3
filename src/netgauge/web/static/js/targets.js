// Destinations and Devices: the add/edit form (JSON to /api/v1/targets through ng.bindForm,
// so the API's messages land next to their fields) and the list's "Test now" buttons.
"use strict";
(function () {
  function tagsOf(text) {
    return text.split(",").map(function (t) { return t.trim(); }).filter(Boolean);
  }

  // the form's fields as the API's TargetCreate body; empty selects are "none" (null)
  function bodyOf(form) {
    var v = function (name) { return form.elements[name].value; };
    return {
      name: v("name").trim(),
      address: v("address").trim(),
      type: v("type"),
      site: v("site") || null,
      tags: tagsOf(v("tags")),
      credentials: v("credentials") || null,
      description: v("description"),
      parent: v("parent").trim() || null,
    };
  }

  // the checks chosen on the add form, in the order the API numbers them (checks.N)
  function chosenChecks(form) {
    return Array.from(form.querySelectorAll('input[name="check"]:checked')).map(function (box) {
      return box.value;
    });
  }

  function checksOf(form) {
    return chosenChecks(form).map(function (kind) {
      var set = form.querySelector('.check-settings[data-kind="' + kind + '"]');
      var prefix = "checks." + kind + ".";
      var interval = form.elements[prefix + "interval"].value.trim();
      var check = { kind: kind, params: ng.paramsOf(set, prefix + "params.") };
      if (interval) check.interval = interval;
      return check;
    });
  }

  function setupChecks(form) {
    form.querySelectorAll('input[name="check"]').forEach(function (box) {
      var set = form.querySelector('.check-settings[data-kind="' + box.value + '"]');
      var show = function () { set.hidden = !box.checked; set.disabled = !box.checked; };
      box.addEventListener("change", show);
      show();
    });
  }

  function bindTargetForm(form) {
    var editing = form.dataset.mode === "edit";
    var path = function (name) { return "/api/v1/targets/" + encodeURIComponent(name); };
    if (!editing) setupChecks(form);
    ng.bindForm(form, {
      method: editing ? "PUT" : "POST",
      url: function (f) { return editing ? path(f.dataset.name) : "/api/v1/targets"; },
      body: function (f) {
        var body = bodyOf(f);
        if (!editing) body.checks = checksOf(f);
        return body;
      },
      // the API says checks.1.params.port; the form's input is checks.http.params.port
      fieldOf: function (field) {
        var kinds = chosenChecks(form);
        return String(field || "").replace(/^(body\.)?checks\.(\d+)\./, function (_, b, n) {
          return "checks." + (kinds[Number(n)] || n) + ".";
        });
      },
      action: editing ? "target.edit" : "target.create",
      done: function (target) {
        location.assign(form.dataset.list + "/" + encodeURIComponent(target.name));
      },
    });
  }

  function metricsText(metrics) {
    return Object.keys(metrics || {}).map(function (k) {
      return k + "=" + ng.num(metrics[k], 3);
    }).join("  ");
  }

  // the answer of POST /api/v1/targets/{name}/test, as a list in the #test-result box
  function showReport(box, report) {
    box.replaceChildren();
    var h = document.createElement("h2");
    h.textContent = "Test of " + report.target + " (" + report.address + ")";
    box.appendChild(h);
    if (report.note) {
      var note = document.createElement("p");
      note.className = "muted";
      note.textContent = report.note;
      box.appendChild(note);
    }
    var list = document.createElement("ul");
    report.results.forEach(function (r) {
      var li = document.createElement("li");
      li.dataset.kind = r.kind;
      var badge = document.createElement("span");
      badge.className = "badge " + r.status;
      badge.textContent = r.status;
      li.append((r.job ? r.job + " · " : "") + r.kind + " ", badge);
      if (r.error) li.append(" " + r.error);
      var m = metricsText(r.metrics);
      if (m) {
        var span = document.createElement("div");
        span.className = "metrics";
        span.textContent = m;
        li.appendChild(span);
      }
      list.appendChild(li);
    });
    box.appendChild(list);
    box.dataset.target = report.target;
    box.hidden = false;
  }

  function bindTestButtons(box) {
    document.querySelectorAll("[data-test]").forEach(function (button) {
      button.addEventListener("click", async function () {
        var name = button.dataset.test;
        var row = button.closest("tr");
        button.setAttribute("aria-busy", "true");
        button.disabled = true;
        document.querySelectorAll("tr.testing").forEach(function (r) { r.classList.remove("testing"); });
        if (row) row.classList.add("testing");
        box.hidden = false;
        box.textContent = "Testing " + name + "…";
        try {
          var report = await ng.api("POST", "/api/v1/targets/" + encodeURIComponent(name) + "/test");
          showReport(box, report);
          ng.track("action", "target.test");
        } catch (error) {
          box.textContent = "Test of " + name + " failed: " + error.message;
        } finally {
          button.removeAttribute("aria-busy");
          button.disabled = false;
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("target-form");
    if (form) bindTargetForm(form);
    var box = document.getElementById("test-result");
    if (box) bindTestButtons(box);
    // choosing a filter value applies it (the Filter button stays for keyboards and no-JS)
    var filters = document.getElementById("target-filters");
    if (filters) filters.querySelectorAll("select").forEach(function (s) {
      s.addEventListener("change", function () { filters.requestSubmit(); });
    });
  });
})();
