// netgauge console: the credentials page. One form for every kind: the kind shows its own
// secret fields; a secret left empty keeps the stored one (it is never sent back to the page).
"use strict";
(function () {
  function list(text) {
    return String(text || "").split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  function showKind(form) {
    var kind = form.querySelector('[name="kind"]').value;
    form.querySelectorAll(".secret-fields").forEach(function (set) {
      set.hidden = set.dataset.kind !== kind;
      set.disabled = set.hidden; // a hidden kind's fields are not sent
    });
  }

  function body(form) {
    var kind = form.querySelector('[name="kind"]').value;
    var secrets = {};
    form.querySelectorAll('.secret-fields[data-kind="' + kind + '"] [data-secret]').forEach(function (el) {
      if (el.value !== "") secrets[el.dataset.secret] = el.value;
    });
    var scope = {
      addresses: list(form.querySelector('[name="scope.addresses"]').value),
      sites: list(form.querySelector('[name="scope.sites"]').value),
      tags: list(form.querySelector('[name="scope.tags"]').value),
    };
    var username = form.querySelector('[name="username"]').value.trim();
    var result = { kind: kind, secrets: secrets };
    if (username) result.username = username;
    if (scope.addresses.length || scope.sites.length || scope.tags.length) result.scope = scope;
    return result;
  }

  function edit(form, entry) {
    form.querySelector('[name="name"]').value = entry.name;
    form.querySelector('[name="name"]').readOnly = true;
    form.querySelector('[name="kind"]').value = entry.kind;
    form.querySelector('[name="username"]').value = entry.username || "";
    var scope = entry.scope || {};
    form.querySelector('[name="scope.addresses"]').value = (scope.addresses || []).join(", ");
    form.querySelector('[name="scope.sites"]').value = (scope.sites || []).join(", ");
    form.querySelector('[name="scope.tags"]').value = (scope.tags || []).join(", ");
    form.querySelectorAll("[data-secret]").forEach(function (el) {
      el.value = "";
      el.placeholder = entry.fields[el.dataset.secret] === "stored" ? "stored — leave empty to keep" : "";
    });
    document.getElementById("cred-title").textContent = "Edit credentials " + entry.name;
    showKind(form);
    form.scrollIntoView({ block: "start" });
    form.querySelector('[name="kind"]').focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("cred-form");
    if (!form) return;
    var kind = form.querySelector('[name="kind"]');
    kind.addEventListener("change", function () { showKind(form); });
    showKind(form);
    ng.bindForm(form, {
      method: "PUT",
      url: function () { return "/api/v1/credentials/" + encodeURIComponent(form.querySelector('[name="name"]').value.trim()); },
      action: "credentials.save",
      body: body,
      done: function (saved) {
        ng.toast("Saved credentials " + saved.name);
        location.reload();
      },
    });
    form.addEventListener("reset", function () {
      form.querySelector('[name="name"]').readOnly = false;
      document.getElementById("cred-title").textContent = "New credentials";
      form.querySelectorAll("[data-secret]").forEach(function (el) { el.placeholder = ""; });
      setTimeout(function () { showKind(form); }, 0);
    });
    document.querySelectorAll("[data-edit]").forEach(function (button) {
      button.addEventListener("click", function () { edit(form, JSON.parse(button.dataset.edit)); });
    });
  });
})();
