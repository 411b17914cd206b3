// netgauge console: the alerts page. Adds a silence (POST /api/v1/silences) from the form,
// or from an alert's "Silence…" button (which fills the form with that alert's labels).
"use strict";
(function () {
  function matchers(form) {
    var found = [];
    ["alertname", "target"].forEach(function (name) {
      var value = form.elements[name].value.trim();
      if (value) found.push({ name: name, value: value, isRegex: false, isEqual: true });
    });
    return found;
  }

  document.addEventListener("DOMContentLoaded", function () {
    ng.localTimes();
    var form = document.getElementById("silence-form");
    if (!form) return;
    ng.bindForm(form, {
      method: "POST",
      url: "/api/v1/silences",
      action: "add silence",
      body: function (f) {
        return { matchers: matchers(f), duration: f.elements.duration.value.trim(),
                 comment: f.elements.comment.value.trim() };
      },
      done: function () { location.reload(); },
    });
    document.querySelectorAll("[data-silence-alert]").forEach(function (b) {
      b.addEventListener("click", function () {
        form.elements.alertname.value = b.dataset.silenceAlert;
        form.elements.target.value = b.dataset.silenceTarget;
        form.elements.comment.focus();
        form.scrollIntoView({ block: "center" });
      });
    });
  });
})();
