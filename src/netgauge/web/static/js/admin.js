// netgauge console: admin pages. Creating users, API tokens and collectors (a token is shown once),
// changing a user's role or disabled state; deletes and revokes are data-call buttons.
"use strict";
(function () {
  function field(form, name) { return form.querySelector('[name="' + name + '"]').value; }

  function setupUserForm(form) {
    ng.bindForm(form, {
      method: "POST",
      url: "/api/v1/users",
      action: "user.create",
      body: function () {
        return { username: field(form, "username").trim(), role: field(form, "role"), password: field(form, "password") };
      },
      done: function (user) {
        ng.toast("Created user " + user.username);
        location.reload();
      },
    });
  }

  async function patchUser(name, change, control) {
    control.setAttribute("aria-busy", "true");
    try {
      await ng.api("PATCH", "/api/v1/users/" + encodeURIComponent(name), change);
      ng.track("action", "user.update");
      location.reload();
    } catch (error) {
      ng.toast("Could not change " + name + ": " + error.message);
      if (control.dataset.was) control.value = control.dataset.was; // e.g. the last admin
    } finally {
      control.removeAttribute("aria-busy");
    }
  }

  function setupUserControls() {
    document.querySelectorAll("select.user-role").forEach(function (select) {
      select.addEventListener("change", function () {
        var name = select.dataset.user;
        if (!confirm("Make " + name + " " + select.value + "?")) { select.value = select.dataset.was; return; }
        patchUser(name, { role: select.value }, select);
      });
    });
    document.querySelectorAll("[data-user-patch]").forEach(function (button) {
      button.addEventListener("click", function () {
        var disable = button.dataset.disabled === "true";
        var name = button.dataset.userPatch;
        if (disable && !confirm("Disable " + name + "? They are logged out and cannot log in.")) return;
        patchUser(name, { disabled: disable }, button);
      });
    });
  }

  // a form whose answer holds a secret shown once: in the result box, with a Copy button
  function setupSecretForm(form, prefix, url, action, body, shown) {
    var box = document.getElementById(prefix + "-result");
    var value = document.getElementById(prefix + (prefix === "token" ? "-value" : "-token"));
    ng.bindForm(form, {
      method: "POST",
      url: url,
      action: action,
      body: body,
      done: function (created) {
        value.textContent = created.token;
        if (shown) shown(created);
        box.hidden = false;
        form.reset();
        box.querySelector("button").focus();
      },
    });
    document.getElementById(prefix + "-copy").addEventListener("click", async function () {
      try {
        await navigator.clipboard.writeText(value.textContent);
        ng.toast("Token copied");
      } catch (e) { // no clipboard permission (plain http): select it for Ctrl+C
        var range = document.createRange();
        range.selectNodeContents(value);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        ng.toast("Selected: press Ctrl+C to copy");
      }
    });
  }

  function setupTokenForm(form) {
    setupSecretForm(form, "token", "/api/v1/tokens", "token.create", function () {
      return { name: field(form, "name").trim(), role: field(form, "role") };
    });
  }

  function setupCollectorForm(form) {
    setupSecretForm(form, "collector", "/api/v1/collectors", "collector.create", function () {
      return { name: field(form, "name").trim(), site: field(form, "site") };
    }, function (created) {
      ng.toast("Created collector " + created.name + " for site " + created.site);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var users = document.getElementById("user-form");
    if (users) { setupUserForm(users); setupUserControls(); }
    var tokens = document.getElementById("token-form");
    if (tokens) setupTokenForm(tokens);
    var collectors = document.getElementById("collector-form");
    if (collectors) setupCollectorForm(collectors);
  });
})();
