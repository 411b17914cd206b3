// netgauge console: importing targets from CSV. "Check" asks for a dry run and lists each
// line with its problems; "Import" makes them all (or, with any problem, nothing).
"use strict";
(function () {
  function show(report) {
    var box = document.getElementById("import-result");
    var rows = document.querySelector("#import-lines tbody");
    rows.replaceChildren();
    report.lines.forEach(function (line) {
      var tr = document.createElement("tr");
      tr.dataset.line = String(line.line);
      if (line.errors.length) tr.className = "bad";
      [String(line.line), line.name, line.checks.join(", "), line.errors.join("; ") || "ok"].forEach(function (text, i) {
        var td = document.createElement("td");
        if (i === 0) td.className = "num";
        td.textContent = text;
        tr.appendChild(td);
      });
      rows.appendChild(tr);
    });
    var summary = document.getElementById("import-summary");
    if (report.errors) summary.textContent = report.errors + " problem(s)" + (report.dry_run ? " to fix before importing" : ": nothing imported");
    else if (report.dry_run) summary.textContent = "Ready: " + report.targets + " target(s) and " + report.jobs + " check job(s) would be made";
    else summary.textContent = "Imported " + report.targets + " target(s) and " + report.jobs + " check job(s)";
    box.dataset.state = report.errors ? "errors" : report.dry_run ? "checked" : "imported";
    box.hidden = false;
  }

  async function send(form, dryRun) {
    var general = form.querySelector(".form-error");
    general.hidden = true;
    var text = document.getElementById("import-text").value;
    var body;
    try {
      body = await ng.api("POST", "/api/v1/targets/import?dry_run=" + dryRun, text, { type: "text/csv" });
    } catch (e) {
      if (e.status === 401) return;  // ng.api sends the browser to the login page
      body = Object.assign({ detail: e.message }, e.body);  // a 422 lists every line's problems
    }
    if (body && body.lines) { show(body); ng.track("action", dryRun ? "import.check" : "import.run"); return; }
    general.textContent = (body && body.detail) || "the server did not answer";
    general.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("import-form");
    if (!form) return;
    var file = document.getElementById("import-file");
    file.addEventListener("change", function () {
      if (!file.files.length) return;
      file.files[0].text().then(function (text) { document.getElementById("import-text").value = text; });
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var dry = event.submitter && event.submitter.dataset.dryRun === "true";
      send(form, dry);
    });
  });
})();
