// netgauge console: the health score view. "Recompute now" (operators) posts
// /api/v1/analytics/health/recompute and reloads the page with the new scores.
"use strict";
(function () {
  var button = document.getElementById("health-recompute");
  if (!button) return;
  button.addEventListener("click", async function () {
    button.disabled = true;
    try {
      await ng.api("POST", "/api/v1/analytics/health/recompute");
      location.reload();
    } catch (error) {
      ng.toast("Recompute failed: " + error.message);
      button.disabled = false;
    }
  });
})();
