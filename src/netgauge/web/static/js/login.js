// The login page: try the refresh cookie first (an expired session comes back silently),
// else post the form; then go where the user was going.
"use strict";
document.addEventListener("DOMContentLoaded", async function () {
  var form = document.getElementById("login-form");
  var next = form.dataset.next || "/";
  if (new URLSearchParams(location.search).has("next") && (await ng.refresh())) {
    location.replace(next);
    return;
  }
  ng.bindForm(form, {
    method: "POST",
    url: "/api/v1/auth/login",
    action: "login",
    body: function (f) {
      return { username: f.username.value, password: f.password.value };
    },
    done: function () { location.assign(next); },
  });
});
