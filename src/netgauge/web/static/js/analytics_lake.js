// netgauge console: the data lake view's "Export now" (admins): POST
// /api/v1/analytics/lake/export, then the page again with the new status.
"use strict";
(function () {
  var button = document.getElementById("lake-export");
  if (!button) return;
  var state = document.getElementById("lake-export-state");
  button.addEventListener("click", async function () {
    button.disabled = true;
    state.textContent = "exporting…";
    try {
      var run = await ng.api("POST", "/api/v1/analytics/lake/export");
      state.textContent = run.error ? "failed: " + run.error : run.files_written + " files written";
      window.location.reload();
    } catch (error) {
      state.textContent = String(error.message || error);
      button.disabled = false;
    }
  });
})();
