// netgauge console: discovery. Start a sweep (POST /api/v1/discover), follow it until it is
// done, then show each host that answered with its proposal: new hosts are chosen, existing
// ones are not; the name and the interfaces/disks to watch can be changed before "Add
// selected" (POST /api/v1/discover/{id}/accept). The watched preview is recomputed here with
// the browser's regular expressions; the server checks the patterns as RE2.
"use strict";
(function () {
  var POLL_MS = 1000;
  var shown = null; // the sweep on the page

  function list(text) {
    return String(text || "").split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  function lines(text) {
    return String(text || "").split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  function make(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function startBody(form) {
    var body = {
      cidr: form.querySelector('[name="cidr"]').value.trim(),
      credentials: Array.from(form.querySelectorAll('[name="credentials"]:checked')).map(function (c) { return c.value; }),
      snmp: document.getElementById("disc-snmp").checked,
      ssh: document.getElementById("disc-ssh").checked,
    };
    var site = form.querySelector('[name="site"]').value;
    if (site) body.site = site;
    var tags = list(form.querySelector('[name="tags"]').value);
    if (tags.length) body.tags = tags;
    return body;
  }

  // -- following a sweep -------------------------------------------------------------------

  function stateText(sweep) {
    var p = sweep.progress;
    if (sweep.state === "running") {
      return "Sweeping " + sweep.cidr + ": " + p.stage + ", " + p.done + " of " + p.total + " addresses";
    }
    if (sweep.state === "failed") return "The sweep of " + sweep.cidr + " failed";
    return "Done: " + sweep.found.length + " of " + p.total + " addresses answered";
  }

  function drawStatus(sweep) {
    var box = document.getElementById("sweep");
    box.hidden = false;
    box.dataset.state = sweep.state;
    box.dataset.id = sweep.id;
    document.getElementById("sweep-title").textContent = "Sweep of " + sweep.cidr;
    var bar = document.getElementById("sweep-progress");
    bar.max = Math.max(sweep.progress.total, 1);
    bar.value = sweep.state === "running" ? sweep.progress.done : bar.max;
    document.getElementById("sweep-state").textContent = stateText(sweep);
    var error = document.getElementById("sweep-error");
    error.hidden = !sweep.error;
    error.textContent = sweep.error || "";
  }

  async function follow(id) {
    var sweep;
    try {
      sweep = await ng.api("GET", "/api/v1/discover/" + encodeURIComponent(id));
    } catch (error) {
      var box = document.getElementById("sweep-error");
      box.hidden = false;
      box.textContent = "Cannot read the sweep: " + error.message;
      return;
    }
    shown = sweep;
    drawStatus(sweep);
    if (sweep.state === "running") {
      setTimeout(function () { follow(id); }, POLL_MS);
      return;
    }
    drawFound(sweep);
  }

  // -- the found hosts -----------------------------------------------------------------------

  function regexes(patterns) {
    return patterns.map(function (p) {
      try { return new RegExp(p); } catch (e) { return null; }
    }).filter(Boolean);
  }

  // one rule with pollers/selection.py: skip_types, then include, then exclude
  function keeps(item, selection) {
    if (!item.eligible) return false;
    if (item.type && (selection.skip_types || []).indexOf(item.type) >= 0) return false;
    var include = regexes(selection.include || []);
    if (include.length && !include.some(function (r) { return r.test(item.name); })) return false;
    return !regexes(selection.exclude || []).some(function (r) { return r.test(item.name); });
  }

  function deviceCheck(host, key) {
    return host.proposal.checks.find(function (c) { return c.params && c.params[key]; }) || null;
  }

  function watchList(items, label) {
    var ul = make("ul", { className: "watch-list", "aria-label": label });
    items.forEach(function (item) {
      var li = make("li", { text: item.name, title: (item.type || "type unknown") });
      li.dataset.name = item.name;
      li.className = item.watched ? "on" : "off";
      ul.appendChild(li);
    });
    return ul;
  }

  function redraw(ul, items, selection) {
    var byName = {};
    items.forEach(function (i) { byName[i.name] = i; });
    ul.querySelectorAll("li").forEach(function (li) {
      li.className = keeps(byName[li.dataset.name], selection) ? "on" : "off";
    });
  }

  // include/exclude inputs for interfaces or disks, with their preview
  function selectionEditor(host, key, items, title) {
    var check = deviceCheck(host, key);
    var box = make("div", { className: "selection" });
    if (!items.length && !check) return box;
    box.appendChild(make("strong", { text: title }));
    var ul = watchList(items, title + " of " + host.address + " (crossed out: not watched)");
    if (check) {
      var chosen = check.params[key];
      ["include", "exclude"].forEach(function (side) {
        var id = "sel-" + key + "-" + side + "-" + host.address.replace(/[^0-9a-zA-Z]/g, "-");
        // one pattern per line, as the job form has it: a regex may hold a comma ("{1,3}")
        var input = make("textarea", { id: id, rows: "2", autocomplete: "off", spellcheck: "false" });
        input.value = (chosen[side] || []).join("\n");
        input.dataset.key = key;
        input.dataset.side = side;
        var label = make("label", { "for": id, text: (side === "include" ? "Include" : "Exclude") + " " + key + " (regexes, one per line)" });
        box.appendChild(make("div", { className: "field" }, [label, input]));
        input.addEventListener("input", function () {
          redraw(ul, items, selectionOf(box, key, chosen));
        });
      });
    }
    box.appendChild(ul);
    return box;
  }

  function selectionOf(box, key, proposed) {
    var result = { include: [], exclude: [], skip_types: (proposed && proposed.skip_types) || [] };
    box.querySelectorAll('textarea[data-key="' + key + '"]').forEach(function (input) {
      result[input.dataset.side] = lines(input.value);
    });
    return result;
  }

  function answeredCell(host) {
    var a = host.answered;
    var cell = make("td", { className: "answered" });
    if (a.icmp) cell.appendChild(make("span", { className: "badge ok", text: "ping " + ng.num(a.rtt_ms, 2) + " ms" }));
    if (a.snmp) cell.appendChild(make("span", { className: "badge ok", text: "SNMP (" + a.snmp_credentials + ")" }));
    if (a.ssh) cell.appendChild(make("span", { className: "badge info", text: "SSH", title: a.ssh_banner || "" }));
    return cell;
  }

  function identityCell(host) {
    var cell = make("td", { className: "identity" });
    cell.appendChild(make("div", { text: host.type + (host.profile ? ", profile " + host.profile : "") }));
    if (host.sys_descr) cell.appendChild(make("div", { className: "muted", text: host.sys_descr }));
    if (host.answered.ssh_banner) cell.appendChild(make("div", { className: "muted", text: host.answered.ssh_banner }));
    if (host.notes.length) {
      cell.appendChild(make("ul", { className: "notes" }, host.notes.map(function (n) { return make("li", { text: n }); })));
    }
    return cell;
  }

  function row(sweep, host) {
    var added = sweep.accepted.indexOf(host.address) >= 0;
    var tr = make("tr", { "data-address": host.address });
    if (host.exists) tr.className = "exists";
    var pick = make("input", { type: "checkbox", className: "pick", value: host.address, "aria-label": "Add " + host.address });
    pick.checked = !host.exists;
    pick.disabled = added;
    var address = make("td", {}, [make("span", { text: host.address })]);
    if (host.exists) {
      address.appendChild(document.createTextNode(" "));
      var link = make("a", { href: (host.type === "device" ? "/devices/" : "/destinations/") + encodeURIComponent(host.existing), text: added ? "added as " + host.existing : "exists: " + host.existing });
      address.appendChild(make("span", { className: "badge none" }, [link]));
    }
    var name = make("input", { className: "name-input", value: host.name, "aria-label": "Name for " + host.address, maxlength: "128", autocomplete: "off" });
    name.dataset.proposed = host.name;
    name.disabled = added;
    var checks = make("td", { text: host.proposal.checks.map(function (c) { return c.kind; }).join(", ") });
    var selection = make("td", {}, [
      selectionEditor(host, "interfaces", host.interfaces, "Interfaces"),
      selectionEditor(host, "disks", host.disks, "Disks"),
    ]);
    [make("td", {}, [pick]), address, make("td", {}, [name]), answeredCell(host), identityCell(host), checks, selection]
      .forEach(function (td) { tr.appendChild(td); });
    return tr;
  }

  function drawFound(sweep) {
    var form = document.getElementById("accept-form");
    var body = form.querySelector("tbody");
    // drawn again after an add: the hosts left out stay as the admin left them
    var kept = {};
    if (body.dataset.sweep === sweep.id) {
      body.querySelectorAll(".pick").forEach(function (p) { kept[p.value] = p.checked; });
    }
    body.textContent = "";
    body.dataset.sweep = sweep.id;
    sweep.found.forEach(function (host) {
      var tr = row(sweep, host);
      var pick = tr.querySelector(".pick");
      if (!pick.disabled && kept[host.address] !== undefined) pick.checked = kept[host.address];
      body.appendChild(tr);
    });
    form.hidden = sweep.state !== "done";
    document.getElementById("found-none").hidden = sweep.found.length > 0;
    document.getElementById("accept-button").disabled = sweep.found.length === 0;
    var picks = Array.from(body.querySelectorAll(".pick:not([disabled])"));
    document.getElementById("found-all").checked = picks.length > 0 && picks.every(function (p) { return p.checked; });
  }

  function acceptBody() {
    var addresses = [];
    var overrides = {};
    document.querySelectorAll("#found-table tbody tr").forEach(function (tr) {
      var pick = tr.querySelector(".pick");
      if (!pick.checked || pick.disabled) return;
      var address = tr.dataset.address;
      var host = shown.found.find(function (h) { return h.address === address; });
      addresses.push(address);
      var change = {};
      var name = tr.querySelector(".name-input");
      if (name.value.trim() !== name.dataset.proposed) change.name = name.value.trim();
      ["interfaces", "disks"].forEach(function (key) {
        var check = deviceCheck(host, key);
        var box = tr.querySelector('textarea[data-key="' + key + '"]');
        if (!check || !box) return;
        var chosen = selectionOf(box.closest(".selection"), key, check.params[key]);
        if (JSON.stringify(chosen) !== JSON.stringify({ include: check.params[key].include || [], exclude: check.params[key].exclude || [], skip_types: check.params[key].skip_types || [] })) {
          change[key] = chosen;
        }
      });
      if (Object.keys(change).length) overrides[address] = change;
    });
    if (!addresses.length) {
      var error = new Error("choose at least one host to add");
      error.status = 422;
      error.body = { detail: "addresses: choose at least one host to add", field: "addresses" };
      throw error;
    }
    return { addresses: addresses, overrides: overrides };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("discover-form");
    if (!form) return;
    ng.bindForm(form, {
      method: "POST",
      url: "/api/v1/discover",
      action: "discover.start",
      body: startBody,
      done: function (sweep) {
        document.getElementById("accept-form").hidden = true;
        document.getElementById("accept-result").textContent = "";
        drawStatus(sweep);
        follow(sweep.id);
      },
    });
    var accept = document.getElementById("accept-form");
    ng.bindForm(accept, {
      method: "POST",
      url: function () { return "/api/v1/discover/" + encodeURIComponent(shown.id) + "/accept"; },
      action: "discover.accept",
      body: acceptBody,
      done: function (answer) {
        var names = answer.targets.map(function (t) { return t.name; }).join(", ");
        var said = "Added " + answer.targets.length + " target(s) and " + answer.jobs + " check job(s): " + names;
        document.getElementById("accept-result").textContent = said;
        ng.toast(said);
        follow(shown.id);
      },
    });
    document.getElementById("found-all").addEventListener("change", function (event) {
      document.querySelectorAll("#found-table .pick").forEach(function (pick) {
        if (!pick.disabled) pick.checked = event.target.checked;
      });
    });
    // the newest sweep, running or not, when the page opens
    ng.api("GET", "/api/v1/discover").then(function (sweeps) {
      if (sweeps && sweeps.length && !shown) follow(sweeps[0].id);
    }).catch(function () { /* shown when a sweep starts */ });
  });
})();
