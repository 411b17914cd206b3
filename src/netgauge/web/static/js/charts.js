/* netgauge charts: thin helpers over uPlot (vendored, global `uPlot`).
 *
 * ngCharts.draw(el, spec) draws one chart into `el` and returns a handle {u, redraw(), destroy()}.
 * spec = {kind: "lines"|"traffic"|"smoke"|"status", unit, xs: [...s], lines: [{label, ys, min?, max?, dash?}],
 *         smoke: {median, min, max, innerHi?, loss}, zoom: [minS, maxS], sync: key, onZoom(u, min, max)}
 * Colours come from the CSS variables --chart-1.. and --smoke, so charts follow the theme:
 * callers redraw on the `ng:theme` event. */
(function () {
  "use strict";
  const charts = {};

  // SmokePing's loss scale, as the server defines it (status/measures.py LOSS_SCALE), from
  // the page's <html data-loss-scale>: [{below, label, colour}], the last band's `below` null
  let lossScale = null;
  function scale() {
    if (lossScale === null) {
      const found = window.ng ? ng.lossScale() : [];
      lossScale = found.length ? found : [{ below: null, colour: "#888" }];
    }
    return lossScale;
  }
  charts.lossColour = function (loss) {
    const bands = scale();
    if (loss == null || loss <= 0) return bands[0].colour;
    for (let i = 1; i < bands.length; i++) {
      if (bands[i].below === null || loss < bands[i].below) return bands[i].colour;
    }
    return bands[bands.length - 1].colour;
  };

  function cssVar(name, fallback) {
    const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }
  function palette() {
    const colours = [];
    for (let i = 1; i <= 8; i++) colours.push(cssVar("--chart-" + i, "#1f77b4"));
    return {
      colours: colours,
      smoke: cssVar("--smoke", "rgba(31,119,180,.18)"),
      text: cssVar("--muted", "#4f5b6a"),
      grid: cssVar("--border", "#d5dae1"),
      ok: cssVar("--ok", "#17803d"),
      bad: cssVar("--bad", "#c0262d"),
    };
  }
  function withAlpha(colour, alpha) {
    // "#rrggbb" → rgba(); other forms are returned unchanged (already translucent or named)
    const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour);
    if (!m) return colour;
    return "rgba(" + parseInt(m[1], 16) + "," + parseInt(m[2], 16) + "," + parseInt(m[3], 16) + "," + alpha + ")";
  }

  function fmtValue(unit) {
    return function (u, v) {
      if (v == null) return "—";
      if (unit === "B/s") return charts.bytes(v) + "/s";
      if (unit === "bit/s") return charts.bits(v);
      const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
      return v.toFixed(digits) + (unit ? " " + unit : "");
    };
  }
  // network speeds in bits per second with SI prefixes, as routers and ISPs bill them
  charts.bits = function (v) {
    const units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
    let i = 0;
    let x = Math.abs(v);
    while (x >= 1000 && i < units.length - 1) { x /= 1000; i++; }
    return (v < 0 ? "-" : "") + x.toFixed(x >= 100 || i === 0 ? 0 : 1) + " " + units[i];
  };
  charts.bytes = function (v) {
    const units = ["B", "kB", "MB", "GB", "TB"];
    let i = 0;
    let x = Math.abs(v);
    while (x >= 1000 && i < units.length - 1) { x /= 1000; i++; }
    return (v < 0 ? "-" : "") + x.toFixed(x >= 100 || i === 0 ? 0 : 1) + " " + units[i];
  };

  function axes(pal, unit) {
    const wide = unit === "bit/s" || unit === "B/s"; // "800 kbit/s" needs the room
    const yAxis = { stroke: pal.text, grid: { stroke: pal.grid, width: 1 }, ticks: { stroke: pal.grid }, size: wide ? 86 : 64 };
    if (unit === "B/s") yAxis.values = function (u, vals) { return vals.map(function (v) { return charts.bytes(v); }); };
    else if (unit === "bit/s") yAxis.values = function (u, vals) { return vals.map(function (v) { return charts.bits(v); }); };
    else if (unit) yAxis.values = function (u, vals) { return vals.map(function (v) { return v + " " + unit; }); };
    return [{ stroke: pal.text, grid: { stroke: pal.grid, width: 1 }, ticks: { stroke: pal.grid } }, yAxis];
  }

  // the 95th percentile of the values (nearest rank, as transit is billed: sort the
  // samples, drop the top 5 %, the highest left: status/measures.py billing_p95, the same
  // arithmetic); null without values
  charts.p95 = function (ys) {
    const sorted = ys.filter(function (v) { return v != null; }).sort(function (a, b) { return a - b; });
    if (!sorted.length) return null;
    return sorted[Math.max(0, Math.ceil(0.95 * sorted.length) - 1)];
  };

  // a value with no neighbour draws no line: uPlot is told to mark those as points (a
  // series of one sample, a sample between gaps), and only those
  function isolated(u, seriesIdx) {
    const ys = u.data[seriesIdx];
    const found = [];
    if (u.series[seriesIdx].spanGaps) { // gaps are bridged: alone only when it is the only one
      for (let i = 0; i < ys.length && found.length < 2; i++) if (ys[i] != null) found.push(i);
      return found.length === 1 ? found : []; // (null would mean "all of them" to uPlot)
    }
    for (let i = 0; i < ys.length; i++) {
      if (ys[i] == null) continue;
      const before = i > 0 && ys[i - 1] != null;
      const after = i < ys.length - 1 && ys[i + 1] != null;
      if (!before && !after) found.push(i);
    }
    return found;
  }

  // the series and bands of each kind of chart; data[0] is x (seconds)
  function linesLayout(spec, pal) {
    const series = [{}];
    const data = [spec.xs];
    const bands = [];
    const single = spec.lines.length === 1 && spec.lines[0].min && spec.lines[0].max;
    spec.lines.forEach(function (line, i) {
      const colour = pal.colours[(line.colour == null ? i : line.colour) % pal.colours.length];
      series.push({
        label: line.label, stroke: colour, width: 1.5, spanGaps: spec.spanGaps,
        dash: line.dash ? [6, 4] : undefined, value: fmtValue(spec.unit),
        points: { show: true, size: 6, fill: colour, filter: isolated },
      });
      data.push(line.ys);
    });
    if (single) {
      // the spread of each step (min–max) around its average
      const colour = pal.colours[0];
      series.push({ label: "max", stroke: withAlpha(colour, 0.35), width: 0.5, value: fmtValue(spec.unit), points: { show: false } });
      series.push({ label: "min", stroke: withAlpha(colour, 0.35), width: 0.5, value: fmtValue(spec.unit), points: { show: false } });
      data.push(spec.lines[0].max, spec.lines[0].min);
      bands.push({ series: [2, 3], fill: withAlpha(colour, 0.15) });
    }
    return { series: series, data: data, bands: bands };
  }

  function smokeLayout(spec, pal) {
    const s = spec.smoke;
    const colour = pal.colours[0];
    const series = [{}, { label: s.medianLabel || "median", stroke: colour, width: 1.5, spanGaps: false, value: fmtValue("ms"), points: { show: false } }];
    const data = [spec.xs, s.median];
    const bands = [];
    series.push({ label: "max", stroke: "transparent", value: fmtValue("ms"), points: { show: false } });
    series.push({ label: "min", stroke: "transparent", value: fmtValue("ms"), points: { show: false } });
    data.push(s.max, s.min);
    bands.push({ series: [2, 3], fill: pal.smoke });
    if (s.innerHi) {
      // an inner band from the minimum up to a high percentile: where most replies fell
      series.push({ label: s.innerHiLabel || "p90", stroke: "transparent", value: fmtValue("ms"), points: { show: false } });
      data.push(s.innerHi);
      bands.push({ series: [4, 3], fill: pal.smoke });
    }
    series.push({ label: "loss", scale: "loss", stroke: "transparent", value: function (u, v) { return v == null ? "—" : v.toFixed(1) + " %"; }, points: { show: false } });
    data.push(s.loss);
    return { series: series, data: data, bands: bands };
  }

  // the share of up checks per step in green, the rest of the step up to 100 % in red: a
  // step that was all down is a red block, not a green line at 0 %; no data stays blank
  function statusLayout(spec, pal) {
    const line = spec.lines[0];
    const top = line.ys.map(function (v) { return v == null ? null : 100; });
    const stepped = uPlot.paths.stepped({ align: 1 });
    return {
      series: [{}, {
        label: "available", stroke: pal.ok, fill: withAlpha(pal.ok, 0.25), width: 1,
        paths: stepped, value: fmtValue("%"), points: { show: false },
      }, {
        label: "down", stroke: "transparent", width: 0, paths: stepped, points: { show: false },
        value: function (u, v, si, i) {
          const up = i == null ? null : u.data[1][i];
          return up == null ? "—" : (100 - up).toFixed(up > 99 ? 2 : 1) + " %";
        },
      }],
      data: [spec.xs, line.ys, top],
      bands: [{ series: [2, 1], fill: withAlpha(pal.bad, 0.55) }],
    };
  }

  // loss-coloured dots on the median line (SmokePing-like); rounds with no reply at the bottom
  function drawLossDots(u, spec) {
    const s = spec.smoke;
    const ctx = u.ctx;
    const r = Math.max(1.5, Math.min(3, u.bbox.width / spec.xs.length / 2.5));
    const bottom = u.bbox.top + u.bbox.height - r;
    ctx.save();
    for (let i = 0; i < spec.xs.length; i++) {
      const loss = s.loss[i];
      const v = s.median[i];
      if (v == null && !(loss > 0)) continue;
      const x = u.valToPos(spec.xs[i], "x", true);
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      const y = v == null ? bottom : u.valToPos(v, "y", true);
      ctx.fillStyle = charts.lossColour(loss);
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.restore();
  }

  charts.draw = function (el, spec) {
    const handle = { spec: spec, u: null };
    handle.redraw = function () {
      const spec = handle.spec; // the newest data (a chart is drawn again as series arrive)
      if (handle.u) handle.u.destroy();
      el.textContent = "";
      const pal = palette();
      const layout = spec.kind === "smoke" ? smokeLayout(spec, pal)
        : spec.kind === "status" ? statusLayout(spec, pal) : linesLayout(spec, pal);
      const scales = { x: { time: true } };
      if (spec.kind === "status" || spec.unit === "%") scales.y = { range: [0, 100] };
      if (spec.kind === "smoke") {
        scales.y = { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } };
        scales.loss = { range: [0, 100] };
      }
      const opts = {
        width: Math.max(240, el.clientWidth),
        height: spec.kind === "status" ? 120 : 240,
        series: layout.series,
        bands: layout.bands,
        scales: scales,
        axes: axes(pal, spec.kind === "status" ? "%" : spec.unit),
        legend: { live: true },
        // the axis in the user's zone, as every other time on the page (common.js)
        tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), window.ng ? ng.zone() : "UTC"); },
        cursor: { drag: { x: true, y: false, setScale: true }, sync: { key: spec.sync } },
        hooks: {
          setSelect: [function (u) {
            // a drag across x: the page zooms every chart to it (uPlot zooms this one itself)
            if (u.select.width > 0 && spec.onZoom) {
              const min = u.posToVal(u.select.left, "x");
              const max = u.posToVal(u.select.left + u.select.width, "x");
              spec.onZoom(u, min, max);
            }
          }],
          draw: spec.kind === "smoke" ? [function (u) { drawLossDots(u, spec); }] : [],
        },
      };
      handle.u = new uPlot(opts, layout.data, el);
      if (spec.zoom) handle.u.setScale("x", { min: spec.zoom[0], max: spec.zoom[1] });
    };
    handle.resize = function () {
      if (handle.u) handle.u.setSize({ width: Math.max(240, el.clientWidth), height: handle.u.height });
    };
    handle.destroy = function () { if (handle.u) handle.u.destroy(); handle.u = null; };
    handle.redraw();
    return handle;
  };

  // several series (each [{t, ...}] sorted, t in seconds) on one x axis: the union of their
  // times, and column(i, pick) → list i's values at each x (null where it has none)
  charts.align = function (lists) {
    const index = new Map();
    const xs = [];
    lists.forEach(function (list) {
      list.forEach(function (p) { if (!index.has(p.t)) { index.set(p.t, 0); xs.push(p.t); } });
    });
    xs.sort(function (a, b) { return a - b; });
    xs.forEach(function (t, i) { index.set(t, i); });
    return {
      xs: xs,
      column: function (i, pick) {
        const col = new Array(xs.length).fill(null);
        lists[i].forEach(function (p) { col[index.get(p.t)] = pick(p); });
        return col;
      },
    };
  };

  window.ngCharts = charts;
})();
