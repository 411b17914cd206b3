/* Detail page: fills each .chart of #charts from the JSON API, in parallel, drawing as data
 * arrives. The server chose the range and the step (data-from/-to/-step on #charts), so a
 * 30-day page asks for hourly rollups, not 43,200 raw samples per series.
 * Drag across a chart to zoom every chart to that span; #reset-zoom goes back. */
(function () {
  "use strict";
  if (!window.uPlot || !window.ngCharts) return;
  // one set of charts per section.charts: the detail page has one, the SmokePing-style
  // page one per range (each zooms on its own)
  document.querySelectorAll("section.charts[data-target]").forEach(setup);

  function setup(root) {
  const C = window.ngCharts;
  const target = root.dataset.target;
  const from = root.dataset.from;
  // A preset range ends now: a chart still empty (a destination added a moment ago, whose
  // first round the writer has not stored yet) asks again with the range's end moved to now.
  const live = root.dataset.live === "true";
  let to = root.dataset.to;
  const step = root.dataset.step ? Number(root.dataset.step) : null;
  const useRounds = root.dataset.rounds === "true";
  const fromS = Date.parse(from) / 1000;
  let toS = Date.parse(to) / 1000;
  const EMPTY_RETRY_MS = 3000;
  const EMPTY_RETRIES = 20; // a minute: longer than any writer flush
  const ROUNDS_LIMIT = 10000; // the API's most rounds per request
  const single = root.id === "charts"; // the detail page: its zoom buttons are its own
  const resetButton = single ? document.getElementById("reset-zoom") : null;
  const zoomLink = single ? document.getElementById("zoom-range") : null;
  const handles = [];
  let zoom = null;

  function alignedFrom() {
    // rollups answer when `from` lies on a step boundary (custom ranges may not)
    if (!step) return from;
    return new Date(Math.floor(fromS / step) * step * 1000).toISOString();
  }

  function metricsUrl(metric, agg) {
    // parallel arrays: a quarter of the bytes of a list of point objects
    const q = new URLSearchParams({
      target: target, metric: metric, from: alignedFrom(), to: to, format: "columns",
    });
    if (step) q.set("step", String(step));
    if (agg) q.set("agg", agg);
    return "/api/v1/metrics?" + q.toString();
  }

  async function points(metric, agg) {
    const answer = await ng.api("GET", metricsUrl(metric, agg));
    return answer.ts.map(function (ts, i) {
      return { t: ts / 1e9, v: answer.value[i], lo: answer.min[i], hi: answer.max[i] };
    });
  }

  function onZoom(source, min, max) {
    zoom = [min, max];
    if (resetButton) resetButton.hidden = false;
    if (zoomLink) {
      // the zoomed span as a custom range: the server picks a finer step for it
      const iso = function (s) { return new Date(Math.round(s) * 1000).toISOString().slice(0, 19); };
      zoomLink.href = location.pathname + "?" + new URLSearchParams({ from: iso(min), to: iso(max) });
      zoomLink.hidden = false;
    }
    handles.forEach(function (h) {
      h.spec.zoom = zoom;
      if (h.u && h.u !== source) h.u.setScale("x", { min: min, max: max });
    });
  }

  function resetZoom() {
    zoom = null;
    handles.forEach(function (h) {
      h.spec.zoom = [fromS, toS];
      if (h.u) h.u.setScale("x", { min: fromS, max: toS });
    });
    if (resetButton) resetButton.hidden = true;
    if (zoomLink) zoomLink.hidden = true;
  }

  function show(el, spec, done) {
    spec.sync = "detail-" + root.id; // cursors move together within one range only
    spec.onZoom = onZoom;
    spec.zoom = zoom || [fromS, toS];
    spec.spanGaps = !step;
    el.removeAttribute("aria-busy");
    if (!spec.xs.length) {
      if (done) empty(el);
      return;
    }
    let handle = el._ngChart;
    if (handle) {
      handle.spec = spec;
      handle.redraw();
    } else {
      handle = C.draw(el, spec);
      el._ngChart = handle;
      handles.push(handle);
    }
    if (done) el.dataset.points = String(spec.xs.length);
  }

  function retryWhenEmpty(el) {
    const tries = Number(el.dataset.emptyTries || "0");
    if (!live || tries >= EMPTY_RETRIES) return;
    el.dataset.emptyTries = String(tries + 1);
    setTimeout(function () {
      to = new Date().toISOString();
      toS = Date.parse(to) / 1000;
      load(el);
    }, EMPTY_RETRY_MS);
  }

  function empty(el) {
    const p = document.createElement("p");
    p.className = "chart-empty";
    p.textContent = "no data in this range";
    el.textContent = "";
    el.appendChild(p);
    el.dataset.points = "0";
    retryWhenEmpty(el);
  }

  function failed(el, error) {
    el.removeAttribute("aria-busy");
    const p = document.createElement("p");
    p.className = "chart-empty";
    p.textContent = "could not load: " + (error && error.message ? error.message : error);
    el.textContent = "";
    el.appendChild(p);
  }

  // -- lines (any metric family) and traffic (in solid, out dashed, one colour per interface)
  // -- traffic: one interface at a time (the chooser above the chart), in solid and out
  // dashed, in bits per second, each with its 95th percentile over the range
  function loadTraffic(el) {
    const chooser = document.getElementById(el.id + "-interface");
    const all = JSON.parse(el.dataset.series);
    const iface = chooser ? chooser.value : null;
    const series = all.filter(function (s) { return !iface || s.iface === iface; });
    const results = series.map(function () { return []; });
    let pending = series.length;
    function render() {
      const aligned = C.align(results);
      const lines = [];
      series.forEach(function (s, i) {
        const ys = aligned.column(i, function (p) { return p.v == null ? null : p.v * 8; });
        const out = s.direction === "out";
        lines.push({ label: s.direction, ys: ys, colour: out ? 1 : 0, dash: false });
        const p95 = C.p95(ys);
        if (p95 != null) {
          lines.push({
            label: "95th " + s.direction + " " + C.bits(p95), colour: out ? 1 : 0, dash: true,
            ys: aligned.xs.map(function () { return p95; }),
          });
          el.dataset["p95" + (out ? "Out" : "In")] = String(p95);
        }
      });
      show(el, { kind: "lines", unit: "bit/s", xs: aligned.xs, lines: lines }, pending === 0);
    }
    series.forEach(function (s, i) {
      points(s.metric).then(function (found) { results[i] = found; })
        .catch(function (error) { console.warn("netgauge: " + s.metric, error); })
        .finally(function () { pending -= 1; render(); });
    });
    if (chooser && !chooser.dataset.bound) {
      chooser.dataset.bound = "true";
      chooser.addEventListener("change", function () { delete el.dataset.points; loadTraffic(el); });
    }
  }

  function loadLines(el) {
    const series = JSON.parse(el.dataset.series);
    const kind = el.dataset.kind;
    const results = series.map(function () { return []; });
    let pending = series.length;
    const colours = {};
    function render() {
      const aligned = C.align(results);
      const single = series.length === 1 && step;
      const lines = series.map(function (s, i) {
        const line = { label: s.label, ys: aligned.column(i, function (p) { return p.v; }) };
        if (kind === "traffic") {
          const iface = s.label.replace(/ (in|out)$/, "");
          if (!(iface in colours)) colours[iface] = Object.keys(colours).length;
          line.colour = colours[iface];
          line.dash = / out$/.test(s.label);
        }
        if (single) {
          line.min = aligned.column(i, function (p) { return p.lo; });
          line.max = aligned.column(i, function (p) { return p.hi; });
        }
        return line;
      });
      show(el, { kind: "lines", unit: el.dataset.unit, xs: aligned.xs, lines: lines }, pending === 0);
    }
    series.forEach(function (s, i) {
      points(s.metric).then(function (found) {
        results[i] = found;
      }).catch(function (error) {
        console.warn("netgauge: " + s.metric, error);
      }).finally(function () {
        pending -= 1;
        render();
      });
    });
  }

  // -- status timeline: the share of up checks per step
  function loadStatus(el) {
    points("status", step ? "availability" : null).then(function (found) {
      const scale = step ? 1 : 100; // raw samples are 1/0
      show(el, {
        kind: "status", unit: "%", xs: found.map(function (p) { return p.t; }),
        lines: [{ label: "available", ys: found.map(function (p) { return p.v * scale; }) }],
      }, true);
    }).catch(function (error) { failed(el, error); });
  }

  // -- ICMP smoke: median line, min–max and min–p90 bands, dots coloured by loss
  function first(names, wanted) {
    for (const name of wanted) if (names.indexOf(name) >= 0) return name;
    return null;
  }

  function smokeFromRounds(el, names) {
    const q = new URLSearchParams({ target: target, kind: "icmp", from: from, to: to, limit: String(ROUNDS_LIMIT) });
    return ng.api("GET", "/api/v1/metrics/rounds?" + q.toString()).then(function (answer) {
      const rounds = answer.rounds;
      // a fast job fills the limit before the range ends: per-step summaries instead
      if (rounds.length >= ROUNDS_LIMIT) return smokeFromSteps(el, names);
      const pick = function (key) { return rounds.map(function (r) { const v = r.metrics[key]; return v == null ? null : v; }); };
      const median = first(names, ["rtt_median_ms", "rtt_p50_ms", "rtt_avg_ms"]);
      const inner = first(names, ["rtt_p90_ms", "rtt_p95_ms"]);
      const smoke = { median: pick(median), medianLabel: median, min: pick("rtt_min_ms"), max: pick("rtt_max_ms"), loss: pick("loss_pct") };
      if (inner) { smoke.innerHi = pick(inner); smoke.innerHiLabel = inner; }
      show(el, { kind: "smoke", unit: "ms", xs: rounds.map(function (r) { return r.ts / 1e9; }), smoke: smoke }, true);
    });
  }

  function smokeFromSteps(el, names, suffix) {
    suffix = suffix || ""; // one vantage point's series: {vantage="..."}
    const median = first(names, ["rtt_median_ms", "rtt_p50_ms", "rtt_avg_ms"]);
    const inner = first(names, ["rtt_p90_ms", "rtt_p95_ms"]);
    const wanted = [[median, "avg"], ["rtt_min_ms", "min"], ["rtt_max_ms", "max"], ["loss_pct", "avg"]];
    if (inner) wanted.push([inner, "avg"]);
    const results = wanted.map(function () { return []; });
    let pending = wanted.length;
    function render() {
      const aligned = C.align(results);
      const col = function (i) { return aligned.column(i, function (p) { return p.v; }); };
      const smoke = { median: col(0), medianLabel: median, min: col(1), max: col(2), loss: col(3) };
      if (inner) { smoke.innerHi = col(4); smoke.innerHiLabel = inner; }
      show(el, { kind: "smoke", unit: "ms", xs: aligned.xs, smoke: smoke }, pending === 0);
    }
    return Promise.all(wanted.map(function (w, i) {
      if (names.indexOf(w[0]) < 0) { pending -= 1; return null; }
      return points("icmp." + w[0] + suffix, w[1]).then(function (found) { results[i] = found; })
        .catch(function (error) { console.warn("netgauge: icmp." + w[0] + suffix, error); })
        .finally(function () { pending -= 1; render(); });
    }));
  }

  function loadSmoke(el) {
    // a collector's chart: its series carry {vantage="..."}; the rounds API mixes vantages
    const suffix = el.dataset.suffix || "";
    const names = JSON.parse(el.dataset.series).map(function (s) {
      const bare = s.metric.replace(/^icmp\./, "");
      return suffix && bare.endsWith(suffix) ? bare.slice(0, -suffix.length) : bare;
    });
    const load = useRounds && !suffix ? smokeFromRounds(el, names) : smokeFromSteps(el, names, suffix);
    load.catch(function (error) { failed(el, error); });
  }

  function load(el) {
    const kind = el.dataset.kind;
    if (kind === "status") loadStatus(el);
    else if (kind === "smoke") loadSmoke(el);
    else if (kind === "traffic") loadTraffic(el);
    else loadLines(el);
  }

  root.querySelectorAll(".chart").forEach(function (el) {
    el.setAttribute("aria-busy", "true");
    load(el);
  });

  // a target added a moment ago has no series yet, or only those of its quickest check:
  // the page looks for new series for two minutes and reloads when one comes, so every
  // check's charts appear by themselves (one first result after another)
  const known = Number(root.dataset.known || "0");
  if (live && single) {
    let tries = 0;
    const look = async function () {
      tries += 1;
      try {
        const series = await ng.api("GET", "/api/v1/metrics/series?target=" + encodeURIComponent(target));
        if (series.length > known) { location.reload(); return; }
      } catch (e) { /* the next look may do better */ }
      if (tries < EMPTY_RETRIES * 2) setTimeout(look, EMPTY_RETRY_MS);
    };
    setTimeout(look, EMPTY_RETRY_MS);
  }

  // the custom range is typed in the user's zone (its labels say which) and sent as instants
  const rangeForm = single ? document.querySelector("#range-picker form.custom-range") : null;
  if (rangeForm) {
    rangeForm.querySelectorAll("input[data-utc]").forEach(function (input) {
      input.value = ng.wallTime(new Date(input.dataset.utc));
    });
    rangeForm.addEventListener("submit", function (event) {
      event.preventDefault();
      const q = new URLSearchParams();
      ["from", "to"].forEach(function (name) {
        const input = rangeForm.elements[name];
        const at = input.value ? ng.fromWallTime(input.value, ng.zone()) : null;
        if (at) q.set(name, at.toISOString());
      });
      location.assign(location.pathname + "?" + q);
    });
  }

  if (resetButton) resetButton.addEventListener("click", resetZoom);
  document.addEventListener("ng:theme", function () {
    handles.forEach(function (h) { h.redraw(); });
  });
  if (window.ResizeObserver) {
    let queued = false;
    const observer = new ResizeObserver(function () {
      if (queued) return;
      queued = true;
      requestAnimationFrame(function () {
        queued = false;
        handles.forEach(function (h) { h.resize(); });
      });
    });
    observer.observe(root);
  }
  }
})();
